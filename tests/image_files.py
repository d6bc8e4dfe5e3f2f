"""Writes small folders of image files for tests."""

import pathlib

import numpy as np
from PIL import Image


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
