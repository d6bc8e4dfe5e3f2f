"""Training on one's own data: TFDS datasets by name, image folders, array files; sizes, splits, bad input."""

import io
import json
import pathlib
import subprocess
import sys
import zipfile
import zlib

import jax
import numpy as np
import pytest
from PIL import Image

from conftest import trees_equal
from experiments import cli
from gan_jax.data import datasets, examples, image_folder, sources
from gan_jax.reports import stored_runs
from gan_jax.training import construction, loop, plan
from gan_jax.configs import cifar10_conv, mnist_paper

REPO = pathlib.Path(__file__).resolve().parents[1]
TIMINGS = ('it_per_s', 'wall_time', 'run_time', 'eval_seconds')


def write_folder(directory: pathlib.Path, count: int = 24, seed: int = 0, colour: bool = True) -> pathlib.Path:
  """``count`` PNG and JPEG files of mixed sizes (some in a subfolder, some grayscale), under ``directory``."""
  rng = np.random.default_rng(seed)
  (directory / 'more').mkdir(parents=True, exist_ok=True)
  for i in range(count):
    height, width = 12 + i % 5, 10 + i % 7
    rgb = colour and i % 3 != 0
    pixels = rng.integers(0, 256, (height, width, 3) if rgb else (height, width), dtype=np.uint8)
    suffix = '.PNG' if i % 4 == 0 else ('.jpg' if i % 4 == 1 else ('.jpeg' if i % 4 == 2 else '.png'))
    Image.fromarray(pixels).save((directory / 'more' if i % 2 else directory) / f'image_{i:02d}{suffix}')
  (directory / 'notes.txt').write_text('not an image')
  return directory


def _tiny(config, **overrides):
  config.update(dict(num_steps=6, steps_per_call=3, checkpoint_every_steps=3, sample_every_steps=3,
                     log_every_seconds=0.01, batch_size=8, num_shown_samples=8, g_hidden_dims=(16,),
                     d_hidden_dims=(8,), maxout_pieces=2))
  config.update(overrides)
  return config


# ---------------------------------------------------------------- image folders

def test_a_folder_of_mixed_png_and_jpeg_files_becomes_one_resized_array(tmp_path):
  folder = write_folder(tmp_path / 'faces')
  options = datasets.SourceOptions(image_size=8, cache_dir=str(tmp_path / 'cache'))
  dataset = datasets.load(f'images:{folder}', jax.random.key(0), options)
  # 24 files: 2 validation and 2 test (1/12 each), 20 training; grayscale files become RGB beside colour ones.
  assert (dataset.train.shape, dataset.validation.shape, dataset.test.shape) == ((20, 192), (2, 192), (2, 192))
  assert dataset.example_shape == (8, 8, 3) and dataset.train.dtype == np.uint8 and dataset.is_image
  assert dataset.train_labels.size == 0
  # Each file is in exactly one split.
  every = np.concatenate([dataset.train, dataset.validation, dataset.test])
  assert len({row.tobytes() for row in every}) == 24


def test_an_all_grayscale_folder_keeps_one_channel(tmp_path):
  folder = write_folder(tmp_path / 'digits', colour=False)
  dataset = datasets.load(f'images:{folder}', jax.random.key(0),
                      datasets.SourceOptions(image_size=6, cache_dir=str(tmp_path / 'cache')))
  assert dataset.example_shape == (6, 6, 1)


def test_the_decoded_folder_is_cached_and_decoded_again_when_a_file_changes(tmp_path):
  folder = write_folder(tmp_path / 'faces')
  cache = tmp_path / 'cache'
  first, names = image_folder.load(str(folder), 8, cache)
  cached = list((cache / 'images').iterdir())
  assert len(cached) == 1 and cached[0].suffix == '.npy'
  np.testing.assert_array_equal(np.load(cached[0]), first)
  np.save(cached[0], np.zeros_like(first))  # the cache is what a second load reads…
  np.testing.assert_array_equal(image_folder.load(str(folder), 8, cache)[0], np.zeros_like(first))
  Image.fromarray(np.full((9, 9), 7, np.uint8)).save(folder / 'image_00.PNG')  # …until the folder changes
  again, again_names = image_folder.load(str(folder), 8, cache)
  assert again_names == names and np.all(again[names.index('image_00.PNG')] == 7)
  assert len(list((cache / 'images').iterdir())) == 2
  assert image_folder.load(str(folder), 6, cache)[0].shape[1:3] == (6, 6)  # another size, another file


def test_the_default_cache_lives_under_xdg_cache_home(monkeypatch, tmp_path):
  monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
  assert image_folder.default_cache_dir() == tmp_path / 'xdg' / 'gan_jax'
  monkeypatch.delenv('XDG_CACHE_HOME')
  assert image_folder.default_cache_dir() == pathlib.Path.home() / '.cache' / 'gan_jax'


def test_an_image_over_pillows_pixel_limit_is_a_data_error_naming_the_file(tmp_path, monkeypatch):
  folder = tmp_path / 'huge'
  folder.mkdir()
  Image.fromarray(np.zeros((20, 20), np.uint8)).save(folder / 'a.png')  # 400 pixels
  monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 199)  # over twice the limit: Pillow refuses the file
  with pytest.raises(sources.DataError) as error:
    image_folder.load(str(folder), 0, tmp_path / 'cache')
  assert str(error.value) == (
      f"dataset='images:{folder}': cannot read the image file {folder / 'a.png'} (DecompressionBombError: Image "
      'size (400 pixels) exceeds limit of 398 pixels, could be decompression bomb DOS attack.); downscale it or '
      'remove it from the folder')
  monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 200)  # up to twice the limit: Pillow decodes it and warns
  with pytest.warns(Image.DecompressionBombWarning):
    assert image_folder.load(str(folder), 0, tmp_path / 'cache')[0].shape == (1, 20, 20, 1)


def _png_with_a_broken_chunk() -> bytes:
  """A PNG whose image data stops after 10 bytes, followed by a chunk with a type that is not a chunk type."""
  png = io.BytesIO()
  Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(png, 'PNG')
  raw = png.getvalue()
  start = raw.index(b'IDAT') - 4
  length = int.from_bytes(raw[start:start + 4], 'big')
  pixels = raw[start + 8:start + 8 + 10]
  idat = len(pixels).to_bytes(4, 'big') + b'IDAT' + pixels + zlib.crc32(b'IDAT' + pixels).to_bytes(4, 'big')
  return raw[:start] + idat + bytes([0, 0, 0, 5, 0x90, 0xEA, 0xF4, 0x87]) + bytes(9) + raw[start + 12 + length:]


def test_a_png_with_a_broken_chunk_is_a_data_error_naming_the_file(tmp_path):
  (tmp_path / 'broken.png').write_bytes(_png_with_a_broken_chunk())  # Pillow raises SyntaxError while decoding
  with pytest.raises(sources.DataError) as error:
    image_folder.decode(tmp_path / 'broken.png', f'images:{tmp_path}')
  assert str(error.value) == (f"dataset='images:{tmp_path}': cannot read the image file {tmp_path / 'broken.png'} "
                              "(SyntaxError: broken PNG file (chunk b'\\x90\\xea\\xf4\\x87')); replace it or "
                              'remove it from the folder')


def test_the_holdout_split_depends_only_on_the_names():
  names = [f'img_{i}.png' for i in range(120)]
  split = sources.holdout_split(names)
  assert [len(split[s]) for s in sources.SPLITS] == [100, 10, 10]
  assert sorted(np.concatenate(list(split.values()))) == list(range(120))
  shuffled = names[::-1]
  again = sources.holdout_split(shuffled)
  for s in sources.SPLITS:  # the same files, wherever they are listed
    assert sorted(shuffled[i] for i in again[s]) == sorted(names[i] for i in split[s])


# ---------------------------------------------------------------- resize and crop

def test_resize_scales_the_shorter_side_then_crops_the_centre():
  image = np.zeros((20, 40, 3), np.uint8)
  image[:, 20:] = 200  # dark left half, bright right half
  out = examples.resize_and_crop(image, 10)  # 20×40 → 10×20 → columns 5…14: the centre, across the edge
  assert out.shape == (10, 10, 3) and out.dtype == np.uint8
  assert out[:, :3].max() < 20 and out[:, 7:].min() > 180  # Lanczos blurs only the columns next to the edge
  tall = examples.resize_and_crop(np.transpose(image, (1, 0, 2)), 10)  # the same, for a portrait image
  np.testing.assert_array_equal(tall, np.transpose(out, (1, 0, 2)))
  gray = np.full((7, 5, 1), 9, np.uint8)
  np.testing.assert_array_equal(examples.resize_and_crop(gray, 4), np.full((4, 4, 1), 9, np.uint8))
  already = np.arange(16, dtype=np.uint8).reshape(4, 4, 1)
  np.testing.assert_array_equal(examples.resize_and_crop(already, 4), already)


# ---------------------------------------------------------------- array files

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


# ---------------------------------------------------------------- TFDS

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


# ---------------------------------------------------------------- training on them

def test_a_folder_run_resumes_bit_identical_and_evaluates(tmp_path):
  folder = write_folder(tmp_path / 'faces', count=60)
  common = dict(dataset=f'images:{folder}', image_size=8, cache_dir=str(tmp_path / 'cache'), keep_checkpoints=10,
                eval_every_steps=6, eval_num_samples=20, eval_num_validation=5, batch_size=8, steps_per_call=3)
  config = _tiny(mnist_paper.get_config(), num_steps=12, **common)
  loop.run(config, tmp_path / 'straight', print_fn=lambda _: None)
  loop.run(_tiny(mnist_paper.get_config(), num_steps=6, **common), tmp_path / 'resumed',
                 print_fn=lambda _: None)
  loop.run(config, tmp_path / 'resumed', print_fn=lambda _: None)
  states = [stored_runs.restore_run(tmp_path / name)[3] for name in ('straight', 'resumed')]
  assert int(states[1].step) == 12 and trees_equal(*states)
  strip = lambda path: [{k: v for k, v in json.loads(line).items() if k not in TIMINGS}
                        for line in path.read_text().splitlines()]
  assert strip(tmp_path / 'straight' / 'metrics.jsonl') == strip(tmp_path / 'resumed' / 'metrics.jsonl')
  metrics, samples = stored_runs.evaluate_run(tmp_path / 'straight', num_samples=20, which='best')
  assert samples.shape == (20, 8 * 8 * 3) and np.isfinite(metrics['parzen_ll']) and metrics['step'] in (6, 12)


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
      ({**cifar10_conv.get_config().to_dict(), **_tiny_overrides(), 'dataset': f'images:{images}', 'image_size': 28,
        'cache_dir': cache},
       "config.g_output='deconv' cannot take the examples of dataset="),
      (dict(dataset=f'images:{images}', image_size=64, cache_dir=cache, device_memory_mib=0.05),
       f"dataset='images:{images}' does not fit in device memory: each of the 8 device(s) would hold"),
  ]


def _tiny_overrides():
  return dict(num_steps=6, steps_per_call=3, checkpoint_every_steps=3, sample_every_steps=3, batch_size=8,
              num_shown_samples=8)


def test_bad_data_fails_before_training_with_one_line_and_writes_nothing(tmp_path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  for overrides, message in _bad_data_cases(tmp_path):
    workdir = tmp_path / 'run'
    with tfds.testing.mock_data(num_examples=24), pytest.raises(cli.BAD_INPUT) as error:
      loop.run(_tiny(mnist_paper.get_config(), **overrides), workdir, print_fn=lambda _: None)
    assert str(error.value).startswith(message), (overrides, str(error.value))
    assert '\n' not in str(error.value), str(error.value)
    assert not workdir.exists(), overrides


def test_the_memory_check_says_how_big_the_data_is_and_what_fits():
  dataset = datasets.Dataset('npy:x.npy', np.zeros((1000, 3072), np.uint8), np.zeros((0, 3072), np.uint8),
                         np.zeros((0, 3072), np.uint8), (32, 32, 3))
  datasets.check_fits_on_device(dataset, datasets.Shards(), model_bytes=0, memory_bytes=4 * 2**20)
  with pytest.raises(datasets.DataError) as error:
    datasets.check_fits_on_device(dataset, datasets.Shards(), model_bytes=2**20, memory_bytes=3 * 2**20)
  message = str(error.value)
  assert '1,000 examples of shape (32, 32, 3) uint8 (2.9 MiB) next to the model (1.0 MiB)' in message
  assert 'about 580 such examples fit' in message  # (0.9 · 3 MiB − 1 MiB) / 3,072 bytes


@pytest.mark.slow
def test_the_cli_trains_on_a_folder_and_refuses_an_empty_one_with_status_2(tmp_path):
  folder = write_folder(tmp_path / 'faces', count=40)
  command = [sys.executable, '-m', 'experiments.train', '--config', 'gan_jax/configs/mnist_paper.py',
             f'--config.dataset=images:{folder}', '--config.image_size=8', f'--config.cache_dir={tmp_path / "c"}',
             *[f'--config.{k}={v}' for k, v in _tiny_overrides().items()]]
  done = subprocess.run([*command, '--workdir', str(tmp_path / 'run')], cwd=REPO, capture_output=True, text=True)
  assert done.returncode == 0, done.stderr[-2000:]
  assert (tmp_path / 'run' / 'checkpoints' / '6').is_dir()
  (tmp_path / 'empty').mkdir()
  command[command.index(f'--config.dataset=images:{folder}')] = f'--config.dataset=images:{tmp_path / "empty"}'
  refused = subprocess.run([*command, '--workdir', str(tmp_path / 'no_run')], cwd=REPO, capture_output=True,
                           text=True)
  assert refused.returncode == 2
  assert refused.stderr == f"error: dataset='images:{tmp_path / 'empty'}': no image files (.png, .jpg, .jpeg) " \
                           f"under {tmp_path / 'empty'}\n"
  assert not (tmp_path / 'no_run').exists()


def test_fully_connected_presets_take_the_size_of_the_data(tmp_path):
  images = np.random.default_rng(4).integers(0, 256, (40, 6, 5, 3), dtype=np.uint8)
  np.save(tmp_path / 'x.npy', images)
  config = _tiny(mnist_paper.get_config(), dataset=f'npy:{tmp_path / "x.npy"}')
  dataset = datasets.load(config.dataset, jax.random.key(0))
  gan, state = construction.build(plan.game_spec(config), dataset, config.seed)
  assert state.d_params is not None
  samples = gan.generator(state.g_params, gan.prior.sample(jax.random.key(1), 3))
  assert samples.shape == (3, 90)


def test_classifier_metrics_need_a_classifier_for_data_of_this_shape(tmp_path):
  from gan_jax import models
  from gan_jax.evaluation import classifier  # pylint: disable=g-import-not-at-top
  from flax import nnx  # pylint: disable=g-import-not-at-top
  _, params = models.as_pure_function(classifier.MLPClassifier(16, (8,), rngs=nnx.Rngs(0)))
  classifier.save(tmp_path / 'c', params)
  (tmp_path / 'c' / 'classifier.json').write_text(json.dumps({'hidden_dims': [8], 'dataset': 'npy:other.npy'}))
  np.save(tmp_path / 'x.npy', np.zeros((40, 5, 5, 1), np.uint8))
  dataset = datasets.load(f'npy:{tmp_path / "x.npy"}', jax.random.key(0))
  with pytest.raises(cli.BAD_INPUT, match=r"was trained on dataset='npy:other.npy', whose examples are not the "
                                          r'\(5, 5, 1\) examples'):
    stored_runs._load_classifier(tmp_path / 'c', dataset)  # pylint: disable=protected-access


def test_empty_held_out_splits_are_refused_by_the_monitor_and_by_evaluate(tmp_path, monkeypatch):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  config = _tiny(mnist_paper.get_config(), dataset='tfds:kmnist', train_split='train', validation_split='train[:0]',
                 test_split='test[:0]', eval_every_steps=3)
  with tfds.testing.mock_data(num_examples=24):
    with pytest.raises(cli.BAD_INPUT, match='has no validation examples for the monitor; use 0'):
      loop.run(config, tmp_path / 'run', print_fn=lambda _: None)
    assert not (tmp_path / 'run').exists()
    config.eval_every_steps = 0
    loop.run(config, tmp_path / 'run', print_fn=lambda _: None)
    monkeypatch.setattr(stored_runs.train, 'sample', lambda *args: pytest.fail('sampled before refusing'))
    with pytest.raises(cli.BAD_INPUT, match='has 0 validation and 0 test examples; the Parzen protocol needs both'):
      stored_runs.evaluate_run(tmp_path / 'run', num_samples=4)
