"""Train a GAN from a config file.

  python -m experiments.train --config gan_jax/configs/gauss1d.py --workdir runs/gauss1d \
      [--config.FIELD=VALUE ...]

A config that fails validation stops before any compute with one line naming
the field and the allowed values, and exit status 2.
"""

import sys

from absl import app, flags
from ml_collections import config_flags

from gan_jax import experiment

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Path to a preset in gan_jax/configs/.',
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for metrics.jsonl and summary.json.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  try:
    experiment.validate(_CONFIG.value)
  except experiment.ConfigError as error:
    print(f'error: {error}', file=sys.stderr)
    sys.exit(2)
  summary = experiment.run(_CONFIG.value, _WORKDIR.value)
  print('summary: ' + ', '.join(f'{k}={v:.4g}' for k, v in summary.items()))


if __name__ == '__main__':
  app.run(main)
