"""What the command-line mains in experiments/ share: bad input is one line and exit status 2.

Every path flag is checked here before any compute (``check_output_dir``,
``check_output_file``, ``check_input_dir``), and a config file that does not
load ends the program while absl parses the flags (``define_config_file``).
"""

import os
import pathlib
import re
import sys
import tempfile
import traceback
from collections.abc import Sequence
from typing import NoReturn

import ml_collections
from absl import flags, logging
from ml_collections import config_flags

from gan_jax.data import datasets
from gan_jax.training import checkpoint, plan

# Errors that mean the input (flags, config, dataset, workdir) is wrong, not the code.
BAD_INPUT = (plan.ConfigError, datasets.DataError, checkpoint.CheckpointError)


def fail(message: str, status: int = 2) -> NoReturn:
  """Prints 'error: MESSAGE' as one line on stderr and exits with ``status``."""
  print(f'error: {message}', file=sys.stderr)
  sys.exit(status)


def start(argv: list[str], hint: str = '') -> None:
  """Rejects positional arguments (``hint`` is appended to the error) and quiets absl's INFO logs.

  Orbax logs every checkpoint save at INFO.
  """
  if len(argv) > 1:
    fail(f'unexpected arguments {argv[1:]}{hint}')
  logging.set_verbosity(logging.WARNING)


# ---------------------------------------------------------------- paths

def _can_write_in(directory: pathlib.Path) -> bool:
  """Whether entries can be created in ``directory``: tried, because os.access says yes to root everywhere."""
  try:
    os.rmdir(tempfile.mkdtemp(prefix='.write_check_', dir=directory))
  except OSError:
    return False
  return True


def _creation_problem(path: pathlib.Path) -> str | None:
  """Why ``path`` (which does not exist) cannot be created with its missing parents, or None if it can."""
  ancestor = pathlib.Path(os.path.abspath(path)).parent
  while not os.path.exists(ancestor):  # os.path.exists: False, not an exception, where stat is denied
    ancestor = ancestor.parent
  if not ancestor.is_dir():
    return f'{ancestor} is not a directory'
  if not _can_write_in(ancestor):
    return f'{ancestor} is not writable'
  return None


def write_problem(path: str | pathlib.Path) -> str | None:
  """Why a file cannot be written at ``path`` (creating its missing parent directories), or None if it can."""
  path = pathlib.Path(path)
  if path.is_dir():
    return f'{path} is a directory'
  if not os.path.exists(path):
    return _creation_problem(path)
  try:
    open(path, 'ab').close()  # opening for appending changes nothing
  except OSError:
    return f'{path} is not writable'
  return None


def check_output_dir(flag: str, path: str | None, what: str = 'a directory') -> pathlib.Path:
  """``path`` as a directory to write into; exits with one line and status 2 unless it is, or can be created.

  ``what`` describes the directory wanted in the messages.
  """
  if not path:
    fail(f'--{flag} is empty; it must name {what}')
  directory = pathlib.Path(path)
  if os.path.exists(directory):
    if not directory.is_dir():
      fail(f'--{flag}={path} is a file; it must be {what}')
    if not _can_write_in(directory):
      fail(f'--{flag}={path} is not writable')
  elif problem := _creation_problem(directory):
    fail(f'--{flag}={path}: cannot create it ({problem})')
  return directory


def check_output_file(flag: str, path: str | None, suffix: str) -> pathlib.Path:
  """``path`` as a file to write; exits with one line and status 2 unless it ends in ``suffix`` and can be written.

  Its parent directory may not exist yet: the caller creates it.
  """
  if not path:
    fail(f'--{flag} is empty; it must name a {suffix} file')
  if not path.endswith(suffix):
    fail(f'--{flag}={path} must end in {suffix}')
  if problem := write_problem(path):
    fail(f'--{flag}={path}: cannot write it ({problem})')
  return pathlib.Path(path)


def check_input_dir(flag: str, path: str | None, must_contain: Sequence[str] = (),
                    holding: str | None = None) -> pathlib.Path:
  """``path`` as an existing directory with the files ``must_contain``; else one line and exit status 2.

  ``holding`` names what such a directory holds, for the message about a
  missing file: '--workdir=DIR holds no training run (no config.json)'.
  """
  if not path:
    fail(f'--{flag} is empty; it must name a directory')
  directory = pathlib.Path(path)
  if not directory.is_dir():
    fail(f'--{flag}={path} is not a directory' if os.path.exists(directory) else f'--{flag}={path} does not exist')
  for name in must_contain:
    if not (directory / name).is_file():
      fail(f'--{flag}={path} holds no {holding} (no {name})' if holding else f'--{flag}={path} holds no {name}')
  return directory


# ---------------------------------------------------------------- config files

def _reason(error: BaseException) -> str:
  """'TypeName: message', the message's first line only."""
  return f'{type(error).__name__}: {str(error).strip()}'.splitlines()[0]


def config_file_error(flag: str, path: str, error: BaseException) -> str:
  """The one line for a config file (``--flag=path``) that raised ``error`` while loading.

  It names the file and line and Python's reason: 'PATH:3: SyntaxError:
  invalid syntax' (for an error raised in code the file calls: the file's
  line of that call). An OSError with no line in the file (the file is
  missing) keeps its own words, which name the file.
  """
  file = path.split(':', 1)[0]  # after a colon: the argument of get_config
  loading = f'--{flag}={path} could not be loaded: '
  chain = [error]  # the error and those it was raised from, outermost first
  while (inner := chain[-1].__cause__ or chain[-1].__context__) is not None:
    chain.append(inner)
  for cause in chain:
    if isinstance(cause, SyntaxError) and cause.filename:
      return f'{loading}{cause.filename}:{cause.lineno}: {type(cause).__name__}: {cause.msg}'
    lines = [frame.lineno for frame in traceback.extract_tb(cause.__traceback__)
             if os.path.abspath(frame.filename) == os.path.abspath(file)]
    if lines:
      return f'{loading}{file}:{lines[-1]}: {_reason(cause)}'
  innermost = chain[-1]
  if isinstance(innermost, OSError):
    lines = [line.strip() for line in str(innermost).splitlines() if line.strip()]
    return f'--{flag} could not be loaded: {lines[-1] if lines else innermost}'
  if isinstance(innermost, AttributeError) and innermost.name == 'get_config':
    return f'{loading}{file} defines no get_config()'
  return loading + _reason(innermost)


def define_config_file(name: str, help_string: str, flag_values: flags.FlagValues = flags.FLAGS):
  """``config_flags.DEFINE_config_file`` (locked), where a file that does not load is bad input.

  The file is loaded while absl parses the flags; if that fails, or
  get_config() returns no ConfigDict, the program ends there with
  ``config_file_error``'s line and exit status 2.
  """
  holder = config_flags.DEFINE_config_file(name, None, help_string, flag_values=flag_values, lock_config=True)
  parser = flag_values[name].parser
  load = parser.parse

  def parse(path: str) -> ml_collections.ConfigDict:
    verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.ERROR)  # config_flags' warning about a None config would be a second line
    try:
      config = load(path)
      if config is not None:
        config.keys()  # config_flags defers an OSError (a missing file) until the config is first used
    except Exception as error:  # anything the file raises: its SyntaxError, NameError, …
      fail(config_file_error(name, path, error))
    finally:
      logging.set_verbosity(verbosity)
    if not isinstance(config, ml_collections.ConfigDict):
      fail(f'--{name}={path} could not be loaded: get_config() returned {config!r:.40}, not a ConfigDict')
    return config

  parser.parse = parse
  return holder


def parse_flags(argv: list[str]) -> list[str]:
  """absl's parsing, but a bad flag is one line and exit status 2 (absl's own: usage text, 1)."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as error:
    fail(str(error).splitlines()[0])
  except (AttributeError, KeyError) as error:  # --config.FIELD=… for a field the config lacks
    detail = str(error.args[0]) if error.args else str(error)
    suggestion = re.search(r'Did you mean "(\w+)" instead of "(\w+)"', detail)
    if suggestion:
      fail(f'--config.{suggestion[2]} is not a config field; did you mean --config.{suggestion[1]}?')
    name = re.search(r'\w+', detail)
    fail(f'--config.{name[0] if name else detail} is not a config field; see gan_jax/configs/base.py')
