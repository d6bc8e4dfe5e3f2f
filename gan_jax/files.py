"""Writing a run's small files so that a kill at any moment leaves the old file or the new one, never a part."""

import os
import pathlib


def write_text_atomically(path: str | pathlib.Path, text: str) -> None:
  """Writes ``text`` (UTF-8) to ``path`` through a temporary file in the same directory and one rename.

  A process killed mid-write leaves ``path`` as it was (absent, or its old
  text) plus at most a stray ``*.partial`` file that the next write replaces.
  """
  path = pathlib.Path(path)
  partial = path.with_name(f'{path.name}.{os.getpid()}.partial')
  with open(partial, 'w', encoding='utf-8') as file:
    file.write(text)
    file.flush()
    os.fsync(file.fileno())
  os.replace(partial, path)
