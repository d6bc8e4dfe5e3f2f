"""experiments/launch_tpu_pod.sh, run against a stand-in for gcloud that records its arguments."""

import pathlib
import shlex
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[1]


def _launch(tmp_path, *args):
  fake_bin = tmp_path / 'bin'
  fake_bin.mkdir()
  (fake_bin / 'gcloud').write_text('#!/usr/bin/env bash\nprintf "%s\\0" "$@"\n')
  (fake_bin / 'gcloud').chmod(0o755)
  return subprocess.run(['bash', 'experiments/launch_tpu_pod.sh', *args], cwd=REPO, capture_output=True, text=True,
                        env={'PATH': f'{fake_bin}:/usr/bin:/bin'})


def test_every_worker_runs_the_same_distributed_training_command(tmp_path):
  result = _launch(tmp_path, 'my-tpu', 'us-central2-b', '/mnt/shared/run 1', '--config.num_steps=1000',
                   '--config.g_hidden_dims=(1200, 1200)')
  assert result.returncode == 0, result.stderr
  arguments = result.stdout.split('\0')[:-1]
  assert arguments[:7] == ['compute', 'tpus', 'tpu-vm', 'ssh', 'my-tpu', '--zone=us-central2-b', '--worker=all']
  remote = arguments[7].removeprefix('--command=')
  assert subprocess.run(['bash', '-n', '-c', remote]).returncode == 0
  train_line = next(line for line in remote.splitlines() if 'experiments.train' in line)
  assert shlex.split(train_line) == [
      '.venv/bin/python', '-m', 'experiments.train', '--config', 'gan_jax/configs/mnist_paper.py',
      '--workdir', '/mnt/shared/run 1', '--distributed', '--config.num_steps=1000',
      '--config.g_hidden_dims=(1200, 1200)']


def test_missing_arguments_print_the_usage_and_exit_2(tmp_path):
  result = _launch(tmp_path, 'my-tpu', 'us-central2-b')
  assert result.returncode == 2
  assert result.stderr.startswith('usage: ')
