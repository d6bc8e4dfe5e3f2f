"""SIGTERM as a request to stop (``preemption.StopRequests``): caught while active, the previous handler after."""

import signal
import threading

from gan_jax.training import preemption


def test_a_sigterm_while_active_is_a_request_and_the_previous_handler_comes_back_after():
  received = []
  sentinel = lambda signum, frame: received.append(signum)
  original = signal.signal(signal.SIGTERM, sentinel)
  try:
    with preemption.StopRequests() as stop:
      assert not stop.requested
      signal.raise_signal(signal.SIGTERM)  # delivered to this (main) thread before raise_signal returns
      assert stop.requested
      signal.raise_signal(signal.SIGTERM)  # a second one is no different
      assert stop.requested and received == []
    assert signal.getsignal(signal.SIGTERM) is sentinel
    signal.raise_signal(signal.SIGTERM)
    assert received == [signal.SIGTERM]
  finally:
    signal.signal(signal.SIGTERM, original)


def test_outside_the_main_thread_it_installs_nothing():
  sentinel = lambda signum, frame: None
  original = signal.signal(signal.SIGTERM, sentinel)
  seen = {}

  def enter_and_leave():
    with preemption.StopRequests() as stop:
      seen['handler'] = signal.getsignal(signal.SIGTERM)
      seen['requested'] = stop.requested

  try:
    worker = threading.Thread(target=enter_and_leave)
    worker.start()
    worker.join()
    assert seen == {'handler': sentinel, 'requested': False}
    assert signal.getsignal(signal.SIGTERM) is sentinel
  finally:
    signal.signal(signal.SIGTERM, original)
