"""Stopping a run cleanly on SIGTERM, the signal a TPU VM gets before it is preempted.

``StopRequests`` is a context manager: while it is active, SIGTERM does not
kill the process but sets ``requested``; the training loop checks it between
compiled chunks, saves a checkpoint at the step it reached and returns. (A
second SIGTERM is no different from the first; SIGKILL cannot be caught, and
is what the checkpoint's atomic writes are for.)

Signal handlers can only be installed from the main thread; elsewhere (a
thread of the user's own) the context manager does nothing and SIGTERM keeps
its usual effect.
"""

import signal
import threading


class StopRequests:
  """Turns SIGTERM into a request to stop, readable as ``requested``, while active."""

  def __init__(self):
    self.requested = False
    self._previous_handler = None
    self._installed = False

  def _handle(self, signum, frame):  # pylint: disable=unused-argument
    self.requested = True

  def __enter__(self) -> 'StopRequests':
    if threading.current_thread() is threading.main_thread():
      self._previous_handler = signal.signal(signal.SIGTERM, self._handle)
      self._installed = True
    return self

  def __exit__(self, *exc_info) -> None:
    if self._installed:
      signal.signal(signal.SIGTERM, self._previous_handler)
      self._installed = False
