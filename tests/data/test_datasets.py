"""Datasets: loading by name, toy densities, shards, the device-memory check, the validation images, and on-device minibatches."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.data import datasets
from idx_files import write_mnist_idx


def test_unknown_dataset_names_the_allowed_ones():
  with pytest.raises(datasets.DataError, match=r"config.dataset='imagenet' is not a dataset; allowed: \['mnist'"):
    datasets.check_name('imagenet')
  with pytest.raises(datasets.DataError):
    datasets.check_name('idx:')


def test_toy_datasets_sit_on_their_modes():
  key = jax.random.key(0)
  ring = datasets.load('toy_ring', key)
  assert ring.train.shape == (datasets.TOY_TRAIN_SIZE, 2) and not ring.is_image
  np.testing.assert_allclose(np.linalg.norm(ring.train, axis=1), 1.0, atol=0.06)
  grid = np.asarray(datasets.sample_toy('toy_grid', key, 5000))
  distance = np.min(np.linalg.norm(grid[:, None] - datasets.grid_modes()[None], axis=-1), axis=1)
  assert distance.max() < 0.05 * 6
  nearest = np.argmin(np.linalg.norm(grid[:, None] - datasets.grid_modes()[None], axis=-1), axis=1)
  assert len(np.unique(nearest)) == 25
  gauss = np.asarray(datasets.sample_toy('gauss1d', key, 20_000))
  assert abs(gauss.mean() - 3.0) < 0.02 and abs(gauss.std() - 0.5) < 0.02


def test_minibatches_visit_each_example_of_a_shard_once_per_epoch():
  shard_size, shard_m = 50, 10
  permutations = datasets.epoch_permutations(jax.random.key(3), 2, first_epoch=4, shard_size=shard_size)
  epoch_4 = np.concatenate([datasets.minibatch_indices(permutations, 4, jnp.array(b), shard_m) for b in range(20, 25)])
  assert sorted(epoch_4.tolist()) == list(range(shard_size))
  epoch_5 = np.concatenate([datasets.minibatch_indices(permutations, 4, jnp.array(b), shard_m) for b in range(25, 30)])
  assert sorted(epoch_5.tolist()) == list(range(shard_size)) and not np.array_equal(epoch_4, epoch_5)
  # The order of epoch 5 is the same whichever pair of epochs it was drawn with…
  later = datasets.epoch_permutations(jax.random.key(3), 2, first_epoch=5, shard_size=shard_size)
  np.testing.assert_array_equal(later[0], permutations[1])
  # …and each shard has an order of its own.
  other_shard = datasets.epoch_permutations(jax.random.key(3), 3, first_epoch=4, shard_size=shard_size)
  assert not np.array_equal(other_shard, permutations)


def test_shards_cut_the_training_set_into_equal_contiguous_blocks(tmp_path):
  write_mnist_idx(tmp_path, num_train=126)  # 105 training examples: 26 per shard, 1 left over
  full = datasets.load(f'idx:{tmp_path}', jax.random.key(0))
  n = full.train.shape[0]
  second_half = datasets.load(f'idx:{tmp_path}', jax.random.key(0), shards=datasets.Shards(first=2, count=2, total=4))
  start, stop = (n // 4) * 2, (n // 4) * 4
  np.testing.assert_array_equal(second_half.train, full.train[start:stop])
  np.testing.assert_array_equal(second_half.train_labels, full.train_labels[start:stop])
  assert second_half.validation.shape == (0, full.dim) and second_half.example_shape == full.example_shape
  toy = datasets.load('toy_ring', jax.random.key(0), shards=datasets.Shards(first=1, count=1, total=3))
  np.testing.assert_array_equal(toy.train, datasets.load('toy_ring', jax.random.key(0)).train[33_333:66_666])


def test_tfds_shards_are_the_matching_blocks_of_the_training_split():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with tfds.testing.mock_data(num_examples=60):
    full = datasets.load('mnist', jax.random.key(0))
    share = datasets.load('mnist', jax.random.key(0), shards=datasets.Shards(first=1, count=1, total=2))
  np.testing.assert_array_equal(share.train, full.train[25:50])


def test_to_float_scales_pixels_to_the_unit_interval():
  np.testing.assert_allclose(datasets.to_float(jnp.array([0, 51, 255], jnp.uint8)), [0.0, 0.2, 1.0])
  np.testing.assert_array_equal(datasets.to_float(jnp.array([-1.5, 2.0])), [-1.5, 2.0])


def test_the_memory_check_says_how_big_the_data_is_and_what_fits():
  dataset = datasets.Dataset('npy:x.npy', np.zeros((1000, 3072), np.uint8), np.zeros((0, 3072), np.uint8),
                         np.zeros((0, 3072), np.uint8), (32, 32, 3))
  datasets.check_fits_on_device(dataset, datasets.Shards(), model_bytes=0, memory_bytes=4 * 2**20)
  with pytest.raises(datasets.DataError) as error:
    datasets.check_fits_on_device(dataset, datasets.Shards(), model_bytes=2**20, memory_bytes=3 * 2**20)
  message = str(error.value)
  assert '1,000 examples of shape (32, 32, 3) uint8 (2.9 MiB) next to the model (1.0 MiB)' in message
  assert 'about 580 such examples fit' in message  # (0.9 · 3 MiB − 1 MiB) / 3,072 bytes


def test_the_memory_check_counts_the_label_columns_a_conditional_game_puts_on_the_devices():
  dataset = datasets.Dataset('npy:x.npy', np.zeros((1000, 1000), np.uint8), np.zeros((0, 1000), np.uint8),
                             np.zeros((0, 1000), np.uint8), (1000,))
  budget = int(2**20 / datasets.DEVICE_MEMORY_SHARE) + 1  # 0.9 of it: 1 MiB, room for 1,048 such examples
  datasets.check_fits_on_device(dataset, datasets.Shards(), model_bytes=0, memory_bytes=budget)
  with pytest.raises(datasets.DataError) as error:
    datasets.check_fits_on_device(dataset, datasets.Shards(), model_bytes=0, memory_bytes=budget, num_classes=50)
  assert '1,000 examples of shape (1000,) uint8 with 50 label columns (1.0 MiB)' in str(error.value)
  assert 'about 998 such examples fit' in str(error.value)  # 2**20 / (1,000 + 50) bytes


def test_a_process_reads_its_shards_and_the_monitors_first_validation_images(idx_dir):
  key, shards = jax.random.key(0), datasets.Shards(first=1, count=1, total=2)
  full = datasets.load(f'idx:{idx_dir}', key)
  dataset = datasets.load(f'idx:{idx_dir}', key, shards=shards, num_validation=30)
  np.testing.assert_array_equal(dataset.validation, full.validation[:30])
  np.testing.assert_array_equal(dataset.train, full.train[100:200])
  assert dataset.test.shape == (0, full.dim)
  more = datasets.load(f'idx:{idx_dir}', key, shards=shards, num_validation=1000)  # as many as there are
  np.testing.assert_array_equal(more.validation, full.validation)
