"""Data sources (IDX files, TFDS under mock data, toy densities) and on-device minibatches."""

import gzip

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.data import datasets, idx, sources
from idx_files import idx_bytes, write_mnist_idx


@pytest.mark.parametrize('compress', [True, False])
def test_idx_directory_gives_the_paper_split(tmp_path, compress):
  arrays = write_mnist_idx(tmp_path, num_train=120, num_test=20, compress=compress)
  dataset = datasets.load(f'idx:{tmp_path}', jax.random.key(0))
  train_images = arrays['train-images-idx3-ubyte'].reshape(120, 784)
  # The first 5/6 train (MNIST: train[0:50000]), the last 1/6 validation (train[50000:60000]).
  np.testing.assert_array_equal(dataset.train, train_images[:100])
  np.testing.assert_array_equal(dataset.validation, train_images[100:])
  np.testing.assert_array_equal(dataset.test, arrays['t10k-images-idx3-ubyte'].reshape(20, 784))
  assert dataset.example_shape == (28, 28, 1) and dataset.is_image and dataset.dim == 784
  assert dataset.train.dtype == np.uint8


def test_idx_reader_accepts_the_dotted_spelling(tmp_path):
  write_mnist_idx(tmp_path, compress=False)
  (tmp_path / 'train-images-idx3-ubyte').rename(tmp_path / 'train-images.idx3-ubyte')
  assert datasets.load(f'idx:{tmp_path}', jax.random.key(0)).train.shape == (100, 784)


def test_read_idx_handles_other_types_and_shapes(tmp_path):
  array = np.arange(24, dtype='>i4').reshape(2, 3, 4)
  raw = bytes([0, 0, 0x0C, 3]) + np.asarray(array.shape, '>u4').tobytes() + array.tobytes()
  (tmp_path / 'x.gz').write_bytes(gzip.compress(raw))
  np.testing.assert_array_equal(idx.read_idx(tmp_path / 'x.gz'), np.arange(24).reshape(2, 3, 4))


@pytest.mark.parametrize('corruption, message', [
    (lambda raw: b'\x01\x02' + raw[2:], 'is not an IDX file'),
    (lambda raw: raw[:-10], 'has 1574 bytes; its header (2, 28, 28) says 1584'),
    (lambda raw: raw[:6], 'is truncated'),
    (lambda raw: b'', 'is not an IDX file (bad magic number <empty>)'),
])
def test_malformed_idx_files_raise_data_errors_naming_the_file(tmp_path, corruption, message):
  path = tmp_path / 'bad-idx3-ubyte'
  path.write_bytes(corruption(idx_bytes(np.zeros((2, 28, 28), np.uint8))))
  with pytest.raises(datasets.DataError, match=str(path)) as error:
    idx.read_idx(path)
  assert message in str(error.value)


def test_corrupt_gzip_is_a_data_error(tmp_path):
  path = tmp_path / 'train-images-idx3-ubyte.gz'
  path.write_bytes(b'not gzip at all')
  with pytest.raises(datasets.DataError, match='cannot read IDX file'):
    idx.read_idx(path)


def test_missing_idx_file_names_the_file_and_the_expected_set(tmp_path):
  write_mnist_idx(tmp_path)
  (tmp_path / 't10k-labels-idx1-ubyte.gz').unlink()
  with pytest.raises(datasets.DataError, match=r'missing t10k-labels-idx1-ubyte\[\.gz\]'):
    datasets.load(f'idx:{tmp_path}', jax.random.key(0))
  with pytest.raises(datasets.DataError, match='is not a directory'):
    datasets.load(f'idx:{tmp_path / "nowhere"}', jax.random.key(0))


@pytest.mark.parametrize('name, shape', [('mnist', (28, 28, 1)), ('fashion_mnist', (28, 28, 1)),
                                         ('cifar10', (32, 32, 3))])
def test_tfds_datasets_under_mock_data(name, shape):
  import tensorflow_datasets as tfds
  with tfds.testing.mock_data(num_examples=30):
    dataset = datasets.load(name, jax.random.key(0))
  assert dataset.example_shape == shape
  assert dataset.train.dtype == np.uint8 and dataset.train.shape[1] == np.prod(shape)
  assert dataset.train.shape[0] + dataset.validation.shape[0] == 30
  assert dataset.validation.shape[0] == round(30 * sources.VALIDATION_FRACTION[name])
  assert dataset.test.shape == (30, np.prod(shape))


def test_tfds_without_download_support_is_a_data_error_pointing_to_idx(tmp_path):
  with pytest.raises(datasets.DataError) as error:
    datasets.load('mnist', jax.random.key(0), datasets.SourceOptions(data_dir=str(tmp_path / 'empty_tfds')))
  message = str(error.value)
  assert message.startswith("dataset='mnist': TFDS could not read or download")
  assert '--config.dataset=idx:/path/to/mnist' in message


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
