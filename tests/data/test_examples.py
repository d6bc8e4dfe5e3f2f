"""Examples: resizing and cropping images."""

import numpy as np

from gan_jax.data import examples


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
