"""Train a GAN from a config file, resuming from the latest checkpoint in --workdir.

  python -m experiments.train --config gan_jax/configs/<preset>.py --workdir DIR \
      [--config.FIELD=VALUE ...]

Bad input (an unknown flag or config field, a value that is not allowed, a
dataset that cannot be read, a checkpoint of another run) stops the run
before any compute with one line naming what is wrong, and exit status 2. A
loss that stops being finite stops it with exit status 1; the last checkpoint
stays the last good one.
"""

import re
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from gan_jax import checkpoint, data, experiment

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Path to a preset in gan_jax/configs/.',
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, logs and sample pictures.')
flags.mark_flags_as_required(['config', 'workdir'])

BAD_INPUT = (experiment.ConfigError, data.DataError, checkpoint.CheckpointError)


def _fail(message: str, status: int = 2):
  print(f'error: {message}', file=sys.stderr)
  sys.exit(status)


def parse_flags(argv: list[str]) -> list[str]:
  """absl's parsing, but a bad flag is one line and exit status 2 (absl's own: usage text, 1)."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as error:
    _fail(str(error).splitlines()[0])
  except (AttributeError, KeyError) as error:  # --config.FIELD=… for a field the config lacks
    detail = str(error.args[0]) if error.args else str(error)
    suggestion = re.search(r'Did you mean "(\w+)" instead of "(\w+)"', detail)
    if suggestion:
      _fail(f'--config.{suggestion[2]} is not a config field; did you mean --config.{suggestion[1]}?')
    name = re.search(r'\w+', detail)
    _fail(f'--config.{name[0] if name else detail} is not a config field; see gan_jax/configs/base.py')


def _load_config():
  """The parsed --config; a file that does not exist or does not load is bad input."""
  try:
    config = _CONFIG.value
    config.keys()  # config_flags reports a failed load only when the config is first used
    return config
  except OSError as error:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    _fail(f'--config could not be loaded: {lines[-1] if lines else error}')


def main(argv):
  if len(argv) > 1:
    _fail(f'unexpected arguments {argv[1:]}; pass settings as --config.FIELD=VALUE')
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
  config = _load_config()
  try:
    summary = experiment.run(config, _WORKDIR.value)
  except BAD_INPUT as error:
    _fail(str(error))
  except experiment.TrainingDiverged as error:
    _fail(str(error), status=1)
  print('summary: ' + '  '.join(f'{k}={v}' if isinstance(v, int) else f'{k}={v:.4g}'
                                for k, v in summary.items()))


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
