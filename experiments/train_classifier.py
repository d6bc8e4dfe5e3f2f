"""Train the MNIST classifier used by the classifier-based metrics of experiments.evaluate.

  python -m experiments.train_classifier --config gan_jax/configs/mnist_classifier.py --workdir DIR

A config file that does not load, a --workdir that cannot be written or a
dataset that cannot be read stops it before training with one line and exit
status 2.
"""

import json

from absl import app, flags

from experiments import cli
from gan_jax.data import datasets
from gan_jax.evaluation import classifier
from gan_jax.training import files, rundir

_CONFIG = cli.define_config_file('config', 'gan_jax/configs/mnist_classifier.py')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Where the classifier checkpoint goes.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  cli.start(argv)
  directory = cli.check_output_dir('workdir', _WORKDIR.value)
  try:
    spec = classifier.ClassifierSpec(**{**_CONFIG.value.to_dict(), 'hidden_dims': tuple(_CONFIG.value.hidden_dims)})
    result = classifier.train_classifier(spec, directory, print_fn=lambda line: print(line, flush=True))
  except (ValueError, datasets.DataError) as error:
    cli.fail(str(error))
  files.write_text_atomically(directory / rundir.CLASSIFIER_CONFIG,
                              json.dumps({**_CONFIG.value.to_dict(), **result}, indent=2, default=list) + '\n')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
