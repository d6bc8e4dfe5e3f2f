"""``python tests/kill_during_save.py STEP ARGS…``: experiments.train, SIGKILLed while it saves step STEP.

The kill comes from inside orbax's commit of that save: the step's arrays
and metadata are written into a temporary directory, which is about to be
renamed to its final name; the moment a real ``kill -9`` or power cut is most
likely to do damage, and one a kill from outside cannot be timed to hit.
"""

import os
import signal
import sys

from absl import app
from orbax.checkpoint._src.path import atomicity

from experiments import cli, train

_KILL_AT_STEP = sys.argv.pop(1)
_original_finalize = atomicity.AtomicRenameTemporaryPath.finalize


async def _finalize_or_die(self):
  if self._final_path.name == _KILL_AT_STEP:  # pylint: disable=protected-access
    os.kill(os.getpid(), signal.SIGKILL)
  return await _original_finalize(self)


if __name__ == '__main__':
  atomicity.AtomicRenameTemporaryPath.finalize = _finalize_or_die
  app.run(train.main, flags_parser=cli.parse_flags)
