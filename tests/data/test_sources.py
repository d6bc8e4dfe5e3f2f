"""Data sources: TFDS datasets by name, array files, split strings, held-out splits, and bad data."""

import io
import pathlib
import zipfile

import jax
import numpy as np
import pytest

from experiments import cli
from gan_jax.configs import cifar10_conv, mnist_paper
from gan_jax.data import datasets, sources
from gan_jax.training import loop
from image_files import write_folder
from tiny_runs import tiny_image_config, tiny_overrides


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


def test_the_holdout_split_depends_only_on_the_names():
  names = [f'img_{i}.png' for i in range(120)]
  split = sources.holdout_split(names)
  assert [len(split[s]) for s in sources.SPLITS] == [100, 10, 10]
  assert sorted(np.concatenate(list(split.values()))) == list(range(120))
  shuffled = names[::-1]
  again = sources.holdout_split(shuffled)
  for s in sources.SPLITS:  # the same files, wherever they are listed
    assert sorted(shuffled[i] for i in again[s]) == sorted(names[i] for i in split[s])


@pytest.mark.parametrize('dtype', [np.uint8, np.float32, np.float64])
def test_image_arrays_of_each_dtype(tmp_path, dtype):
  rng = np.random.default_rng(1)
  pixels = rng.integers(0, 256, (36, 5, 5, 3), dtype=np.uint8)
  array = pixels if dtype == np.uint8 else (pixels / 255).astype(dtype)
  np.save(tmp_path / 'x.npy', array)
  dataset = datasets.load(f'npy:{tmp_path / "x.npy"}', jax.random.key(0))
  assert dataset.example_shape == (5, 5, 3) and dataset.train.dtype == np.uint8
  assert [dataset.train.shape[0], dataset.validation.shape[0], dataset.test.shape[0]] == [30, 3, 3]
  all_rows = {row.tobytes() for row in pixels.reshape(36, -1)}
  assert {row.tobytes() for row in np.concatenate([dataset.train, dataset.validation, dataset.test])} == all_rows


def test_vector_arrays_and_npz_files_with_their_own_splits(tmp_path):
  vectors = np.random.default_rng(2).random((24, 6)).astype(np.float32)
  np.savez(tmp_path / 'v.npz', vectors)
  dataset = datasets.load(f'npz:{tmp_path / "v.npz"}', jax.random.key(0))
  assert dataset.example_shape == (6,) and not dataset.is_image and dataset.train.dtype == np.float32
  images = np.random.default_rng(3).integers(0, 256, (10, 4, 4, 1), dtype=np.uint8)
  np.savez(tmp_path / 's.npz', train=images[:6], validation=images[6:8], test=images[8:])
  dataset = datasets.load(f'npz:{tmp_path / "s.npz"}', jax.random.key(0), datasets.SourceOptions(image_size=2))
  assert dataset.example_shape == (2, 2, 1)
  assert (dataset.train.shape[0], dataset.validation.shape[0], dataset.test.shape[0]) == (6, 2, 2)


def _saved_npz(path: pathlib.Path) -> bytes:
  """The bytes of a valid uncompressed .npz file of 30 images [4, 4, 1] (the member's pixels from byte ~190 on)."""
  np.savez(path, np.arange(480, dtype=np.uint8).reshape(30, 4, 4, 1))
  return path.read_bytes()


def _npz_member_with_a_huge_header(path: pathlib.Path) -> None:
  """An .npz file whose one member's header asks for 40 PB, more than any machine can allocate."""
  header = io.BytesIO()
  np.lib.format.write_array_header_1_0(header, {'descr': '|u1', 'fortran_order': False, 'shape': (10**15, 40)})
  with zipfile.ZipFile(path, 'w') as archive:
    archive.writestr('x.npy', header.getvalue() + bytes(100))


def _flip_byte(raw: bytes, position: int) -> bytes:
  """``raw`` with the byte at ``position`` inverted."""
  return raw[:position] + bytes([raw[position] ^ 0xFF]) + raw[position + 1:]


@pytest.mark.parametrize('write, reason', [
    (lambda path: path.write_bytes(_saved_npz(path)[:300]), '(BadZipFile: File is not a zip file); it must be a '
     'whole file written by np.savez, of numeric arrays (uint8, or float in [0, 1]), not object arrays'),
    (lambda path: path.write_bytes(_flip_byte(_saved_npz(path), 400)), "(BadZipFile: Bad CRC-32 for file "
     "'arr_0.npy'); it must be a whole file"),
    (_npz_member_with_a_huge_header, '(MemoryError: Unable to allocate '),
], ids=['truncated', 'bad member checksum', 'huge member header'])
def test_a_truncated_or_corrupt_npz_file_is_a_data_error_naming_the_file(tmp_path, write, reason):
  path = tmp_path / 'x.npz'
  write(path)
  with pytest.raises(sources.DataError) as error:
    sources._read_array_file('npz', str(path), 0)
  message = str(error.value)
  assert message.startswith(f"dataset='npz:{path}': cannot read {path} as a .npz file {reason}"), message
  assert '\n' not in message


def test_an_npz_file_of_ragged_rows_is_a_data_error_saying_to_give_them_one_shape(tmp_path):
  path = tmp_path / 'ragged.npz'
  rows = np.empty(2, object)
  rows[:] = [np.zeros(3, np.uint8), np.zeros(5, np.uint8)]
  np.savez(path, train=rows)
  with pytest.raises(sources.DataError) as error:
    sources._read_array_file('npz', str(path), 0)
  assert str(error.value) == (
      f"dataset='npz:{path}': cannot read {path} as a .npz file (ValueError: Object arrays cannot be loaded when "
      'allow_pickle=False); it must be a whole file written by np.savez, of numeric arrays (uint8, or float in '
      '[0, 1]), not object arrays (ragged rows: pad or resize them to one shape)')


def test_an_npz_member_that_is_not_an_npy_array_is_a_data_error(tmp_path):
  path = tmp_path / 'notes.npz'
  with zipfile.ZipFile(path, 'w') as archive:
    archive.writestr('notes.txt', 'not an array')
  with pytest.raises(sources.DataError) as error:
    sources._read_array_file('npz', str(path), 0)
  assert str(error.value) == (f"dataset='npz:{path}': its member 'notes.txt' is not an .npy array; write the file "
                              'with np.savez')


def test_any_tfds_image_dataset_by_name_with_its_labels_and_default_split():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with tfds.testing.mock_data(num_examples=24):
    dataset = datasets.load('tfds:svhn_cropped', jax.random.key(0))
  assert dataset.example_shape == (32, 32, 3)
  assert (dataset.train.shape[0], dataset.validation.shape[0], dataset.test.shape[0]) == (20, 4, 24)
  assert dataset.train_labels.shape == (20,) and dataset.train_labels.dtype == np.int32


def test_tfds_split_strings_size_and_a_chosen_feature():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  options = datasets.SourceOptions(image_size=8, image_feature='image', train_split='train[:10]+train[-2:]',
                               validation_split='train[50%:75%]', test_split='test[:3]')
  with tfds.testing.mock_data(num_examples=24):
    full = datasets.load('tfds:svhn_cropped', jax.random.key(0), datasets.SourceOptions(image_size=8))
    dataset = datasets.load('tfds:svhn_cropped', jax.random.key(0), options)
    # Images of many sizes (oxford_flowers102's mock) need a size; with one they stack.
    flowers = datasets.load('tfds:oxford_flowers102', jax.random.key(0), datasets.SourceOptions(image_size=6))
  assert dataset.example_shape == (8, 8, 3)
  assert (dataset.train.shape[0], dataset.validation.shape[0], dataset.test.shape[0]) == (12, 6, 3)
  np.testing.assert_array_equal(dataset.train[:10], full.train[:10])
  np.testing.assert_array_equal(dataset.validation[:4], full.train[12:16])
  assert flowers.example_shape == (6, 6, 3)


def test_a_tfds_shard_reads_its_block_of_the_chosen_training_split():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  options = datasets.SourceOptions(train_split='train[4:20]', validation_split='train[20:]')
  with tfds.testing.mock_data(num_examples=24):
    full = datasets.load('tfds:kmnist', jax.random.key(0), options)
    share = datasets.load('tfds:kmnist', jax.random.key(0), options, shards=datasets.Shards(first=1, count=1, total=2))
  np.testing.assert_array_equal(share.train, full.train[8:16])


def test_a_dataset_with_several_image_features_needs_one_chosen():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  class Builder:
    class info:  # pylint: disable=invalid-name
      features = tfds.features.FeaturesDict({'photo': tfds.features.Image(shape=(4, 4, 3)),
                                             'sketch': tfds.features.Image(shape=(4, 4, 1))})

  with pytest.raises(datasets.DataError, match=r"has 2 image features \['photo', 'sketch'\]; set config.image_feature"):
    sources._image_feature(Builder, 'tfds:pairs', '')
  assert sources._image_feature(Builder, 'tfds:pairs', 'sketch') == ('sketch', None)


@pytest.mark.parametrize('text, ok', [('train', True), ('train[:50000]', True), ('train[-10%:]', True),
                                      ('train[1:2]+test', True), ('train[:5', False), ('train[a:b]', False),
                                      ('', False), ('train[1:2:3]', False)])
def test_split_strings_are_checked(text, ok):
  if ok:
    sources.parse_split(text)
  else:
    with pytest.raises(ValueError, match='is not a split string'):
      sources.parse_split(text)


def test_split_ranges_resolve_percentages_and_negative_bounds():
  sizes = {'train': 60, 'test': 10}.__getitem__
  assert sources.split_ranges('train[-10%:]+test[:3]', sizes) == [('train', 54, 60), ('test', 0, 3)]
  assert sources.split_ranges('train[:-6]', sizes) == [('train', 0, 54)]


def _bad_data_cases(tmp: pathlib.Path):
  """(config overrides of a tiny mnist_paper, the start of its one-line message)."""
  empty = tmp / 'empty'
  empty.mkdir()
  broken = write_folder(tmp / 'broken', count=6)
  (broken / 'broken.png').write_bytes(b'\x89PNG not really')
  np.save(tmp / 'rank3.npy', np.zeros((5, 4, 4), np.uint8))
  np.save(tmp / 'range.npy', np.full((5, 4), 1.5, np.float32))
  np.save(tmp / 'ints.npy', np.zeros((5, 4), np.int64))
  images = write_folder(tmp / 'images', count=30)
  cache = str(tmp / 'cache')
  return [
      (dict(dataset=f'images:{empty}'), f"dataset='images:{empty}': no image files (.png, .jpg, .jpeg) under {empty}"),
      (dict(dataset=f'images:{broken}', image_size=8, cache_dir=cache),
       f"dataset='images:{broken}': cannot read the image file {broken / 'broken.png'}"),
      (dict(dataset=f'images:{images}', cache_dir=cache), f"dataset='images:{images}': images have "),
      (dict(dataset=f'npy:{tmp / "rank3.npy"}'), f"dataset='npy:{tmp / 'rank3.npy'}': an array of shape (5, 4, 4) "
                                                  'is not allowed; it must have shape [N, H, W, C]'),
      (dict(dataset=f'npy:{tmp / "range.npy"}'), f"dataset='npy:{tmp / 'range.npy'}': float values must lie in "
                                                  '[0, 1]; this array has values in [1.5, 1.5]'),
      (dict(dataset=f'npy:{tmp / "ints.npy"}'), f"dataset='npy:{tmp / 'ints.npy'}': dtype int64 is not allowed"),
      (dict(dataset=f'npy:{tmp / "missing.npy"}'), f"dataset='npy:{tmp / 'missing.npy'}': cannot read"),
      (dict(dataset='tfds:no_such_dataset'), "dataset='tfds:no_such_dataset': 'no_such_dataset' is not a TFDS dataset"),
      (dict(dataset='tfds:svhn_cropped', image_feature='photo'),
       "config.image_feature='photo': dataset='tfds:svhn_cropped' has no image feature of that name; "
       "its image features: ['image']"),
      (dict(dataset='tfds:svhn_cropped', train_split='train[:5'),
       "config.train_split='train[:5' is not a split string"),
      (dict(dataset='tfds:svhn_cropped', train_split='train'),
       "config.train_split='train' and validation_split='': set both, or neither"),
      (dict(dataset=f'images:{images}', image_feature='image'),
       f"config.image_feature='image' applies to TFDS datasets only, not dataset='images:{images}'"),
      (dict(dataset='gauss1d', image_size=8), "config.image_size=8 applies to image datasets, not 'gauss1d'"),
      (dict(dataset=f'images:{images}', image_size=-1), 'config.image_size=-1 must be a non-negative integer'),
      ({**cifar10_conv.get_config().to_dict(), **tiny_overrides(), 'dataset': f'images:{images}', 'image_size': 28,
        'cache_dir': cache},
       "config.g_output='deconv' cannot take the examples of dataset="),
      (dict(dataset=f'images:{images}', image_size=64, cache_dir=cache, device_memory_mib=0.05),
       f"dataset='images:{images}' does not fit in device memory: each of the 8 device(s) would hold"),
  ]


def test_bad_data_fails_before_training_with_one_line_and_writes_nothing(tmp_path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  for overrides, message in _bad_data_cases(tmp_path):
    workdir = tmp_path / 'run'
    with tfds.testing.mock_data(num_examples=24), pytest.raises(cli.BAD_INPUT) as error:
      loop.run(tiny_image_config(mnist_paper.get_config(), **overrides), workdir, print_fn=lambda _: None)
    assert str(error.value).startswith(message), (overrides, str(error.value))
    assert '\n' not in str(error.value), str(error.value)
    assert not workdir.exists(), overrides


def _class_folders(directory: pathlib.Path, pixel_of_class: dict[str, int], per_class: int = 12) -> None:
  """One subfolder per class, its images filled with the class's pixel value."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  for name, pixel in pixel_of_class.items():
    (directory / name).mkdir(parents=True)
    for i in range(per_class):
      Image.fromarray(np.full((6, 6), pixel, np.uint8)).save(directory / name / f'{i:02d}.png')


def test_class_subfolders_label_every_image_by_the_rank_of_its_folders_name(tmp_path):
  _class_folders(tmp_path / 'pets', {'dog': 30, 'ant': 10, 'cat': 20})
  dataset = datasets.load(f'images:{tmp_path / "pets"}', jax.random.key(0),
                          datasets.SourceOptions(cache_dir=str(tmp_path / 'cache')))
  for split in ('train', 'validation', 'test'):
    examples, labels = getattr(dataset, split), getattr(dataset, f'{split}_labels')
    assert labels.shape == (examples.shape[0],) and labels.dtype == np.int32
    assert (examples[:, 0] == np.array([10, 20, 30])[labels]).all(), split  # ant 0, cat 1, dog 2
  assert set(dataset.train_labels) == {0, 1, 2}


def test_a_folder_with_images_at_its_top_has_no_labels(tmp_path):
  _class_folders(tmp_path / 'mixed', {'a': 10})
  from PIL import Image  # pylint: disable=g-import-not-at-top
  Image.fromarray(np.zeros((6, 6), np.uint8)).save(tmp_path / 'mixed' / 'loose.png')
  dataset = datasets.load(f'images:{tmp_path / "mixed"}', jax.random.key(0),
                          datasets.SourceOptions(cache_dir=str(tmp_path / 'cache')))
  assert dataset.train_labels.size == 0 and dataset.train.shape[0] > 0


@pytest.mark.parametrize('label_name', ['labels', 'y'])
def test_an_npz_array_with_its_labels_keeps_each_label_with_its_example(tmp_path, label_name):
  labels = np.arange(48) % 4
  np.savez(tmp_path / 'x.npz', x=(labels[:, None] * 10 + np.zeros((48, 3))).astype(np.uint8),
           **{label_name: labels})
  dataset = datasets.load(f'npz:{tmp_path / "x.npz"}', jax.random.key(0))
  for split in ('train', 'validation', 'test'):
    assert (getattr(dataset, split)[:, 0] == 10 * getattr(dataset, f'{split}_labels')).all(), split


def test_an_npz_file_with_splits_takes_each_splits_labels(tmp_path):
  arrays = {split: np.full((n, 2), value, np.uint8) for split, n, value in
            (('train', 8, 1), ('validation', 4, 2), ('test', 4, 3))}
  np.savez(tmp_path / 'x.npz', **arrays, **{f'{split}_labels': np.full(len(array), int(array[0, 0]))
                                           for split, array in arrays.items()})
  dataset = datasets.load(f'npz:{tmp_path / "x.npz"}', jax.random.key(0))
  assert [set(getattr(dataset, f'{split}_labels')) for split in ('train', 'validation', 'test')] == [{1}, {2}, {3}]


@pytest.mark.parametrize('members, reason', [
    (dict(x=np.zeros((6, 2), np.uint8), y=np.zeros(5, np.int64)),
     "labels of shape (5,) and dtype int64 are not allowed; they must be integers of shape (6,)"),
    (dict(x=np.zeros((6, 2), np.uint8), labels=np.zeros(6, np.float32)),
     "labels of shape (6,) and dtype float32 are not allowed"),
    (dict(x=np.zeros((6, 2), np.uint8), labels=-np.ones(6, np.int64)),
     'labels must lie in [0, 2^31); these run from -1 to -1'),
    (dict(train=np.zeros((6, 2), np.uint8), validation=np.zeros((2, 2), np.uint8), test=np.zeros((2, 2), np.uint8),
          train_labels=np.zeros(6, np.int64)), "holds labels of ['train'] only"),
    (dict(x=np.zeros((6, 2), np.uint8), labels=np.zeros(6, np.int64), y=np.zeros(6, np.int64)),
     "the .npz file holds ['x', 'labels', 'y']; it must hold one array (and its labels as 'labels' or 'y')"),
], ids=['wrong count', 'floats', 'negative', 'some splits only', 'two label arrays'])
def test_bad_npz_labels_are_a_data_error(tmp_path, members, reason):
  np.savez(tmp_path / 'x.npz', **members)
  with pytest.raises(sources.DataError) as error:
    datasets.load(f'npz:{tmp_path / "x.npz"}', jax.random.key(0))
  assert str(error.value).startswith(f"dataset='npz:{tmp_path / 'x.npz'}'"), str(error.value)
  assert reason in str(error.value) and '\n' not in str(error.value)
