"""Pictures of samples: image grids, and rasterised plots of 1-D and 2-D toy samples.

Every function returns a uint8 image [height, width, 3] (NumPy) that
``save_png`` writes and TensorBoard shows; no plotting library needed.
"""

import math
import pathlib

import numpy as np
from PIL import Image

BACKGROUND, SAMPLE_COLOUR, DATA_COLOUR = 255, (20, 60, 200), (230, 60, 30)


def image_grid(images: np.ndarray, example_shape: tuple[int, int, int], columns: int | None = None,
               padding: int = 2) -> np.ndarray:
  """Tiles images into one picture.

  Args:
    images: [n, H·W·C] or [n, H, W, C] floats in [0, 1].
    example_shape: (H, W, C), C = 1 (grey) or 3 (RGB).
    columns: images per row (default ⌈√n⌉).
    padding: white pixels between images.
  Returns:
    uint8 [rows·(H + padding) + padding, columns·(W + padding) + padding, 3].
  """
  height, width, channels = example_shape
  images = np.clip(np.asarray(images, np.float32).reshape(-1, height, width, channels), 0.0, 1.0)
  if channels == 1:
    images = np.repeat(images, 3, axis=-1)
  columns = columns or math.ceil(math.sqrt(len(images)))
  rows = math.ceil(len(images) / columns)
  grid = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding, 3),
                 BACKGROUND, np.uint8)
  for i, image in enumerate(images):
    top, left = padding + (i // columns) * (height + padding), padding + (i % columns) * (width + padding)
    grid[top:top + height, left:left + width] = np.round(image * 255).astype(np.uint8)
  return grid


def scatter_image(samples: np.ndarray, data: np.ndarray, extent: float, size: int = 256) -> np.ndarray:
  """2-D samples (blue) over data points (red) in the square [−extent, extent]²; uint8 [size, size, 3]."""
  canvas = np.full((size, size, 3), BACKGROUND, np.uint8)
  for points, colour in ((data, DATA_COLOUR), (samples, SAMPLE_COLOUR)):
    points = np.asarray(points, np.float64)
    column = np.round((points[:, 0] + extent) / (2 * extent) * (size - 1)).astype(int)
    row = np.round((extent - points[:, 1]) / (2 * extent) * (size - 1)).astype(int)
    inside = (column >= 0) & (column < size) & (row >= 0) & (row < size)
    canvas[row[inside], column[inside]] = colour
  return canvas


def histogram_image(samples: np.ndarray, data: np.ndarray, low: float, high: float, bins: int = 128,
                    height: int = 128) -> np.ndarray:
  """Histograms of 1-D samples (blue bars) and data (red outline) on [low, high]; uint8 [height, bins, 3]."""
  canvas = np.full((height, bins, 3), BACKGROUND, np.uint8)
  counts = [np.histogram(np.ravel(values), bins=bins, range=(low, high))[0] for values in (samples, data)]
  scale = max(1, max(c.max() for c in counts))
  sample_heights, data_heights = (np.round(c / scale * (height - 1)).astype(int) for c in counts)
  for column in range(bins):
    canvas[height - sample_heights[column]:, column] = SAMPLE_COLOUR
    if counts[1][column]:
      canvas[height - 1 - data_heights[column], column] = DATA_COLOUR
  return canvas


def save_png(path: str | pathlib.Path, image: np.ndarray) -> None:
  """Writes a uint8 [H, W, 3] image as PNG, creating the parent directory."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(np.asarray(image, np.uint8)).save(path)
