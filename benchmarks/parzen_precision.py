"""How rounding a matrix product's factors moves the Parzen estimate: why evaluation asks for float32 products.

  python -m benchmarks.parzen_precision --mnist DIR      # DIR: MNIST in IDX format (the four files)

The Parzen squared distances ‖x‖² + ‖c‖² − 2 x·c cancel, so the precision of
x·c matters. Accelerators round float32 factors by default (TF32 on recent
NVIDIA GPUs, one bfloat16 pass on TPUs). This script emulates that rounding
on the CPU (each factor's mantissa rounded to nearest even, 10 bits for
TF32, 7 for bfloat16) and compares the mean log-likelihood of ``--num_test``
test images under the Parzen window of ``--num_centres`` training images
(bandwidth ``--sigma``) with the same estimate from unrounded factors, all
else in float64. Prints one table row per rounding: the estimate and its
difference to the reference (mean, median and largest per-image difference).
"""

import math

import numpy as np
from absl import app, flags

from experiments import cli
from gan_jax.data import idx

_MNIST = flags.DEFINE_string('mnist', None, 'A directory with MNIST in IDX format.')
_NUM_TEST = flags.DEFINE_integer('num_test', 1000, 'Test images scored.')
_NUM_CENTRES = flags.DEFINE_integer('num_centres', 10_000, 'Training images as the Parzen centres.')
_SIGMA = flags.DEFINE_float('sigma', 0.167, "Bandwidth (the faithful runs' validation choice).")
flags.mark_flags_as_required(['mnist'])

MANTISSA_BITS = {'float32 (reference)': 23, 'TF32 factors': 10, 'bfloat16 factors': 7}


def round_mantissa(values: np.ndarray, bits: int) -> np.ndarray:
  """float32 ``values`` with their 23-bit mantissa rounded to ``bits`` bits, to nearest, ties to even."""
  dropped = 23 - bits
  if dropped == 0:
    return np.asarray(values, np.float32)
  raw = np.asarray(values, np.float32).view(np.uint32).astype(np.uint64)
  half_minus_one = (1 << (dropped - 1)) - 1
  rounded = (raw + half_minus_one + ((raw >> dropped) & 1)) & ~np.uint64((1 << dropped) - 1)
  return rounded.astype(np.uint32).view(np.float32)


def parzen_log_likelihoods(x: np.ndarray, centres: np.ndarray, sigma: float, bits: int) -> np.ndarray:
  """log p̂(x) [n] in float64, x·c from factors rounded to ``bits`` mantissa bits, the norms exact."""
  products = round_mantissa(x, bits).astype(np.float64) @ round_mantissa(centres, bits).astype(np.float64).T
  squared = np.maximum((x.astype(np.float64) ** 2).sum(1)[:, None] + (centres.astype(np.float64) ** 2).sum(1)[None]
                       - 2.0 * products, 0.0)
  exponents = -squared / (2.0 * sigma ** 2)
  peak = exponents.max(axis=1, keepdims=True)
  log_mean = peak[:, 0] + np.log(np.exp(exponents - peak).sum(axis=1)) - math.log(len(centres))
  return log_mean - x.shape[1] * math.log(sigma * math.sqrt(2.0 * math.pi))


def main(argv):
  del argv
  try:
    splits = idx.read_directory(_MNIST.value)
  except idx.DataError as error:
    cli.fail(f'--mnist={_MNIST.value}: {error}')
  as_vectors = lambda images: images.reshape(len(images), -1).astype(np.float32) / 255.0
  x = as_vectors(splits['test'].examples[:_NUM_TEST.value])
  centres = as_vectors(splits['train'].examples[:_NUM_CENTRES.value])
  results = {name: parzen_log_likelihoods(x, centres, _SIGMA.value, bits) for name, bits in MANTISSA_BITS.items()}
  reference = results['float32 (reference)']
  print(f'{len(x)} test images, {len(centres)} training images as centres, σ {_SIGMA.value}')
  print('| factors | mean log-likelihood (nats) | mean − reference | median absolute difference | largest |')
  print('|---|---|---|---|---|')
  for name, values in results.items():
    difference = values - reference
    print(f'| {name} | {values.mean():.2f} | {difference.mean():+.2f} | {np.median(abs(difference)):.2f} | '
          f'{abs(difference).max():.2f} |')


if __name__ == '__main__':
  app.run(main)
