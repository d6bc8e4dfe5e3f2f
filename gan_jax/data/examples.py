"""What every source reads into: examples of one split, the data error, and images brought to one shape.

The vocabulary shared by the readers (``sources`` for TFDS and array files,
``idx`` for MNIST's IDX files, ``image_folder`` for folders of images); it
imports none of them.
"""

import dataclasses

import numpy as np
from PIL import Image

DEFAULT_VALIDATION_FRACTION = 1 / 6   # TFDS datasets and IDX files: the last 1/6 of 'train'


class DataError(ValueError):
  """A dataset cannot be read; the message names the dataset and what to do."""


@dataclasses.dataclass(frozen=True)
class Split:
  """One split's examples: ``examples`` uint8 [n, H, W, C] (images) or [n, D]; ``labels`` int32 [n] or [0]."""
  examples: np.ndarray
  labels: np.ndarray


def resize_and_crop(image: np.ndarray, size: int) -> np.ndarray:
  """uint8 [H, W, C] → uint8 [size, size, C]: shorter side scaled to ``size`` (Lanczos), centre crop."""
  height, width, channels = image.shape
  if (height, width) == (size, size):
    return image
  scale = size / min(height, width)
  new_width, new_height = max(size, round(width * scale)), max(size, round(height * scale))
  picture = Image.fromarray(image[..., 0] if channels == 1 else image)
  resized = np.asarray(picture.resize((new_width, new_height), Image.Resampling.LANCZOS))
  top, left = (new_height - size) // 2, (new_width - size) // 2
  return resized[top:top + size, left:left + size].reshape(size, size, channels)


def stack_images(images: list[np.ndarray], image_size: int, describe: str) -> np.ndarray:
  """uint8 [n, H, W, C] from images [H, W, C], resized and cropped when ``image_size`` > 0.

  Raises DataError, naming ``config.image_size``, when the images differ in
  shape and no size is set.
  """
  if image_size:
    images = [resize_and_crop(image, image_size) for image in images]
  shapes = sorted({image.shape for image in images})
  if len(shapes) > 1:
    raise DataError(f'{describe}: images have {len(shapes)} different shapes ({shapes[0]}, {shapes[-1]}, …); '
                    f'set config.image_size to resize and centre-crop them all to one size')
  return np.stack(images).astype(np.uint8)
