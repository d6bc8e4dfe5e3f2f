"""Train a GAN from a config file, resuming from the latest checkpoint in --workdir.

  python -m experiments.train --config gan_jax/configs/<preset>.py --workdir DIR \
      [--config.FIELD=VALUE ...]

Bad input (a config value, a dataset that cannot be read, a checkpoint of
another model) stops the run before any compute with one line naming what is
wrong and exit status 2. A loss that stops being finite stops it with exit
status 1; the last checkpoint stays the last good one.
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from gan_jax import checkpoint, data, experiment

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Path to a preset in gan_jax/configs/.',
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, logs and sample pictures.')
flags.mark_flags_as_required(['config', 'workdir'])

BAD_INPUT = (experiment.ConfigError, data.DataError, checkpoint.CheckpointError)


def main(argv):
  if len(argv) > 1:
    print(f'error: unexpected arguments {argv[1:]}; pass settings as --config.FIELD=VALUE', file=sys.stderr)
    sys.exit(2)
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
  try:
    summary = experiment.run(_CONFIG.value, _WORKDIR.value)
  except BAD_INPUT as error:
    print(f'error: {error}', file=sys.stderr)
    sys.exit(2)
  except experiment.TrainingDiverged as error:
    print(f'error: {error}', file=sys.stderr)
    sys.exit(1)
  print('summary: ' + '  '.join(f'{k}={v:.4g}' for k, v in summary.items()))


if __name__ == '__main__':
  app.run(main)
