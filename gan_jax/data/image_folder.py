"""A folder of PNG and JPEG files as one uint8 array, decoded once and cached.

``load(DIR, image_size, cache_dir)`` finds every ``.png``, ``.jpg`` and
``.jpeg`` file under DIR (recursively, any case of the suffix), decodes it
with Pillow, resizes and centre-crops it when ``image_size`` > 0
(``sources.resize_and_crop``) and stacks the images in the order of their
relative paths. Grayscale files stay one channel when every file is
grayscale; otherwise all become RGB (alpha and palettes are dropped).

The result is cached as one ``.npy`` file (uint8 [N, H, W, C]) in
``CACHE_DIR/images/``, named by a hash of the folder's absolute path, each
file's relative path, size and modification time, and ``image_size``: an
edited folder is decoded again. ``CACHE_DIR`` is ``config.cache_dir``, by
default ``$XDG_CACHE_HOME/gan_jax`` or ``~/.cache/gan_jax``
(``default_cache_dir``); delete ``CACHE_DIR/images`` to clear it. A cache
file is written to a temporary name and renamed, so a killed run never
leaves a partial one.
"""

import hashlib
import os
import pathlib

import numpy as np
from PIL import Image

from gan_jax.data.examples import DataError, stack_images

SUFFIXES = ('.png', '.jpg', '.jpeg')
CACHE_VERSION = 1
_GRAYSCALE_MODES = ('1', 'L', 'LA', 'I', 'I;16', 'F')


def default_cache_dir() -> pathlib.Path:
  """``$XDG_CACHE_HOME/gan_jax``, or ``~/.cache/gan_jax`` when XDG_CACHE_HOME is not set."""
  return pathlib.Path(os.environ.get('XDG_CACHE_HOME') or pathlib.Path.home() / '.cache') / 'gan_jax'


def image_files(directory: pathlib.Path) -> list[pathlib.Path]:
  """The PNG and JPEG files under ``directory``, sorted by relative path."""
  return sorted((path for path in directory.rglob('*') if path.suffix.lower() in SUFFIXES and path.is_file()),
                key=lambda path: path.relative_to(directory).as_posix())


def cache_path(directory: pathlib.Path, files: list[pathlib.Path], image_size: int,
               cache_dir: str | pathlib.Path) -> pathlib.Path:
  """Where the decoded array of ``files`` goes: a hash of the folder, each file's name, size and mtime, and the size."""
  digest = hashlib.sha256(f'{CACHE_VERSION} {directory.resolve()} {image_size}'.encode())
  for path in files:
    status = path.stat()
    digest.update(f'\n{path.relative_to(directory).as_posix()} {status.st_size} {status.st_mtime_ns}'.encode())
  return pathlib.Path(cache_dir or default_cache_dir()).expanduser() / 'images' / f'{digest.hexdigest()[:24]}.npy'


# What Pillow raises for a file it cannot decode: not an image or truncated (OSError, which includes
# UnidentifiedImageError), a broken PNG chunk (SyntaxError), bad values (ValueError), or a header
# claiming more than twice Image.MAX_IMAGE_PIXELS pixels (DecompressionBombError; between once and
# twice, Pillow decodes the file and warns with DecompressionBombWarning).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def decode(path: pathlib.Path, spec: str) -> np.ndarray:
  """One image file as uint8 [H, W, 1] (grayscale) or [H, W, 3]; DataError naming the file if unreadable."""
  try:
    with Image.open(path) as picture:
      grayscale = picture.mode in _GRAYSCALE_MODES
      pixels = np.asarray(picture.convert('L' if grayscale else 'RGB'))
  except _DECODE_ERRORS as error:
    todo = ('downscale it or remove it from the folder' if isinstance(error, Image.DecompressionBombError)
            else 'replace it or remove it from the folder')
    raise DataError(f'dataset={spec!r}: cannot read the image file {path} ({type(error).__name__}: '
                    f'{str(error)[:200]}); {todo}') from None
  return pixels[..., None] if grayscale else pixels


def decode_folder(directory: pathlib.Path, files: list[pathlib.Path], image_size: int, spec: str) -> np.ndarray:
  """uint8 [N, H, W, C] of ``files``, one channel only if all are grayscale."""
  images = [decode(path, spec) for path in files]
  if any(image.shape[-1] == 3 for image in images):
    images = [np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image for image in images]
  return stack_images(images, image_size, f'dataset={spec!r}')


def load(directory_text: str, image_size: int, cache_dir: str | pathlib.Path = '') -> tuple[np.ndarray, list[str]]:
  """(uint8 [N, H, W, C] images, their relative paths) of the folder, from the cache when it is current."""
  spec = f'images:{directory_text}'
  directory = pathlib.Path(directory_text).expanduser()
  if not directory.is_dir():
    raise DataError(f'dataset={spec!r}: {directory} is not a directory')
  files = image_files(directory)
  if not files:
    raise DataError(f'dataset={spec!r}: no image files ({", ".join(SUFFIXES)}) under {directory}')
  names = [path.relative_to(directory).as_posix() for path in files]
  cached = cache_path(directory, files, image_size, cache_dir)
  if cached.is_file():
    return np.load(cached, allow_pickle=False), names
  images = decode_folder(directory, files, image_size, spec)
  try:
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f'{cached.stem}.{os.getpid()}.partial.npy')
    np.save(partial, images)
    os.replace(partial, cached)
  except OSError as error:  # a read-only cache costs time, not correctness
    print(f'note: could not cache the decoded images in {cached.parent} ({error}); they are decoded again next time')
  return images, names
