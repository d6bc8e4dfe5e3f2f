"""The MNIST IDX reader: the paper's split from a directory of IDX files, and malformed files."""

import gzip

import jax
import numpy as np
import pytest

from gan_jax.data import datasets, idx
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
