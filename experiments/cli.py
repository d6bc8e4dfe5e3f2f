"""What the command-line mains in experiments/ share: bad input is one line and exit status 2."""

import sys
from typing import NoReturn

from absl import logging

from gan_jax import checkpoint, data, validation

# Errors that mean the input (flags, config, dataset, workdir) is wrong, not the code.
BAD_INPUT = (validation.ConfigError, data.DataError, checkpoint.CheckpointError)


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
