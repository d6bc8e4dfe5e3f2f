"""What the Parzen estimate gives images that no generator made: real images, and averages of real neighbours.

  python -m experiments.parzen_references --dataset idx:/path/to/mnist [--neighbours 0,1,3,7]

Centres: the first 10,000 training images, each averaged with its k nearest
images (squared L2) among the next 20,000 (``measures.neighbour_averages``;
k = 0: the images themselves, what ``experiments.evaluate --real_centres``
scores). Then the paper's protocol (σ on 1,000 validation images, mean ± s.e.
on the test set), one row per k. It shows how much the estimator rewards
smooth, averaged images; read Table 1 numbers with it. Bad flags stop it
before any work with one line and exit status 2.
"""

import jax
import numpy as np
from absl import app, flags

from experiments import cli
from gan_jax.data import datasets
from gan_jax.evaluation import measures

_DATASET = flags.DEFINE_string('dataset', None, 'An image dataset (config.dataset syntax), e.g. idx:/path/to/mnist.')
_NEIGHBOURS = flags.DEFINE_list('neighbours', ['0', '1', '3', '7'], 'Values of k, comma-separated.')
NUM_CENTRES, POOL_SIZE, NUM_VALIDATION = 10_000, 20_000, 1000


def main(argv):
  cli.start(argv)
  if not _DATASET.value:
    cli.fail('--dataset is required, e.g. --dataset=idx:/path/to/mnist')
  if not all(k.isdigit() for k in _NEIGHBOURS.value):
    cli.fail(f'--neighbours={",".join(_NEIGHBOURS.value)} must be non-negative integers, e.g. 0,1,3,7')
  try:
    dataset = datasets.load(_DATASET.value, jax.random.key(0))
  except cli.BAD_INPUT as error:
    cli.fail(str(error))
  if not dataset.is_image or dataset.train.shape[0] < NUM_CENTRES + POOL_SIZE:
    cli.fail(f'--dataset={_DATASET.value} must be images with at least {NUM_CENTRES + POOL_SIZE:,} training examples')
  as_float = lambda x: np.asarray(datasets.to_float(x))
  centres, pool = as_float(dataset.train[:NUM_CENTRES]), as_float(dataset.train[NUM_CENTRES:NUM_CENTRES + POOL_SIZE])
  validation, test = as_float(dataset.validation[:NUM_VALIDATION]), as_float(dataset.test)
  print(f'{"k":>3}  {"test Parzen":>12}  {"s.e.":>5}  {"σ":>6}')
  for k in map(int, _NEIGHBOURS.value):
    result = measures.parzen_evaluation(measures.neighbour_averages(centres, pool, k), validation, test)
    print(f'{k:>3}  {result["parzen_ll"]:>12.1f}  {result["parzen_se"]:>5.1f}  {result["parzen_sigma"]:>6.3f}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
