"""Train the MNIST classifier used by the classifier-based metrics of experiments.evaluate.

  python -m experiments.train_classifier --config gan_jax/configs/mnist_classifier.py --workdir DIR
"""

import json
import pathlib

from absl import app, flags
from ml_collections import config_flags

from experiments import cli
from gan_jax import classifier, data

_CONFIG = config_flags.DEFINE_config_file('config', None, 'gan_jax/configs/mnist_classifier.py', lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Where the classifier checkpoint goes.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  cli.start(argv)
  try:
    result = classifier.train_classifier(_CONFIG.value, _WORKDIR.value, print_fn=lambda line: print(line, flush=True))
  except (ValueError, data.DataError) as error:
    cli.fail(str(error))
  (pathlib.Path(_WORKDIR.value) / 'classifier.json').write_text(
      json.dumps({**_CONFIG.value.to_dict(), **result}, indent=2, default=list) + '\n')


if __name__ == '__main__':
  app.run(main)
