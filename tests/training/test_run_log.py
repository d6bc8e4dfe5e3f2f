"""run_log.RunLog: a resumed run's metrics.jsonl reads as if the run had never stopped, and so does TensorBoard."""

import json
import struct

from tensorboardX.proto import event_pb2

from gan_jax.training import run_log, rundir


def _log_steps(workdir, start_step, steps):
  log = run_log.RunLog(rundir.RunDirectory(workdir), start_step)
  for step in steps:
    log.scalars(step, {'d_loss': float(step)}, wall_time=1.0)
  log.close()


def _steps(workdir):
  return [json.loads(line)['step'] for line in (workdir / 'metrics.jsonl').read_text().splitlines()]


def test_resuming_drops_the_records_after_the_checkpoint_and_sums_run_time(tmp_path):
  _log_steps(tmp_path, 0, [10, 20, 30])
  _log_steps(tmp_path, 20, [30, 40])
  assert _steps(tmp_path) == [10, 20, 30, 40]
  run_times = [json.loads(line)['run_time'] for line in (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert run_times == [1.0, 1.0, 2.0, 2.0]  # the second process adds its 1 s to the 1 s of step 20


def test_a_last_record_cut_short_by_a_kill_is_dropped_on_resume(tmp_path):
  _log_steps(tmp_path, 0, [10, 20])
  with open(tmp_path / 'metrics.jsonl', 'a') as file:
    file.write('{"step": 30, "d_lo')  # the process died inside this write
  _log_steps(tmp_path, 20, [30])
  assert _steps(tmp_path) == [10, 20, 30]


def _event_files(directory):
  """{file name: its events}, read from TensorBoard's record format (length, CRC, event, CRC)."""
  files = {}
  for path in directory.glob('events.out.tfevents.*'):
    data, offset, events = path.read_bytes(), 0, []
    while offset < len(data):
      (length,) = struct.unpack('<Q', data[offset:offset + 8])
      events.append(event_pb2.Event.FromString(data[offset + 12:offset + 12 + length]))
      offset += 12 + length + 4
    files[path.name] = events
  return files


def test_resuming_hides_the_later_steps_from_tensorboard(tmp_path):
  """TensorBoard drops the events of steps ≥ S of earlier files when a later file starts with a session START
  at step S (its purge); here S = 21, so step 30 of the first process is hidden and its step 20 kept."""
  _log_steps(tmp_path, 0, [10, 20, 30])
  _log_steps(tmp_path, 20, [30, 40])
  starts = {name: [event.step for event in events if event.session_log.status == event_pb2.SessionLog.START]
            for name, events in _event_files(tmp_path / 'tensorboard').items()}
  scalar_steps = {name: [event.step for event in events if event.summary.value]
                  for name, events in _event_files(tmp_path / 'tensorboard').items()}
  assert sorted(starts.values()) == [[], [21]]  # (in one second: the files' names differ by their start step)
  first, = (name for name, steps in starts.items() if not steps)
  resumed, = (name for name, steps in starts.items() if steps)
  assert (scalar_steps[first], scalar_steps[resumed]) == ([10, 20, 30], [30, 40])
