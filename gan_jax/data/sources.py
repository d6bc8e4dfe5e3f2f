"""Image sources: where a config's ``dataset`` reads its examples from, split into train / validation / test.

Kinds of ``dataset`` string read here (the toy densities live in ``datasets``):

* ``tfds:NAME[:CONFIG]``: any TFDS dataset with an image feature, read with
  ``tfds.data_source`` (random access; only the records needed are read).
  ``mnist``, ``fashion_mnist`` and ``cifar10`` are aliases of
  ``tfds:mnist`` …. The image feature is the dataset's only ``Image``
  feature, or ``config.image_feature``; labels come from a ``label``
  ``ClassLabel`` feature where there is one. Splits are TFDS split strings
  (``train``, ``train[:50000]``, ``train[-10%:]``, ``a+b``) in
  ``config.train_split`` / ``validation_split`` / ``test_split``; by
  default the last 1/6 of ``train`` is validation (1/5 for CIFAR-10, as the
  paper's code) and ``test`` is test.
* ``idx:DIR``: the four MNIST IDX files (raw or .gz; ``idx``), the paper's split.
* ``images:DIR``: every PNG and JPEG file under DIR (``image_folder``).
  When every file lies in a subfolder of DIR, the subfolders are the
  classes: a file's label is the rank of its subfolder's name among them
  (``folder_labels``), as image-folder loaders do; otherwise no labels.
* ``npy:PATH`` / ``npz:PATH``: an array [N, H, W, C] (images, C = 1 or 3) or
  [N, D] (vectors), uint8 in [0, 255] or float in [0, 1]; an .npz holds one
  array, or ``train`` (and optionally ``validation`` and ``test``). Labels:
  an .npz with one array may hold its integer labels [N] beside it as
  ``labels`` or ``y``; one with splits as ``train_labels`` (and
  ``validation_labels``, ``test_labels``).

Image folders and array files without their own splits are split by a
fixed rule (``holdout_split``): examples ranked by a hash of their name
(relative path or index), the last 1/12 is test and the 1/12 before it
validation. It depends on nothing but the names, so it is the same on every
machine and for every seed.

Images are kept as uint8 pixels [n, H, W, C] (floats in [0, 1] are stored
as round(255·x)); with ``config.image_size`` = s > 0 each image is resized
so that its shorter side is s (Lanczos) and centre-cropped to s × s;
grayscale and colour stay as stored.
"""

import contextlib
import dataclasses
import hashlib
import pathlib
import re
import tokenize
import zipfile
import zlib
from collections.abc import Callable, Mapping

from absl import logging as absl_logging
import numpy as np

from gan_jax.data import idx, image_folder
from gan_jax.data.examples import DEFAULT_VALIDATION_FRACTION, DataError, Split, stack_images

TFDS_ALIASES = ('mnist', 'fashion_mnist', 'cifar10')
PREFIXES = ('tfds:', 'idx:', 'images:', 'npy:', 'npz:')
FORMS = "'tfds:NAME[:CONFIG]', 'idx:DIR', 'images:DIR', 'npy:PATH' or 'npz:PATH'"
SPLITS = ('train', 'validation', 'test')
VALIDATION_FRACTION = {'mnist': 1 / 6, 'fashion_mnist': 1 / 6, 'cifar10': 1 / 5}
HOLDOUT_FRACTION = 1 / 12             # folders and arrays: validation and test, each


@dataclasses.dataclass(frozen=True)
class SourceOptions:
  """How an image source is read (the config fields of the same names; see ``configs/base.py``)."""
  image_size: int = 0
  image_feature: str = ''
  train_split: str = ''
  validation_split: str = ''
  test_split: str = ''
  data_dir: str = ''
  cache_dir: str = ''


def kind_of(spec: str) -> tuple[str, str]:
  """(kind, argument) of an image source string: ('tfds', 'mnist'), ('images', '/data/faces'), …

  Raises DataError if ``spec`` is not one.
  """
  if spec in TFDS_ALIASES:
    return 'tfds', spec
  for prefix in PREFIXES:
    if spec.startswith(prefix) and len(spec) > len(prefix):
      return prefix[:-1], spec[len(prefix):]
  raise DataError(f'config.dataset={spec!r} is not an image source; allowed: {list(TFDS_ALIASES)} or {FORMS}')


# ---------------------------------------------------------------- split strings

_SPLIT_PART = re.compile(r'^(?P<name>[\w-]+)(\[(?P<start>[^:\]]*):(?P<stop>[^:\]]*)\])?$')
_BOUND = re.compile(r'^-?\d+%?$')


def parse_split(text: str) -> list[tuple[str, str, str]]:
  """A TFDS split string as (split name, start, stop) parts; '' bounds are open. Raises ValueError."""
  parts = []
  for part in text.replace(' ', '').split('+'):
    match = _SPLIT_PART.match(part)
    if not match or any(bound and not _BOUND.match(bound) for bound in (match['start'], match['stop'])):
      raise ValueError(f'{text!r} is not a split string; write NAME, NAME[start:stop] (integers, or percentages '
                       "like 90%) or parts joined by '+', e.g. 'train[:50000]'")
    parts.append((match['name'], match['start'] or '', match['stop'] or ''))
  return parts


def _bound(text: str, size: int, default: int) -> int:
  if not text:
    return default
  value = round(float(text[:-1]) / 100 * size) if text.endswith('%') else int(text)
  return min(max(value + size if value < 0 else value, 0), size)


def split_ranges(text: str, size_of: Callable[[str], int]) -> list[tuple[str, int, int]]:
  """The [start, stop) ranges of named splits that a split string selects; ``size_of(name)`` is a split's size."""
  ranges = []
  for name, start, stop in parse_split(text):
    size = size_of(name)
    ranges.append((name, _bound(start, size, 0), _bound(stop, size, size)))
  return ranges


def _default_ranges(size_of: Callable[[str], int], validation_fraction: float) -> dict[str, list]:
  """The paper's split: the last fraction of 'train' is validation; 'test' is test."""
  size = size_of('train')
  num_train = size - round(size * validation_fraction)
  return {'train': [('train', 0, num_train)], 'validation': [('train', num_train, size)],
          'test': [('test', 0, size_of('test'))]}


def holdout_split(names: list[str]) -> dict[str, np.ndarray]:
  """Indices of the training, validation and test examples of ``names`` (one per example), by the fixed rule.

  Examples are ranked by the SHA-1 of their names; the last
  round(n/12) are test, the round(n/12) before them validation.
  """
  order = sorted(range(len(names)), key=lambda i: hashlib.sha1(names[i].encode()).digest())
  num_holdout = round(len(names) * HOLDOUT_FRACTION)
  num_train = len(names) - 2 * num_holdout
  cut = lambda a, b: np.sort(np.asarray(order[a:b], np.int64))
  return {'train': cut(0, num_train), 'validation': cut(num_train, num_train + num_holdout),
          'test': cut(num_train + num_holdout, len(names))}


# ---------------------------------------------------------------- TFDS

def tfds_name(argument: str) -> str:
  """TFDS's name for ``NAME[:CONFIG]``: 'NAME' or 'NAME/CONFIG'."""
  return argument.replace(':', '/', 1)


def _tfds():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  (slow import)
  return tfds


@contextlib.contextmanager
def _quiet_absl():
  """TFDS logs a warning for every folder it looks into; only errors are shown meanwhile."""
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.ERROR)
  try:
    yield
  finally:
    absl_logging.set_verbosity(verbosity)


def _image_feature(builder, spec: str, chosen: str) -> tuple[str, str | None]:
  """(image feature, label feature or None) of a TFDS dataset, from its info."""
  tfds = _tfds()
  features = builder.info.features
  images = [name for name, feature in features.items() if isinstance(feature, tfds.features.Image)]
  if chosen:
    if chosen not in images:
      raise DataError(f'config.image_feature={chosen!r}: dataset={spec!r} has no image feature of that name; '
                      f'its image features: {images}')
  elif len(images) != 1:
    raise DataError(f'dataset={spec!r} has {len(images)} image features {images}; '
                    'set config.image_feature to one of them' if images else
                    f'dataset={spec!r} has no image feature (its features: {list(features)})')
  label = features['label'] if 'label' in features else None
  return chosen or images[0], 'label' if isinstance(label, tfds.features.ClassLabel) else None


def _first_line(error: Exception) -> str:
  """The first line of an exception's message (at most 200 characters), or its type's name."""
  return (str(error).splitlines()[0] if str(error) else type(error).__name__)[:200]


def _tfds_error(spec: str, what: str, error: Exception) -> DataError:
  return DataError(
      f"dataset={spec!r}: TFDS could not read or download {what} ({type(error).__name__}: {_first_line(error)}). "
      f"Downloading needs network and the download extra (pip install -e '.[download]'); without network, "
      f'use MNIST IDX files: --config.dataset=idx:/path/to/mnist, an image folder (images:DIR) or an array '
      f'file (npy:PATH). A split the dataset does not have: choose its splits with config.train_split, '
      f'validation_split and test_split')


def _tfds_ranges(split: str, argument: str, options: SourceOptions,
                 size_of: Callable[[str], int]) -> list[tuple[str, int, int]]:
  """The (TFDS split, start, stop) ranges that make up ``split``: the config's split string, or the default."""
  chosen = {'train': options.train_split, 'validation': options.validation_split, 'test': options.test_split}[split]
  if chosen:
    return split_ranges(chosen, size_of)
  if split == 'test':
    return [('test', 0, size_of('test'))]
  return _default_ranges(size_of, VALIDATION_FRACTION.get(argument, DEFAULT_VALIDATION_FRACTION))[split]


def _read_tfds(spec: str, argument: str, options: SourceOptions,
               selections: Mapping[str, Callable[[int], range]]) -> dict[str, Split]:
  tfds = _tfds()
  name, data_dir = tfds_name(argument), options.data_dir or None
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except Exception as error:  # DatasetNotFoundError and friends
    raise DataError(f'dataset={spec!r}: {name!r} is not a TFDS dataset ({_first_line(error)})') from None
  image_key, label_key = _image_feature(builder, spec, options.image_feature)
  opened = {}

  def records_of(split_name: str):
    if split_name not in opened:
      try:
        opened[split_name] = tfds.data_source(name, split=split_name, data_dir=data_dir, download=True)
      except Exception as error:  # TFDS raises many types: missing TensorFlow, network, checksum, split…
        raise _tfds_error(spec, f'the {split_name!r} split', error) from None
    return opened[split_name]

  result = {}
  for split, select in selections.items():
    ranges = _tfds_ranges(split, argument, options, lambda split_name: len(records_of(split_name)))
    positions = [(split_name, index) for split_name, start, stop in ranges for index in range(start, stop)]
    records = [records_of(split_name)[index] for split_name, index in
               (positions[i] for i in select(len(positions)))]
    images = [np.asarray(record[image_key]) for record in records]
    examples = (stack_images(images, options.image_size, f'dataset={spec!r}') if images
                else np.zeros((0, 0, 0, 0), np.uint8))
    labels = [record[label_key] for record in records] if label_key else []
    result[split] = Split(examples, np.asarray(labels, np.int32))
  return result


# ---------------------------------------------------------------- array files

def check_array(array: np.ndarray, describe: str) -> np.ndarray:
  """An array file's examples: uint8 as they are; floats in [0, 1] as uint8 images or float32 vectors.

  Raises DataError saying what the array is and what it must be.
  """
  shape_rule = 'shape [N, H, W, C] (images, C = 1 or 3) or [N, D] (vectors)'
  if array.ndim not in (2, 4) or (array.ndim == 4 and array.shape[-1] not in (1, 3)) or array.shape[0] == 0:
    hint = '; for grayscale images add a channel axis: x[..., None]' if array.ndim == 3 else ''
    raise DataError(f'{describe}: an array of shape {array.shape} is not allowed; it must have {shape_rule}{hint}')
  if array.dtype == np.uint8:
    return array
  if not np.issubdtype(array.dtype, np.floating):
    raise DataError(f'{describe}: dtype {array.dtype} is not allowed; use uint8 in [0, 255] or float in [0, 1] '
                    '(e.g. x.astype(np.uint8))')
  low, high = float(np.min(array)), float(np.max(array))
  if not (np.isfinite(low) and np.isfinite(high) and 0.0 <= low and high <= 1.0):
    raise DataError(f'{describe}: float values must lie in [0, 1]; this array has values in [{low:g}, {high:g}] '
                    '(scale them, or store uint8 pixels in [0, 255])')
  if array.ndim == 4:
    return np.round(array.astype(np.float64) * 255).astype(np.uint8)
  return array.astype(np.float32)


# What np.load raises for a file it cannot decode: missing or unreadable (OSError), truncated or
# corrupt (ValueError, EOFError, zipfile's BadZipFile and NotImplementedError, zlib.error, a header
# that does not tokenize), an object array such as ragged rows (ValueError: it would need pickle), or
# a header asking for more memory than there is (MemoryError).
_ARRAY_FILE_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError, zlib.error,
                      tokenize.TokenError, MemoryError)


@contextlib.contextmanager
def _decoding(spec: str, path: pathlib.Path, kind: str):
  """Turns what np.load raises for a file it cannot decode into a DataError: numpy's reason, and what to do."""
  try:
    yield
  except _ARRAY_FILE_ERRORS as error:
    if isinstance(error, OSError):
      hint = ''
    elif isinstance(error, MemoryError):
      hint = '; it does not fit in memory here (or its header is corrupt): use fewer or smaller examples'
    else:
      hint = (f'; it must be a whole file written by np.{"save" if kind == "npy" else "savez"}, of numeric arrays '
              '(uint8, or float in [0, 1]), not object arrays (ragged rows: pad or resize them to one shape)')
    raise DataError(f'dataset={spec!r}: cannot read {path} as a .{kind} file ({type(error).__name__}: '
                    f'{_first_line(error)}){hint}') from None


LABEL_MEMBERS = ('labels', 'y')  # an .npz file's labels beside its one array


def _npz_members(spec: str, keys: list[str]) -> dict[str, str]:
  """Which member of an .npz file holds which split and which labels: {'all': key[, 'all_labels': 'labels']}
  or {'train': 'train'[, 'train_labels': …, 'validation': …]}."""
  if 'train' in keys:
    return {name: name for split in SPLITS for name in (split, f'{split}_labels') if name in keys}
  if len(keys) == 1:
    return {'all': keys[0]}
  label_keys = [key for key in keys if key in LABEL_MEMBERS]
  examples = [key for key in keys if key not in LABEL_MEMBERS]
  if len(examples) == 1 and len(label_keys) <= 1:
    return {'all': examples[0], **({'all_labels': label_keys[0]} if label_keys else {})}
  raise DataError(f"dataset={spec!r}: the .npz file holds {keys}; it must hold one array (and its labels as "
                  "'labels' or 'y'), or 'train' (and optionally 'validation' and 'test', labels as 'train_labels' …)")


def check_labels(labels: np.ndarray, num_examples: int, describe: str) -> np.ndarray:
  """Labels [num_examples] of non-negative integers as int32; DataError saying what they are otherwise."""
  if labels.shape != (num_examples,) or not np.issubdtype(labels.dtype, np.integer):
    raise DataError(f'{describe}: labels of shape {labels.shape} and dtype {labels.dtype} are not allowed; they must '
                    f'be integers of shape ({num_examples},), one class per example')
  if labels.size and (labels.min() < 0 or labels.max() >= 2**31):
    raise DataError(f'{describe}: labels must lie in [0, 2^31); these run from {labels.min()} to {labels.max()}')
  return labels.astype(np.int32)


def _load_array_file(spec: str, path: pathlib.Path, kind: str) -> dict[str, np.ndarray]:
  """The decoded arrays of an .npy / .npz file; DataError if np.load cannot decode it or it is the other kind."""
  with _decoding(spec, path, kind):
    loaded = np.load(path, allow_pickle=False)
  if isinstance(loaded, np.ndarray):
    if kind == 'npz':
      raise DataError(f'dataset={spec!r}: {path} is not a .npz file')
    return {'all': loaded}
  with loaded:  # an .npz file's members are decoded when read
    if kind == 'npy':
      raise DataError(f'dataset={spec!r}: {path} is not a .npy file')
    members = _npz_members(spec, list(loaded.keys()))
    with _decoding(spec, path, kind):
      arrays = {split: loaded[key] for split, key in members.items()}
  for split, array in arrays.items():
    if not isinstance(array, np.ndarray):  # np.load gives the bytes of a member that is not an .npy array
      raise DataError(f'dataset={spec!r}: its member {members[split]!r} is not an .npy array; write the file '
                      'with np.savez')
  return arrays


def _split_labels(spec: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """The labels of each split that has them, checked against its examples (``<split>_labels`` members)."""
  labels = {}
  for name, array in arrays.items():
    if name.endswith('_labels'):
      split = name[:-len('_labels')]
      describe = f'dataset={spec!r}' + ('' if split == 'all' else f' ({name!r})')
      labels[split] = check_labels(array, arrays[split].shape[0], describe)
  return labels


def _read_array_file(kind: str, path_text: str, image_size: int) -> tuple[dict[str, np.ndarray],
                                                                           dict[str, np.ndarray]]:
  """The arrays of an .npy / .npz file, {'all': x} or {'train': x[, 'validation': …, 'test': …]}, and the labels
  of those that have them, by the same keys."""
  spec = f'{kind}:{path_text}'
  arrays = _load_array_file(spec, pathlib.Path(path_text).expanduser(), kind)
  labels = _split_labels(spec, arrays)
  arrays = {split: check_array(array, f'dataset={spec!r}' + ('' if split == 'all' else f' ({split!r})'))
            for split, array in arrays.items() if not split.endswith('_labels')}
  if image_size:
    if any(array.ndim != 4 for array in arrays.values()):
      raise DataError(f'config.image_size={image_size}: dataset={spec!r} holds vectors [N, D], not images; use 0')
    arrays = {split: stack_images(list(array), image_size, f'dataset={spec!r}') for split, array in arrays.items()}
  shapes = {array.shape[1:] for array in arrays.values()}
  if len(shapes) > 1:
    raise DataError(f'dataset={spec!r}: its splits have different example shapes {sorted(shapes)}')
  return arrays, labels


NO_LABELS = np.zeros(0, np.int32)


def folder_labels(names: list[str]) -> np.ndarray:
  """int32 labels [n] of the files ``names`` (relative paths): the rank of each file's subfolder among the
  sorted subfolder names when every file lies in a subfolder, else none (``NO_LABELS``)."""
  if not all('/' in name for name in names):
    return NO_LABELS
  classes = sorted({name.split('/', 1)[0] for name in names})
  rank = {folder: label for label, folder in enumerate(classes)}
  return np.asarray([rank[name.split('/', 1)[0]] for name in names], np.int32)


def _holdout(examples: np.ndarray, names: list[str], labels: np.ndarray = NO_LABELS) -> dict[str, Split]:
  """The fixed-rule splits of ``examples`` named ``names``, with their labels where there are any."""
  return {split: Split(examples[indices], labels[indices] if labels.size else NO_LABELS)
          for split, indices in holdout_split(names).items()}


def _read_arrays(kind: str, argument: str, image_size: int) -> dict[str, Split]:
  arrays, labels = _read_array_file(kind, argument, image_size)
  whole = 'all' if 'all' in arrays else 'train'
  held_out = [split for split in ('validation', 'test') if split in arrays]
  if len(held_out) == 1:
    raise DataError(f"dataset='{kind}:{argument}': the .npz file holds 'train' and {held_out[0]!r}; it must hold "
                    "both 'validation' and 'test', or neither (then they are carved from 'train')")
  if whole == 'all' or not held_out:
    names = [str(i) for i in range(arrays[whole].shape[0])]
    return _holdout(arrays[whole], names, labels.get(whole, NO_LABELS))
  if 0 < len(labels) < len(SPLITS):
    raise DataError(f"dataset='{kind}:{argument}': the .npz file holds labels of {sorted(labels)} only; give "
                    "'train_labels', 'validation_labels' and 'test_labels', or none")
  return {split: Split(arrays[split], labels.get(split, NO_LABELS)) for split in SPLITS}


# ---------------------------------------------------------------- by name

def read(spec: str, options: SourceOptions,
         selections: Mapping[str, Callable[[int], range]]) -> dict[str, Split]:
  """The splits of an image source that ``selections`` names, each cut to ``selection(split size)``.

  ``selections`` maps 'train' / 'validation' / 'test' to a function from the
  split's size to the positions wanted (``range`` for all); from TFDS only
  those records are read.
  """
  kind, argument = kind_of(spec)
  if kind == 'tfds':
    with _quiet_absl():
      return _read_tfds(spec, argument, options, selections)
  if kind == 'idx':
    splits = idx.read_directory(argument, options.image_size)
  elif kind == 'images':
    examples, names = image_folder.load(argument, options.image_size, options.cache_dir)
    splits = _holdout(examples, names, folder_labels(names))
  else:
    splits = _read_arrays(kind, argument, options.image_size)
  result = {}
  for split, select in selections.items():
    positions = np.asarray(select(splits[split].examples.shape[0]), np.int64)
    labels = splits[split].labels
    result[split] = Split(splits[split].examples[positions], labels[positions] if labels.size else labels)
  return result
