"""files.write_text_atomically: a kill at any moment leaves the old text or the new, never a part.

files.lock_exclusively: one holder at a time, or a warning where the file system cannot lock.
files.taking_turns: a second process waits until the holder leaves.
files.to_json: standard JSON, null for Infinity and NaN.
"""

import errno
import fcntl
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gan_jax.training import files


def test_writes_and_replaces_the_text_and_leaves_no_temporary_file(tmp_path):
  path = tmp_path / 'config.json'
  files.write_text_atomically(path, 'first\n')
  files.write_text_atomically(path, 'second\n')
  assert path.read_text() == 'second\n'
  assert [p.name for p in tmp_path.iterdir()] == ['config.json']


def test_a_write_that_fails_before_the_rename_leaves_the_old_text_and_no_temporary_file(tmp_path, monkeypatch):
  path = tmp_path / 'devices.json'
  files.write_text_atomically(path, '{"num_devices": 8}\n')

  def fail(descriptor):
    raise OSError('disk full')

  monkeypatch.setattr(os, 'fsync', fail)
  with pytest.raises(OSError, match='disk full'):
    files.write_text_atomically(path, '{"num_devices": 1}\n')
  assert path.read_text() == '{"num_devices": 8}\n'
  assert [p.name for p in tmp_path.iterdir()] == ['devices.json']  # its temporary file removed


_WRITER = '''
import importlib.util, sys
module_path, path = sys.argv[1:]
spec = importlib.util.spec_from_file_location('files', module_path)  # just the module: no JAX to import
files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(files)
print('ready', flush=True)
for round in range(10**9):
  files.write_text_atomically(path, str(round % 10) * 200_000)
'''


def test_kill_9_in_a_write_loop_always_leaves_one_whole_text(tmp_path):
  path = tmp_path / 'summary.json'
  for delay in (0.0, 0.01, 0.03, 0.07, 0.15):
    writer = subprocess.Popen([sys.executable, '-c', _WRITER, files.__file__, str(path)], stdout=subprocess.PIPE,
                              text=True)
    assert writer.stdout.readline() == 'ready\n'
    time.sleep(delay)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)
    if path.exists():  # absent only if killed before the first rename
      text = path.read_text()
      assert len(text) == 200_000 and len(set(text)) == 1


def test_a_lock_is_exclusive_until_closed_and_holds_its_owners_pid(tmp_path):
  path = tmp_path / 'train.lock'
  held = files.lock_exclusively(path)
  assert path.read_text() == f'{os.getpid()}\n'
  assert files.lock_exclusively(path) is None  # flock: a second open file, even in this process, is refused
  held.close()
  files.lock_exclusively(path).close()


def test_a_file_system_that_cannot_lock_gives_a_warning_and_an_unlocked_file(tmp_path, monkeypatch):
  def no_locks(file, operation):
    raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

  monkeypatch.setattr(fcntl, 'flock', no_locks)
  with pytest.warns(UserWarning, match=f'{tmp_path / "train.lock"}: cannot be locked here'):
    unlocked = files.lock_exclusively(tmp_path / 'train.lock')
  assert (tmp_path / 'train.lock').read_text() == f'{os.getpid()}\n'
  unlocked.close()


_TURN_TAKER = '''
import importlib.util, pathlib, sys
module_path, lock, marker = sys.argv[1:]
spec = importlib.util.spec_from_file_location('files', module_path)
files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(files)
print('waiting', flush=True)
with files.taking_turns(lock):
  pathlib.Path(marker).write_text('in')
'''


def test_a_process_waits_for_its_turn_until_the_holder_leaves(tmp_path):
  lock, marker = tmp_path / 'records.lock', tmp_path / 'marker'
  with files.taking_turns(lock):
    other = subprocess.Popen([sys.executable, '-c', _TURN_TAKER, files.__file__, str(lock), str(marker)],
                             stdout=subprocess.PIPE, text=True)
    assert other.stdout.readline() == 'waiting\n'
    time.sleep(0.5)  # unlocked, the other process would have written its marker by now
    assert not marker.exists()
  assert other.wait(timeout=60) == 0
  assert marker.read_text() == 'in' and lock.read_text() == ''


def test_json_writes_non_finite_floats_as_null_and_everything_else_as_json_does():
  value = {'reverse_kl': math.inf, 'se': np.float64('nan'), 'offsets': [0.5, None, -math.inf], 'pair': (1, 2.5),
           'nested': {'modes_covered': 7, 'high_quality_frac': 0.9528, 'name': 'ring'}}
  text = files.to_json(value)
  assert 'Infinity' not in text and 'NaN' not in text
  assert json.loads(text) == {'reverse_kl': None, 'se': None, 'offsets': [0.5, None, None], 'pair': [1, 2.5],
                              'nested': {'modes_covered': 7, 'high_quality_frac': 0.9528, 'name': 'ring'}}
  assert files.to_json(value['nested'], indent=2) == json.dumps(value['nested'], indent=2)
