"""Sample pictures: image grids and rasterised toy plots."""

import numpy as np
from PIL import Image

from gan_jax.evaluation import viz


def test_image_grid_tiles_images_row_by_row_with_padding():
  images = np.zeros((5, 2 * 3 * 1), np.float32)
  images[1] = 1.0  # the second image is white
  grid = viz.image_grid(images, (2, 3, 1), columns=3, padding=1)
  assert grid.shape == (2 * (2 + 1) + 1, 3 * (3 + 1) + 1, 3) and grid.dtype == np.uint8
  np.testing.assert_array_equal(grid[1:3, 1:4], 0)      # first image: black
  np.testing.assert_array_equal(grid[1:3, 5:8], 255)    # second image: white
  np.testing.assert_array_equal(grid[4:6, 5:8], 0)      # fifth image, second row
  np.testing.assert_array_equal(grid[4:6, 9:12], 255)   # empty slot: background


def test_image_grid_clips_and_keeps_colour():
  images = np.stack([np.full((4, 4, 3), [2.0, 0.5, -1.0])])
  grid = viz.image_grid(images, (4, 4, 3), padding=0)
  np.testing.assert_array_equal(grid[0, 0], [255, 128, 0])


def test_scatter_image_puts_points_where_they_are():
  picture = viz.scatter_image(np.array([[1.0, 1.0]]), np.array([[-1.0, -1.0]]), extent=1.0, size=11)
  np.testing.assert_array_equal(picture[0, 10], viz.SAMPLE_COLOUR)   # top right
  np.testing.assert_array_equal(picture[10, 0], viz.DATA_COLOUR)     # bottom left
  assert (picture == 255).all(axis=-1).sum() == 11 * 11 - 2


def test_histogram_image_draws_sample_bars_and_data_outline():
  picture = viz.histogram_image(np.full(100, 0.25), np.full(50, 0.75), 0.0, 1.0, bins=4, height=10)
  assert picture.shape == (10, 4, 3)
  assert (picture[1:, 1] == viz.SAMPLE_COLOUR).all()                     # full-height bar at 0.25
  np.testing.assert_array_equal(picture[10 - 1 - 4, 3], viz.DATA_COLOUR)  # half-height outline at 0.75


def test_save_png_round_trips(tmp_path):
  image = (np.arange(4 * 5 * 3) % 256).astype(np.uint8).reshape(4, 5, 3)
  viz.save_png(tmp_path / 'sub' / 'x.png', image)
  np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / 'sub' / 'x.png')), image)
