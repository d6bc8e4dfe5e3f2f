"""Train the MNIST classifier used by the classifier-based metrics of experiments.evaluate.

  python -m experiments.train_classifier --config gan_jax/configs/mnist_classifier.py --workdir DIR
"""

import json
import pathlib
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from gan_jax import classifier, data

_CONFIG = config_flags.DEFINE_config_file('config', None, 'gan_jax/configs/mnist_classifier.py', lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Where the classifier checkpoint goes.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    print(f'error: unexpected arguments {argv[1:]}', file=sys.stderr)
    sys.exit(2)
  logging.set_verbosity(logging.WARNING)
  try:
    result = classifier.train_classifier(_CONFIG.value, _WORKDIR.value, print_fn=lambda line: print(line, flush=True))
  except (ValueError, data.DataError) as error:
    print(f'error: {error}', file=sys.stderr)
    sys.exit(2)
  (pathlib.Path(_WORKDIR.value) / 'classifier.json').write_text(
      json.dumps({**_CONFIG.value.to_dict(), **result}, indent=2, default=list) + '\n')


if __name__ == '__main__':
  app.run(main)
