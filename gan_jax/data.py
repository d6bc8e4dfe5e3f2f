"""Data p_data: where the examples come from, and how minibatches are drawn on device.

A config's ``dataset`` names one of three kinds of source:

* a TFDS dataset, ``mnist``, ``fashion_mnist`` or ``cifar10``, read with
  ``tfds.data_source`` (no TensorFlow needed to read a prepared dataset;
  preparing/downloading one needs the ``download`` extra, see the README);
* ``idx:DIR``, a directory holding the four MNIST IDX files
  (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each raw or ``.gz``),
  for machines without network;
* a toy density needing no download: ``gauss1d`` (N(3, 0.5²)), ``toy_ring``
  (8 Gaussians of std 0.01 on the unit circle) or ``toy_grid`` (25 Gaussians
  of std 0.05 at {−4, −2, 0, 2, 4}²), the PacGAN/VEEGAN settings. Its
  "training set" is 100,000 samples drawn once from the run's seed.

Images keep their uint8 pixels (value/255 ∈ [0, 1], as the paper scaled MNIST)
and are flattened to vectors ``[n, H·W·C]``; conversion to float happens on
device, inside the step. The paper's split: the first 5/6 of the official
training set for training (MNIST train[0:50000]), the last 1/6 for validation
(train[50000:60000]) and the official test set for testing; CIFAR-10, as the
original code, train[0:40000] and train[40000:50000].

Shards and minibatches. A run on D devices cuts the training set of n
examples into D contiguous shards of n div D examples (the last n mod D are
not used) and device d holds shard d (``Shards``); a process keeps only the
shards of its own devices (from TFDS it reads no other records; IDX files
are read whole, then cut). Each minibatch of m takes m/D examples from every
shard. Epoch e visits shard d in the order
``permutation(fold_in(fold_in(data_key, d), e), n div D)``, in consecutive
runs of m/D without replacement; so an epoch has B = (n div D) div (m/D)
minibatches, and minibatch b (counting from the start of the run) is
minibatch b mod B of epoch b div B. Iteration t of Algorithm 1 uses
minibatches t·k … t·k + k − 1. The data order is thus a pure function of
(data_key, t, D): a resumed run on as many devices sees exactly the
minibatches it would have seen, and it does not matter how the D devices are
spread over processes.
"""

import dataclasses
import gzip
import math
import pathlib
import zlib
from collections.abc import Callable

from absl import logging as absl_logging
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import parallel

TFDS_DATASETS = ('mnist', 'fashion_mnist', 'cifar10')
TOY_DATASETS = ('gauss1d', 'toy_ring', 'toy_grid')
IDX_PREFIX = 'idx:'
TOY_TRAIN_SIZE = 100_000
VALIDATION_FRACTION = {'mnist': 1 / 6, 'fashion_mnist': 1 / 6, 'cifar10': 1 / 5, 'idx': 1 / 6}
IDX_FILES = {
    'train_images': 'train-images-idx3-ubyte', 'train_labels': 'train-labels-idx1-ubyte',
    'test_images': 't10k-images-idx3-ubyte', 'test_labels': 't10k-labels-idx1-ubyte'}

GAUSS1D_MEAN, GAUSS1D_STD = 3.0, 0.5
RING_RADIUS, RING_STD, RING_MODES = 1.0, 0.01, 8
GRID_STD = 0.05


class DataError(ValueError):
  """A dataset cannot be read; the message names the dataset and what to do."""


@dataclasses.dataclass(frozen=True)
class Shards:
  """The contiguous shards of the training set that one process holds, one per local device.

  Attributes:
    first: the global index of the process's first shard (its first device's
      index in ``jax.devices()``).
    count: how many shards it holds (its local device count).
    total: how many shards there are (the global device count).
  """
  first: int = 0
  count: int = 1
  total: int = 1

  def example_range(self, num_examples: int) -> tuple[int, int]:
    """[start, stop) of this process's examples among ``num_examples``."""
    size = num_examples // self.total
    return self.first * size, (self.first + self.count) * size


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Examples as flat vectors.

  Attributes:
    name: the config's ``dataset`` string.
    train, validation, test: [n, dim] arrays: uint8 pixels for images (value
      255 means 1.0), float32 coordinates for toy data. ``validation`` and
      ``test`` are empty for toy data.
    example_shape: the shape of one example before flattening, (H, W, C) for
      images, (dim,) for toy data.
    train_labels, validation_labels, test_labels: int32 [n] class labels of
      the three splits (empty for toy data); only the classifier uses them.
  """
  name: str
  train: np.ndarray
  validation: np.ndarray
  test: np.ndarray
  example_shape: tuple[int, ...]
  train_labels: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int32))
  validation_labels: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int32))
  test_labels: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int32))

  @property
  def is_image(self) -> bool:
    return len(self.example_shape) == 3

  @property
  def dim(self) -> int:
    return math.prod(self.example_shape)


def to_float(x: jax.Array) -> jax.Array:
  """Examples as float32: uint8 pixels scaled to [0, 1], floats unchanged."""
  return x.astype(jnp.float32) / 255.0 if x.dtype == jnp.uint8 else x.astype(jnp.float32)


# ---------------------------------------------------------------- toy densities

def ring_modes(num_modes: int = RING_MODES, radius: float = RING_RADIUS) -> np.ndarray:
  """Mode centres [num_modes, 2] evenly spaced on a circle."""
  angles = 2 * np.pi * np.arange(num_modes) / num_modes
  return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)


def grid_modes() -> np.ndarray:
  """Mode centres [25, 2] at {−4, −2, 0, 2, 4}²."""
  axis = np.array([-4.0, -2.0, 0.0, 2.0, 4.0], np.float32)
  return np.stack(np.meshgrid(axis, axis, indexing='ij'), axis=-1).reshape(-1, 2)


def _sample_mixture(key: jax.Array, num_samples: int, modes: np.ndarray, std: float) -> jax.Array:
  """Equal-weight mixture of N(modes[j], std² I): [num_samples, dim]."""
  mode_key, noise_key = jax.random.split(key)
  which = jax.random.randint(mode_key, (num_samples,), 0, modes.shape[0])
  return jnp.asarray(modes)[which] + std * jax.random.normal(noise_key, (num_samples, modes.shape[1]))


def sample_toy(name: str, key: jax.Array, num_samples: int) -> jax.Array:
  """``num_samples`` draws [num_samples, dim] float32 from the toy density ``name``."""
  if name == 'gauss1d':
    return GAUSS1D_MEAN + GAUSS1D_STD * jax.random.normal(key, (num_samples, 1))
  if name == 'toy_ring':
    return _sample_mixture(key, num_samples, ring_modes(), RING_STD)
  if name == 'toy_grid':
    return _sample_mixture(key, num_samples, grid_modes(), GRID_STD)
  raise DataError(f'dataset={name!r} is not a toy dataset; allowed: {list(TOY_DATASETS)}')


def _toy_dataset(name: str, key: jax.Array) -> Dataset:
  train = np.asarray(sample_toy(name, key, TOY_TRAIN_SIZE), np.float32)
  empty = np.zeros((0, train.shape[1]), np.float32)
  return Dataset(name, train, empty, empty, (train.shape[1],))


# ---------------------------------------------------------------- IDX files

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


def load_idx_directory(directory: str | pathlib.Path) -> Dataset:
  """MNIST-format IDX files in ``directory`` as a Dataset with the paper's split."""
  directory = pathlib.Path(directory).expanduser()
  if not directory.is_dir():
    raise DataError(f"dataset='idx:{directory}': {directory} is not a directory")
  arrays = {key: read_idx(_find_idx_file(directory, stem)) for key, stem in IDX_FILES.items()}
  for split in ('train', 'test'):
    images, labels = arrays[f'{split}_images'], arrays[f'{split}_labels']
    if images.ndim != 3 or images.dtype != np.uint8 or labels.shape != images.shape[:1]:
      raise DataError(f"dataset='idx:{directory}': {split} images {images.shape} {images.dtype} and labels "
                      f'{labels.shape} are not MNIST-format (uint8 [n, rows, cols] and [n])')
  return _split(f'idx:{directory}', (arrays['train_images'][..., None], arrays['train_labels']),
                (arrays['test_images'][..., None], arrays['test_labels']), VALIDATION_FRACTION['idx'])


def _split(name: str, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
           validation_fraction: float) -> Dataset:
  """Flattens (images [n, H, W, C] uint8, labels [n]) pairs; the last fraction of train is validation."""
  (train_images, train_labels), (test_images, test_labels) = train, test
  num_train = _num_training_examples(train_images.shape[0], validation_fraction)
  flat = lambda images: images.reshape(images.shape[0], -1)
  labels = lambda values: np.asarray(values, np.int32)
  return Dataset(name, flat(train_images[:num_train]), flat(train_images[num_train:]), flat(test_images),
                 tuple(train_images.shape[1:]), labels(train_labels[:num_train]),
                 labels(train_labels[num_train:]), labels(test_labels))


# ---------------------------------------------------------------- TFDS

def _tfds_split(name: str, split: str, data_dir: str | None,
                indices: Callable[[int], range] = range) -> tuple[np.ndarray, np.ndarray]:
  """(images [n, H, W, C] uint8, labels [n]) of the records ``indices(len(split))`` of one TFDS split."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  (slow import)
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.ERROR)  # TFDS warns about every folder it looks into
  try:
    source = tfds.data_source(name, split=split, data_dir=data_dir or None, download=True)
    records = [source[i] for i in indices(len(source))]
    return (np.stack([r['image'] for r in records]).astype(np.uint8),
            np.asarray([r['label'] for r in records], np.int32))
  except Exception as error:  # TFDS raises many types: missing TensorFlow, network, checksum…
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    raise DataError(
        f"dataset={name!r}: TFDS could not read or download the '{split}' split ({type(error).__name__}: "
        f'{reason[:200]}). Downloading needs network and the download extra '
        f"(pip install -e '.[download]'); without network, use MNIST IDX files: "
        f'--config.dataset=idx:/path/to/mnist') from None
  finally:
    absl_logging.set_verbosity(verbosity)


def _num_training_examples(split_size: int, validation_fraction: float) -> int:
  return split_size - round(split_size * validation_fraction)


def load_tfds(name: str, data_dir: str | None = None) -> Dataset:
  """A TFDS image dataset (``TFDS_DATASETS``) with the paper's split."""
  train, test = (_tfds_split(name, split, data_dir) for split in ('train', 'test'))
  return _split(name, train, test, VALIDATION_FRACTION[name])


def _load_tfds_shards(name: str, data_dir: str | None, shards: Shards) -> Dataset:
  """Only ``shards`` of a TFDS dataset's training examples: the records this process reads."""
  def share(split_size: int) -> range:
    return range(*shards.example_range(_num_training_examples(split_size, VALIDATION_FRACTION[name])))
  images, labels = _tfds_split(name, 'train', data_dir, share)
  empty = np.zeros((0, math.prod(images.shape[1:])), np.uint8)
  return Dataset(name, images.reshape(images.shape[0], -1), empty, empty, tuple(images.shape[1:]), labels)


# ---------------------------------------------------------------- by name

def check_name(spec: str) -> None:
  """Raises DataError unless ``spec`` names a known kind of dataset (reads nothing)."""
  if spec in TFDS_DATASETS or spec in TOY_DATASETS:
    return
  if spec.startswith(IDX_PREFIX) and len(spec) > len(IDX_PREFIX):
    return
  raise DataError(f'config.dataset={spec!r} is not a dataset; allowed: {list(TFDS_DATASETS)}, '
                  f"{list(TOY_DATASETS)} or 'idx:/path/to/mnist_idx_dir'")


def take_shards(dataset: Dataset, shards: Shards) -> Dataset:
  """Only the training examples (and labels) of ``shards``; validation and test left empty."""
  start, stop = shards.example_range(dataset.train.shape[0])
  return dataclasses.replace(dataset, train=dataset.train[start:stop], validation=dataset.validation[:0],
                             test=dataset.test[:0], train_labels=dataset.train_labels[start:stop],
                             validation_labels=dataset.validation_labels[:0], test_labels=dataset.test_labels[:0])


def load(spec: str, key: jax.Array, data_dir: str | None = None, shards: Shards | None = None) -> Dataset:
  """The dataset named by a config's ``dataset`` string; ``key`` draws toy training sets.

  With ``shards``, only those shards of the training set (what one process
  of a run trains on; TFDS reads no other records), and no validation or
  test examples.
  """
  check_name(spec)
  if shards is not None and spec in TFDS_DATASETS:
    return _load_tfds_shards(spec, data_dir, shards)
  if spec in TOY_DATASETS:
    dataset = _toy_dataset(spec, key)
  elif spec.startswith(IDX_PREFIX):
    dataset = load_idx_directory(spec[len(IDX_PREFIX):])
  else:
    dataset = load_tfds(spec, data_dir)
  return dataset if shards is None else take_shards(dataset, shards)


def load_validation(spec: str, key: jax.Array, data_dir: str | None = None,
                    num_examples: int | None = None) -> np.ndarray:
  """The first ``num_examples`` (default: all) validation examples of a dataset, [n, dim] as stored.

  What a run's Parzen monitor scores against; from TFDS it reads only those records.
  """
  check_name(spec)
  if spec in TFDS_DATASETS:
    def validation_records(split_size: int) -> range:
      start = _num_training_examples(split_size, VALIDATION_FRACTION[spec])
      return range(start, split_size if num_examples is None else min(split_size, start + num_examples))
    images, _ = _tfds_split(spec, 'train', data_dir, validation_records)
    return images.reshape(images.shape[0], -1)
  return load(spec, key, data_dir).validation[:num_examples]


# ---------------------------------------------------------------- minibatches on device

def minibatches_per_epoch(dataset: Dataset, shards: Shards, batch_size: int) -> int:
  """B = (n div D) div (m/D): minibatches of ``batch_size`` in an epoch over ``shards.total`` shards.

  ``dataset`` holds the training examples of ``shards``.
  """
  shard_size = dataset.train.shape[0] // shards.count
  return shard_size // (batch_size // shards.total)


def epoch_permutations(data_key: jax.Array, shard: int | jax.Array, first_epoch: int | jax.Array,
                       shard_size: int) -> jax.Array:
  """Shard ``shard``'s visiting orders in epochs first_epoch and first_epoch + 1: int32 [2, shard_size]."""
  shard_key = jax.random.fold_in(data_key, shard)
  epochs = jnp.stack([first_epoch, first_epoch + 1])
  return jax.vmap(lambda e: jax.random.permutation(jax.random.fold_in(shard_key, e), shard_size))(epochs)


def make_minibatch_sampler(data_key: jax.Array, d_steps: int, shard_batch_size: int) -> Callable:
  """A ``parallel.MinibatchSampler`` over a training set held on device, one shard per device.

  Returns ``sample(shard_data, first_step, num_steps) -> [num_steps, k, m/D, dim]``
  float32: this device's part of the k minibatches of each of iterations
  first_step … first_step + num_steps − 1, where ``shard_data`` [n div D, dim]
  is the device's shard (shard d on device d = ``lax.axis_index(BATCH_AXIS)``,
  so call it inside the pmap) and minibatch b = step·k + j. Those minibatches
  must lie in two consecutive epochs (``validation.check_against_data``
  bounds ``steps_per_call`` so).
  """
  def sample(shard_data: jax.Array, first_step: jax.Array, num_steps: int) -> jax.Array:
    shard = jax.lax.axis_index(parallel.BATCH_AXIS)
    per_epoch = shard_data.shape[0] // shard_batch_size
    first_epoch = first_step * d_steps // per_epoch
    permutations = epoch_permutations(data_key, shard, first_epoch, shard_data.shape[0])
    minibatches = (first_step + jnp.arange(num_steps))[:, None] * d_steps + jnp.arange(d_steps)  # [N, k]
    indices_of = lambda b: minibatch_indices(permutations, first_epoch, b, shard_batch_size)
    indices = jax.vmap(jax.vmap(indices_of))(minibatches)  # [N, k, m/D]
    return to_float(shard_data[indices])
  return sample


def minibatch_indices(permutations: jax.Array, first_epoch: int | jax.Array, minibatch: jax.Array,
                      shard_batch_size: int) -> jax.Array:
  """Indices [shard_batch_size] into its shard of one shard's part of minibatch ``minibatch``.

  ``permutations`` are the shard's from ``epoch_permutations``; the minibatch
  must lie in one of those two epochs. Its part is positions
  j·m/D … (j+1)·m/D − 1 of the epoch's order, j = minibatch mod B.
  """
  minibatches_per_epoch = permutations.shape[1] // shard_batch_size
  epoch = minibatch // minibatches_per_epoch
  start = (minibatch % minibatches_per_epoch) * shard_batch_size
  return jax.lax.dynamic_slice_in_dim(permutations[epoch - first_epoch], start, shard_batch_size)
