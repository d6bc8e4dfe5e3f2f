"""A run's small files: written so that a kill at any moment leaves the old file or the new one, never a part,
and as standard JSON (no Infinity or NaN); the lock that keeps a second process from training in the same
directory; and the lock with which processes take turns at a shared file's read-modify-write."""

import contextlib
import fcntl
import json
import math
import os
import pathlib
import warnings
from collections.abc import Iterator
from typing import Any, TextIO


def write_text_atomically(path: str | pathlib.Path, text: str) -> None:
  """``write_bytes_atomically`` of ``text`` in UTF-8."""
  write_bytes_atomically(path, text.encode('utf-8'))


def write_bytes_atomically(path: str | pathlib.Path, data: bytes) -> None:
  """Writes ``data`` to ``path`` through a temporary file in the same directory and one rename.

  A write that fails (a full disk) or is interrupted leaves ``path`` as it
  was (absent, or its old text) and removes its temporary file; a process
  killed mid-write leaves ``path`` as it was plus a stray
  ``NAME.PID.partial`` (named by process, so that processes writing the same
  file never write into each other's).
  """
  path = pathlib.Path(path)
  partial = path.with_name(f'{path.name}.{os.getpid()}.partial')
  try:
    with open(partial, 'wb') as file:
      file.write(data)
      file.flush()
      os.fsync(file.fileno())
    os.replace(partial, path)
  except BaseException:
    partial.unlink(missing_ok=True)
    raise


def to_json(value: Any, indent: int | None = None) -> str:
  """``json.dumps`` of ``value`` with each non-finite float written as null (standard JSON has no Infinity or
  NaN; e.g. a reverse KL of samples of which none is high-quality, or a standard error over such values)."""
  def finite_or_none(item):
    if isinstance(item, float) and not math.isfinite(item):
      return None
    if isinstance(item, dict):
      return {key: finite_or_none(each) for key, each in item.items()}
    if isinstance(item, (list, tuple)):
      return [finite_or_none(each) for each in item]
    return item
  return json.dumps(finite_or_none(value), indent=indent, allow_nan=False)


def lock_exclusively(path: str | pathlib.Path) -> TextIO | None:
  """Opens ``path`` (creating it) and takes an exclusive advisory lock (``flock``) on it, without waiting.

  Returns the open file, which holds the lock until it is closed or its
  process ends in any way (kill -9 included, so no lock outlives its
  holder), with the holder's pid written in it; None if another open file
  holds the lock. On a file system that cannot lock (some network mounts)
  it warns and returns the file unlocked.
  """
  file = open(path, 'a+', encoding='utf-8')  # pylint: disable=consider-using-with  (the caller closes it)
  try:
    fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    file.close()
    return None
  except OSError as error:
    warnings.warn(f'{path}: cannot be locked here ({error.strerror}); nothing stops a second process using it')
  file.truncate(0)
  file.write(f'{os.getpid()}\n')
  file.flush()
  return file


@contextlib.contextmanager
def taking_turns(path: str | pathlib.Path) -> Iterator[None]:
  """Holds an exclusive advisory lock (``flock``) on ``path`` (created if absent, left empty) for the ``with``
  block, waiting while another process holds it; released when the block ends, or with its process.

  For a read-modify-write of a file that several processes update (one
  rename each would otherwise lose the other's changes). On a file system
  that cannot lock it warns and runs the block unlocked.
  """
  with open(path, 'a', encoding='utf-8') as file:
    try:
      fcntl.flock(file, fcntl.LOCK_EX)
    except OSError as error:
      warnings.warn(f'{path}: cannot be locked here ({error.strerror}); processes may overwrite each other')
    yield
