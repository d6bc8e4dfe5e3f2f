"""Data p_data: where the examples come from, and how minibatches are drawn on device.

A config's ``dataset`` names an image source (``sources``: ``mnist``,
``fashion_mnist``, ``cifar10``, any ``tfds:NAME[:CONFIG]``, ``idx:DIR``,
``images:DIR``, ``npy:PATH`` / ``npz:PATH``) or a toy density needing no
download: ``gauss1d`` (N(3, 0.5²)), ``toy_ring`` (8 Gaussians of std 0.01
on the unit circle) or ``toy_grid`` (25 Gaussians of std 0.05 at
{−4, −2, 0, 2, 4}²), the PacGAN/VEEGAN settings. A toy "training set" is
100,000 samples drawn once from the run's seed.

Images keep their uint8 pixels (value/255 ∈ [0, 1], as the paper scaled MNIST)
and are flattened to vectors ``[n, H·W·C]``; conversion to float happens on
device, inside the step. The splits are the source's (``sources``): for
MNIST the paper's, train[0:50000] for training, train[50000:60000] for
validation and the official test set for testing; CIFAR-10, as the
original code, train[0:40000] and train[40000:50000].

The whole training set is held in device memory, one shard per device;
``check_fits_on_device`` refuses, before training, a dataset that does not
fit there next to the model (a streaming input path is not built yet).

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
import math
import os
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import parallel
from gan_jax.data import sources
from gan_jax.data.sources import DataError, SourceOptions

TOY_DATASETS = ('gauss1d', 'toy_ring', 'toy_grid')
TOY_TRAIN_SIZE = 100_000

GAUSS1D_MEAN, GAUSS1D_STD = 3.0, 0.5
RING_RADIUS, RING_STD, RING_MODES = 1.0, 0.01, 8
GRID_STD = 0.05


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
      255 means 1.0), float32 coordinates for toy data, uint8 or float32 in
      [0, 1] for vectors from an array file. ``validation`` and ``test`` are
      empty for toy data.
    example_shape: the shape of one example before flattening, (H, W, C) for
      images, (dim,) for toy data and vectors.
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


def join_labels(examples: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
  """Examples [n, dim] with their labels [n] in [0, C) joined one-hot: [n, dim + C] of the examples' dtype, the
  one-hot entries 255 for uint8 pixels and 1.0 for floats, so that ``to_float`` makes them [x, one_hot(c)]
  (what a conditional D judges, ``train.GAN``)."""
  one = 255 if examples.dtype == np.uint8 else 1.0
  one_hot = (labels[:, None] == np.arange(num_classes)[None, :]) * one
  return np.concatenate([examples, one_hot.astype(examples.dtype)], axis=1)


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


MIXTURES = ('toy_ring', 'toy_grid')  # the toy densities with modes (mode coverage metrics)


def mixture_modes(name: str) -> tuple[np.ndarray, float]:
  """The mode centres [K, 2] and the std of a mixture in ``MIXTURES``."""
  if name == 'toy_ring':
    return ring_modes(), RING_STD
  if name == 'toy_grid':
    return grid_modes(), GRID_STD
  raise DataError(f'dataset={name!r} has no modes; allowed: {list(MIXTURES)}')


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


# ---------------------------------------------------------------- by name

def check_name(spec: str) -> None:
  """Raises DataError unless ``spec`` names a known kind of dataset (reads nothing)."""
  if spec in TOY_DATASETS:
    return
  try:
    sources.kind_of(spec)
  except DataError:
    raise DataError(f'config.dataset={spec!r} is not a dataset; allowed: {list(sources.TFDS_ALIASES)}, '
                    f'{list(TOY_DATASETS)}, {sources.FORMS}') from None


def take_shards(dataset: Dataset, shards: Shards, num_validation: int = 0) -> Dataset:
  """Only the training examples (and labels) of ``shards`` and the first ``num_validation`` validation examples;
  test left empty."""
  start, stop = shards.example_range(dataset.train.shape[0])
  return dataclasses.replace(dataset, train=dataset.train[start:stop], validation=dataset.validation[:num_validation],
                             test=dataset.test[:0], train_labels=dataset.train_labels[start:stop],
                             validation_labels=dataset.validation_labels[:num_validation],
                             test_labels=dataset.test_labels[:0])


def _flat(split: sources.Split) -> np.ndarray:
  return split.examples.reshape(split.examples.shape[0], math.prod(split.examples.shape[1:]))


def load(spec: str, key: jax.Array, options: SourceOptions = SourceOptions(),
         shards: Shards | None = None, num_validation: int = 0) -> Dataset:
  """The dataset named by a config's ``dataset`` string; ``key`` draws toy training sets.

  With ``shards``, what one process of a run reads: only those shards of
  the training set, the first ``num_validation`` validation examples (the
  validation monitor's) and no test examples; from TFDS no other records.
  """
  check_name(spec)
  if spec in TOY_DATASETS:
    dataset = _toy_dataset(spec, key)
    return dataset if shards is None else take_shards(dataset, shards, num_validation)
  if shards is None:
    splits = sources.read(spec, options, {split: range for split in sources.SPLITS})
  else:
    selections = {'train': lambda size: range(*shards.example_range(size))}
    if num_validation:
      selections['validation'] = lambda size: range(min(size, num_validation))
    splits = sources.read(spec, options, selections)
    empty = sources.Split(splits['train'].examples[:0], splits['train'].labels[:0])
    splits = {'validation': empty, 'test': empty, **splits}
  train = splits['train']
  return Dataset(spec, _flat(train), _flat(splits['validation']), _flat(splits['test']), train.examples.shape[1:],
                 train.labels, splits['validation'].labels, splits['test'].labels)


# ---------------------------------------------------------------- device memory

DEVICE_MEMORY_SHARE = 0.9  # of a device's memory, the most the training set and the model may take


def device_memory_bytes(device: jax.Device) -> int:
  """One device's memory: its allocator's limit (GPU, TPU); on CPU, the host's memory over its local devices."""
  try:
    stats = device.memory_stats()
  except (NotImplementedError, RuntimeError):  # some backends have no memory statistics
    stats = None
  if stats and 'bytes_limit' in stats:
    return int(stats['bytes_limit'])
  return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // jax.local_device_count()


def _size(num_bytes: int) -> str:
  return f'{num_bytes / 2**30:.2f} GiB' if num_bytes >= 2**30 else f'{num_bytes / 2**20:.1f} MiB'


def check_fits_on_device(dataset: Dataset, shards: Shards, model_bytes: int, memory_bytes: int,
                         num_classes: int = 0) -> None:
  """Raises DataError if a device's shard of the training set does not fit next to the model.

  Args:
    dataset: the training examples of ``shards``; device d holds shard d.
    model_bytes: what a device needs besides its shard (the game's state, its
      gradients and updates, the monitor's images), an estimate.
    memory_bytes: one device's memory; ``DEVICE_MEMORY_SHARE`` of it may be used.
    num_classes: C > 0 for a conditional game, whose examples go to the
      devices with their labels joined one-hot (``join_labels``): dim + C
      entries each.
  """
  shard_examples = dataset.train.shape[0] // shards.count
  example_bytes = dataset.train.itemsize * (dataset.dim + num_classes)
  budget = int(memory_bytes * DEVICE_MEMORY_SHARE) - model_bytes
  if shard_examples * example_bytes <= budget:
    return
  fitting = max(budget, 0) // example_bytes * shards.total
  labelled = f' with {num_classes} label columns' if num_classes else ''
  raise DataError(
      f'dataset={dataset.name!r} does not fit in device memory: each of the {shards.total} device(s) would hold '
      f'{shard_examples:,} examples of shape {dataset.example_shape} {dataset.train.dtype}{labelled} '
      f'({_size(shard_examples * example_bytes)}) next to the model ({_size(model_bytes)}), and may use '
      f'{_size(int(memory_bytes * DEVICE_MEMORY_SHARE))} of its {_size(memory_bytes)}; about {fitting:,} such '
      f'examples fit. Use fewer or smaller images (config.image_size) or more devices; set '
      f'config.device_memory_mib if a device has more memory than that. (Training streams no data from the '
      f'host yet: the whole training set is held on the devices.)')


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
  must lie in two consecutive epochs (``plan.make_plan``
  bounds ``steps_per_call`` so).
  """
  sample_keyed = make_keyed_minibatch_sampler(d_steps, shard_batch_size)
  return lambda shard_data, first_step, num_steps: sample_keyed((data_key, shard_data), first_step, num_steps)


def make_keyed_minibatch_sampler(d_steps: int, shard_batch_size: int) -> Callable:
  """``make_minibatch_sampler`` with the data key passed in beside the shard, not fixed.

  Returns ``sample((data_key, shard_data), first_step, num_steps)``, the same
  minibatches as ``make_minibatch_sampler(data_key, …)``: a sampler that can
  be vmapped over runs with their own data keys and training sets
  (``parallel.make_pmap_seeds_train_loop``).
  """
  def sample(keyed_shard: tuple[jax.Array, jax.Array], first_step: jax.Array, num_steps: int) -> jax.Array:
    data_key, shard_data = keyed_shard
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
