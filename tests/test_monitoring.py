"""monitoring.RunLog: a resumed run's metrics.jsonl reads as if the run had never stopped."""

import json

from gan_jax import monitoring


def _log_steps(workdir, start_step, steps):
  log = monitoring.RunLog(workdir, start_step)
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
