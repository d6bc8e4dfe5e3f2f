"""Folders of image files: decoding, resizing, the cache, unreadable files, and training on a folder."""

import io
import json
import pathlib
import zlib

import jax
import numpy as np
import pytest
from PIL import Image

from conftest import trees_equal
from gan_jax.configs import mnist_paper
from gan_jax.data import datasets, image_folder, sources
from gan_jax.reports import stored_runs
from gan_jax.training import loop
from image_files import write_folder
from tiny_runs import tiny_image_config


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


TIMINGS = ('it_per_s', 'wall_time', 'run_time', 'eval_seconds')


@pytest.mark.slow
def test_a_folder_run_resumes_bit_identical_and_evaluates(tmp_path):
  folder = write_folder(tmp_path / 'faces', count=60)
  common = dict(dataset=f'images:{folder}', image_size=8, cache_dir=str(tmp_path / 'cache'), keep_checkpoints=10,
                eval_every_steps=6, eval_num_samples=20, eval_num_validation=5, batch_size=8, steps_per_call=3)
  config = tiny_image_config(mnist_paper.get_config(), num_steps=12, **common)
  loop.run(config, tmp_path / 'straight', print_fn=lambda _: None)
  loop.run(tiny_image_config(mnist_paper.get_config(), num_steps=6, **common), tmp_path / 'resumed',
                 print_fn=lambda _: None)
  loop.run(config, tmp_path / 'resumed', print_fn=lambda _: None)
  states = [stored_runs.restore_run(tmp_path / name)[3] for name in ('straight', 'resumed')]
  assert int(states[1].step) == 12 and trees_equal(*states)
  strip = lambda path: [{k: v for k, v in json.loads(line).items() if k not in TIMINGS}
                        for line in path.read_text().splitlines()]
  assert strip(tmp_path / 'straight' / 'metrics.jsonl') == strip(tmp_path / 'resumed' / 'metrics.jsonl')
  metrics, samples = stored_runs.evaluate_run(tmp_path / 'straight', num_samples=20, which='best')
  assert samples.shape == (20, 8 * 8 * 3) and np.isfinite(metrics['parzen_ll']) and metrics['step'] in (6, 12)
