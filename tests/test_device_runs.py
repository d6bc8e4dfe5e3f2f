"""experiments/device_runs.sh, run with a stand-in for python that records each command and writes what a run
writes (small files and a checkpoint), on no device."""

import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[1]
# Records its arguments (one command per line, in one write: the script runs several at once; separated by the
# unit separator) and, given --workdir W, writes a run's files into W; experiments.evaluate writes its report as
# the real one does.
FAKE_PYTHON = r'''#!/usr/bin/env bash
printf -v record '%s\x1f' "$@"; printf '%s\n' "$record" >> "$CALLS"
while [[ $# -gt 0 ]]; do
  if [[ $1 == --workdir ]]; then
    mkdir -p "$2/checkpoints/5" && echo '{}' > "$2/config.json" && echo '{}' > "$2/metrics.jsonl"
    echo x > "$2/checkpoints/5/data"
    [[ $evaluating == 1 ]] && echo '{"parzen": 1}' > "$2/eval_best_ema.json"
  fi
  [[ $1 == experiments.evaluate ]] && evaluating=1
  shift
done
exit 0
'''


def _device_runs(tmp_path, *args, **env):
  fake = tmp_path / 'python'
  fake.write_text(FAKE_PYTHON)
  fake.chmod(0o755)
  calls = tmp_path / 'calls'
  result = subprocess.run(['bash', 'experiments/device_runs.sh', *args], cwd=REPO, capture_output=True, text=True,
                          env={'PATH': '/usr/bin:/bin', 'PYTHON': str(fake), 'CALLS': str(calls),
                               'RUNS': str(tmp_path / 'runs'), **env})
  commands = [line.split('\x1f')[:-1] for line in calls.read_text().splitlines()] if calls.exists() else []
  return result, commands


def test_the_quality_runs_train_the_preset_on_five_seeds_and_score_each_with_two_classifiers(tmp_path):
  (tmp_path / 'mnist').mkdir()
  result, commands = _device_runs(tmp_path, 'quality', str(tmp_path / 'out'), str(tmp_path / 'mnist'))
  assert result.returncode == 0, result.stderr
  classifiers = [c for c in commands if c[1] == 'experiments.train_classifier']
  trainings = [c for c in commands if c[1] == 'experiments.train']
  evaluations = [c for c in commands if c[1] == 'experiments.evaluate']
  assert len(classifiers) == 2 and '--config.seed=1' in classifiers[1]
  assert sorted(next(a for a in c if a.startswith('--config.seed=')) for c in trainings) == [
      f'--config.seed={seed}' for seed in range(5)]
  for command in trainings:
    assert {'--config', 'gan_jax/configs/mnist_quality.py', f'--config.dataset=idx:{tmp_path / "mnist"}',
            '--config.num_steps=125000', '--config.eval_every_steps=5000',
            f'--config.eval_classifier_dir={tmp_path / "runs" / "classifier_a"}'} <= set(command)
  assert len(evaluations) == 10 and all({'--checkpoint', 'best', '--params', 'ema'} <= set(c) for c in evaluations)
  kept = sorted(str(path.relative_to(tmp_path / 'out')) for path in (tmp_path / 'out').rglob('*') if path.is_file())
  assert [path for path in kept if path.startswith('quality_seed0/')] == [
      'quality_seed0/config.json', 'quality_seed0/eval_best_ema.json', 'quality_seed0/eval_best_ema_a.json',
      'quality_seed0/eval_best_ema_a.txt', 'quality_seed0/eval_best_ema_b.json', 'quality_seed0/eval_best_ema_b.txt',
      'quality_seed0/metrics.jsonl', 'quality_seed0/quality_seed0.log']  # no checkpoint comes back


def test_the_pacgan_tables_train_ten_seeds_together_in_float32_and_a_divisor_shortens_every_run(tmp_path):
  result, commands = _device_runs(tmp_path, 'pacgan', str(tmp_path / 'out'), STEPS_DIVISOR='1000')
  assert result.returncode == 0, result.stderr
  assert sorted(c[:5] for c in commands) == [['-m', 'experiments.sweep', '--config', f'gan_jax/configs/{preset}.py',
                                               '--workdir'] for preset in ('toy_grid_pacgan', 'toy_ring_pacgan')]
  for command in commands:
    assert {'--seeds', '10', '--together', '--config.matmul_precision=float32', '--config.num_steps=400'} <= set(
        command)
  assert sorted(path.name for path in (tmp_path / 'out' / 'toy_ring_pacgan').iterdir()) == [
      'config.json', 'metrics.jsonl', 'toy_ring_pacgan.log']


def test_a_bad_request_gets_the_usage_line_and_status_2(tmp_path):
  for args in ([], ['quality', str(tmp_path / 'out')], ['train', str(tmp_path / 'out')]):
    result, commands = _device_runs(tmp_path, *args)
    assert result.returncode == 2 and commands == []
    assert result.stderr.count('\n') == 1 and ('usage:' in result.stderr or 'error:' in result.stderr), result.stderr
