"""MNIST's IDX files: the format, and a directory of the four files as a source (``idx:DIR``)."""

import gzip
import math
import pathlib
import zlib

import numpy as np

from gan_jax.data.examples import DEFAULT_VALIDATION_FRACTION, DataError, Split, stack_images

IDX_FILES = {
    'train_images': 'train-images-idx3-ubyte', 'train_labels': 'train-labels-idx1-ubyte',
    'test_images': 't10k-images-idx3-ubyte', 'test_labels': 't10k-labels-idx1-ubyte'}


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype('>i2'), 0x0C: np.dtype('>i4'),
               0x0D: np.dtype('>f4'), 0x0E: np.dtype('>f8')}


def read_idx(path: str | pathlib.Path) -> np.ndarray:
  """Reads one IDX file (raw, or gzip if its name ends in .gz) into an array.

  Format: two zero bytes, a type code, the number of dimensions d, then d
  big-endian uint32 sizes and the data in C order. Raises DataError naming
  the file if it is unreadable, truncated or not IDX.
  """
  path = pathlib.Path(path)
  try:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == '.gz' else path.read_bytes()
  except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as error:
    raise DataError(f'cannot read IDX file {path}: {error}') from None
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
    raise DataError(f'{path} is not an IDX file (bad magic number {raw[:4].hex() or "<empty>"})')
  dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
  header = 4 + 4 * ndim
  if len(raw) < header:
    raise DataError(f'{path} is truncated: its header needs {header} bytes, the file has {len(raw)}')
  shape = tuple(int(s) for s in np.frombuffer(raw, '>u4', count=ndim, offset=4))
  expected = header + math.prod(shape) * dtype.itemsize
  if len(raw) != expected:
    raise DataError(f'{path} has {len(raw)} bytes; its header {shape} says {expected}')
  return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder('='))


def _find_idx_file(directory: pathlib.Path, stem: str) -> pathlib.Path:
  """The file for ``stem`` in ``directory``: raw or .gz, '-idx' or '.idx' spelling."""
  for name in (stem, stem.replace('-idx', '.idx')):
    for candidate in (directory / name, directory / f'{name}.gz'):
      if candidate.is_file():
        return candidate
  raise DataError(f"dataset='idx:{directory}': missing {stem}[.gz] in {directory}; the directory "
                  f"must hold the four MNIST IDX files {sorted(IDX_FILES.values())}")


def read_directory(directory: str | pathlib.Path, image_size: int = 0) -> dict[str, Split]:
  """MNIST-format IDX files in ``directory``: the paper's split (the last 1/6 of train is validation)."""
  directory = pathlib.Path(directory).expanduser()
  if not directory.is_dir():
    raise DataError(f"dataset='idx:{directory}': {directory} is not a directory")
  arrays = {key: read_idx(_find_idx_file(directory, stem)) for key, stem in IDX_FILES.items()}
  for split in ('train', 'test'):
    images, labels = arrays[f'{split}_images'], arrays[f'{split}_labels']
    if images.ndim != 3 or images.dtype != np.uint8 or labels.shape != images.shape[:1]:
      raise DataError(f"dataset='idx:{directory}': {split} images {images.shape} {images.dtype} and labels "
                      f'{labels.shape} are not MNIST-format (uint8 [n, rows, cols] and [n])')
  describe = f"dataset='idx:{directory}'"
  train, test = arrays['train_images'][..., None], arrays['test_images'][..., None]
  if image_size:
    train, test = (stack_images(list(images), image_size, describe) for images in (train, test))
  num_train = train.shape[0] - round(train.shape[0] * DEFAULT_VALIDATION_FRACTION)
  labels = lambda values: np.asarray(values, np.int32)
  return {'train': Split(train[:num_train], labels(arrays['train_labels'][:num_train])),
          'validation': Split(train[num_train:], labels(arrays['train_labels'][num_train:])),
          'test': Split(test, labels(arrays['test_labels']))}
