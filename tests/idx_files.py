"""Writes small MNIST-format IDX files for tests."""

import gzip
import pathlib

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
  """IDX encoding of a uint8 array: 0, 0, type 0x08, ndim, big-endian sizes, data."""
  header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, '>u4').tobytes()
  return header + np.ascontiguousarray(array, np.uint8).tobytes()


def write_mnist_idx(directory: pathlib.Path, num_train: int = 120, num_test: int = 20, seed: int = 0,
                    compress: bool = True) -> dict[str, np.ndarray]:
  """The four MNIST IDX files of random 28×28 images; returns the arrays written."""
  rng = np.random.default_rng(seed)
  arrays = {
      'train-images-idx3-ubyte': rng.integers(0, 256, (num_train, 28, 28), dtype=np.uint8),
      'train-labels-idx1-ubyte': rng.integers(0, 10, (num_train,), dtype=np.uint8),
      't10k-images-idx3-ubyte': rng.integers(0, 256, (num_test, 28, 28), dtype=np.uint8),
      't10k-labels-idx1-ubyte': rng.integers(0, 10, (num_test,), dtype=np.uint8)}
  directory.mkdir(parents=True, exist_ok=True)
  for name, array in arrays.items():
    if compress:
      (directory / f'{name}.gz').write_bytes(gzip.compress(idx_bytes(array)))
    else:
      (directory / name).write_bytes(idx_bytes(array))
  return arrays
