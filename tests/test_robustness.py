"""Scale-out and robustness: several processes, SIGTERM, kill -9, divergence, bad checkpoints.

Training runs here are subprocesses of ``experiments.train`` (as users run
it), each with its own forced CPU device count; final states are read back
from their checkpoints and compared bit for bit (or, across process layouts,
to float32 summation order).
"""

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import tree_relative_error, trees_equal, xla_flags
from gan_jax.reports import stored_runs
from gan_jax.training import checkpoint, loop, rundir, seed_runs
from idx_files import write_mnist_idx
from tiny_runs import complete_steps, latest_state, tiny_gauss


REPO = pathlib.Path(__file__).resolve().parents[1]
# gauss1d, 1,200 steps in chunks of 100, checkpoints every 300: about 10 s a run.
GAUSS = ['--config', 'gan_jax/configs/gauss1d.py', '--config.num_steps=1200', '--config.lr_decay_steps=1200',
         '--config.checkpoint_every_steps=300', '--config.sample_every_steps=600', '--config.keep_checkpoints=10',
         '--config.log_every_seconds=0.01']


def _env(devices: int) -> dict:
  return {**os.environ, 'XLA_FLAGS': xla_flags(devices)}


def _start(workdir, *args, devices: int = 1, runner=('-m', 'experiments.train')) -> subprocess.Popen:
  return subprocess.Popen([sys.executable, *runner, '--workdir', str(workdir), *args], cwd=REPO,
                          env=_env(devices), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _train(workdir, *args, devices: int = 1) -> subprocess.CompletedProcess:
  process = _start(workdir, *args, devices=devices)
  stdout, stderr = process.communicate(timeout=600)
  return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _wait_for(condition, process: subprocess.Popen, timeout: float = 300.0) -> None:
  deadline = time.monotonic() + timeout
  while not condition():
    assert process.poll() is None, f'the run ended before the moment came: {process.communicate()}'
    assert time.monotonic() < deadline, 'timed out waiting for the run'
    time.sleep(0.02)


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('uninterrupted')
  result = _train(workdir, *GAUSS)
  assert result.returncode == 0, result.stderr
  return latest_state(workdir)


# ---------------------------------------------------------------- several processes

def _free_port() -> int:
  with socket.socket() as probe:
    probe.bind(('127.0.0.1', 0))
    return probe.getsockname()[1]


@pytest.mark.slow
def test_two_processes_of_four_devices_train_like_one_process_of_eight(tmp_path):
  write_mnist_idx(tmp_path / 'mnist', num_train=240, num_test=24)  # 200 training images: 8 shards of 25
  args = ['--config', 'gan_jax/configs/mnist_paper.py', f'--config.dataset=idx:{tmp_path / "mnist"}',
          '--config.num_steps=6', '--config.steps_per_call=3', '--config.checkpoint_every_steps=3',
          '--config.sample_every_steps=3', '--config.batch_size=16', '--config.num_shown_samples=16',
          '--config.g_hidden_dims=(32,)', '--config.d_hidden_dims=(16,)', '--config.maxout_pieces=2',
          '--config.log_every_seconds=0.01']
  start_two = lambda: [_start(tmp_path / 'two', *args, '--distributed', f'--coordinator_address=127.0.0.1:{port}',
                              '--num_processes=2', f'--process_id={index}', devices=4) for index in range(2)]
  (tmp_path / 'two').mkdir()
  other_run = seed_runs.claim_workdir(rundir.RunDirectory(tmp_path / 'two'))  # as if another run were training there
  port = _free_port()
  for worker in start_two():  # both processes refuse it (process 1 too, which does not claim: no hang)
    _, stderr = worker.communicate(timeout=300)
    assert worker.returncode == 2 and f'--workdir={tmp_path / "two"} is in use' in stderr, stderr
  other_run.close()
  port = _free_port()
  workers = start_two()
  outputs = [worker.communicate(timeout=600) for worker in workers]
  for worker, (stdout, stderr) in zip(workers, outputs):
    assert worker.returncode == 0, stderr
  one = _train(tmp_path / 'one', *args, devices=8)
  assert one.returncode == 0, one.stderr

  two_processes, one_process = latest_state(tmp_path / 'two'), latest_state(tmp_path / 'one')
  assert int(two_processes.step) == int(one_process.step) == 6
  # Equal but for float32 summation order across the two processes: each of the
  # 6 iterations can round a parameter to a neighbouring float32 (one ulp, at
  # most 2^-23 relative) where the order of a sum differs; measured: 7e-13. A
  # different data order or key moves D's parameters by ~1e-3 relative.
  bound = 6 * 2.0 ** -23
  assert tree_relative_error(two_processes.g_params, one_process.g_params) <= bound
  assert tree_relative_error(two_processes.d_params, one_process.d_params) <= bound
  # Process 0 alone reports and logs; both trained (the pmap spans all 8 devices).
  # (Gloo's own connection messages go to stdout too, from several threads, so lines can interleave.)
  assert 'step       6/6' in outputs[0][0] and 'summary: step=6' in outputs[0][0]
  assert 'step ' not in outputs[1][0] and 'summary' not in outputs[1][0]
  assert len((tmp_path / 'two' / 'metrics.jsonl').read_text().splitlines()) == 2
  assert json.loads((tmp_path / 'two' / 'devices.json').read_text()) == {'num_devices': 8}


# ---------------------------------------------------------------- preemption and kills

@pytest.mark.slow
def test_sigterm_checkpoints_the_current_step_and_a_rerun_ends_as_if_never_stopped(tmp_path, uninterrupted):
  run = _start(tmp_path, *GAUSS)
  _wait_for(lambda: (tmp_path / 'metrics.jsonl').exists() and (tmp_path / 'metrics.jsonl').read_text(), run)
  run.send_signal(signal.SIGTERM)
  stdout, stderr = run.communicate(timeout=300)
  assert run.returncode == 0, stderr
  stopped_at = int(stdout.split('SIGTERM: stopped at step ')[1].split()[0])
  assert 0 < stopped_at < 1200 and stopped_at % 100 == 0
  assert complete_steps(tmp_path)[-1] == stopped_at
  assert not (tmp_path / 'summary.json').exists()

  rerun = _train(tmp_path, *GAUSS)
  assert rerun.returncode == 0, rerun.stderr
  assert f'resumed from step {stopped_at}' in rerun.stdout
  assert trees_equal(latest_state(tmp_path), uninterrupted)


@pytest.mark.slow
def test_a_second_process_training_in_the_same_workdir_is_refused_while_the_first_runs(tmp_path):
  endless = [*GAUSS, '--config.num_steps=10000000', '--config.lr_decay_steps=10000000']
  run = _start(tmp_path, *endless)
  _wait_for(lambda: (tmp_path / 'metrics.jsonl').exists() and (tmp_path / 'metrics.jsonl').read_text(), run)
  second = _train(tmp_path, *endless)
  assert run.poll() is None, 'the first run must still be training'
  assert second.returncode == 2 and second.stdout == ''
  assert second.stderr.splitlines()[-1] == (f'error: --workdir={tmp_path} is in use: process {run.pid} is training '
                                            'there; wait for it to end or stop it (SIGTERM checkpoints), or use '
                                            'another --workdir')
  run.send_signal(signal.SIGTERM)
  stdout, stderr = run.communicate(timeout=300)
  assert run.returncode == 0 and 'SIGTERM: stopped at step ' in stdout, stderr


@pytest.mark.slow
def test_sigterm_keeps_the_best_checkpoints_and_a_rerun_keeps_the_same_ones(tmp_path):
  write_mnist_idx(tmp_path / 'mnist', num_train=240, num_test=24)
  args = ['--config', 'gan_jax/configs/mnist_paper.py', f'--config.dataset=idx:{tmp_path / "mnist"}',
          '--config.num_steps=48', '--config.steps_per_call=6', '--config.checkpoint_every_steps=6',
          '--config.eval_every_steps=6', '--config.sample_every_steps=48', '--config.batch_size=16',
          '--config.num_shown_samples=16', '--config.g_hidden_dims=(32,)', '--config.d_hidden_dims=(16,)',
          '--config.maxout_pieces=2', '--config.eval_num_samples=64', '--config.g_ema_decay=0.9',
          '--config.log_every_seconds=0.01']
  straight = _train(tmp_path / 'straight', *args)
  assert straight.returncode == 0, straight.stderr
  run = _start(tmp_path / 'stopped', *args)
  _wait_for(lambda: (tmp_path / 'stopped' / 'metrics.jsonl').exists() and
            (tmp_path / 'stopped' / 'metrics.jsonl').read_text(), run)
  run.send_signal(signal.SIGTERM)
  stdout, stderr = run.communicate(timeout=300)
  assert run.returncode == 0 and 'SIGTERM: stopped at step' in stdout, stderr
  rerun = _train(tmp_path / 'stopped', *args)
  assert rerun.returncode == 0, rerun.stderr
  for flag in rundir.GENERATORS:
    best = [checkpoint.make_best_manager(rundir.RunDirectory(tmp_path / w).best_checkpoints(flag))
            for w in ('straight', 'stopped')]
    assert [m.all_steps() for m in best][0] == [m.all_steps() for m in best][1]
    assert checkpoint.best_scores(best[0]) == checkpoint.best_scores(best[1])
    states = [stored_runs.restore_run(tmp_path / w, 'best', flag)[3] for w in ('straight', 'stopped')]
    assert trees_equal(*states)


def _kill_while_compiling(workdir):
  run = _start(workdir, *GAUSS)
  _wait_for(lambda: (workdir / 'config.json').exists(), run)
  run.kill()
  return run


def _kill_between_checkpoints(workdir):
  run = _start(workdir, *GAUSS)
  _wait_for(lambda: (workdir / 'checkpoints' / '300').exists(), run)
  run.kill()
  return run


def _kill_while_saving_step_600(workdir):
  return _start(workdir, *GAUSS, runner=('tests/kill_during_save.py', '600'))


@pytest.mark.slow
@pytest.mark.parametrize('kill', [_kill_while_compiling, _kill_between_checkpoints, _kill_while_saving_step_600])
def test_kill_9_at_any_moment_then_a_rerun_ends_bit_identical(tmp_path, uninterrupted, kill):
  run = kill(tmp_path)
  run.communicate(timeout=300)
  assert run.returncode == -signal.SIGKILL
  if kill is _kill_while_saving_step_600:  # its files were written, not yet committed
    assert complete_steps(tmp_path) == [300]
    assert (tmp_path / 'checkpoints' / '600.orbax-checkpoint-tmp' / 'default' / '_METADATA').exists()

  rerun = _train(tmp_path, *GAUSS)
  assert rerun.returncode == 0, rerun.stderr
  assert trees_equal(latest_state(tmp_path), uninterrupted)
  assert not any('tmp' in p.name for p in (tmp_path / 'checkpoints').iterdir())
  steps_logged = [json.loads(line)['step'] for line in (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert steps_logged == list(range(100, 1201, 100))


# ---------------------------------------------------------------- divergence

@pytest.mark.slow
def test_a_diverging_run_names_the_step_and_quantity_and_keeps_its_last_good_checkpoint(tmp_path):
  write_mnist_idx(tmp_path / 'mnist', num_train=240, num_test=24)
  args = ['--config', 'gan_jax/configs/mnist_paper.py', f'--config.dataset=idx:{tmp_path / "mnist"}',
          '--config.d_input_keep=1.0', '--config.d_hidden_keep=1.0', '--config.steps_per_call=2',
          '--config.checkpoint_every_steps=2', '--config.sample_every_steps=2', '--config.batch_size=20',
          '--config.num_shown_samples=4', '--config.log_every_seconds=0.01']
  first = _train(tmp_path / 'run', *args, '--config.num_steps=4')
  assert first.returncode == 0, first.stderr
  # Resumed with a learning rate a hundred times the paper's, the paper's model diverges within ~20 steps.
  diverged = _train(tmp_path / 'run', *args, '--config.num_steps=40', '--config.learning_rate=10.0')
  assert diverged.returncode == 1
  message = diverged.stderr
  assert message.startswith('error: training diverged at step ') and message.count('\n') == 1
  diverged_at = int(message.split('at step ')[1].split(':')[0])
  last_good = complete_steps(tmp_path / 'run')[-1]
  assert last_good < diverged_at <= last_good + 2
  assert ': d_fake, d_fake_g, d_loss, d_real, g_loss, d_params, g_params became NaN or Inf; ' in message
  assert message.endswith(f'the last checkpoint is step {last_good} in {tmp_path / "run" / "checkpoints"}\n')
  state = latest_state(tmp_path / 'run')
  assert int(state.step) == last_good and checkpoint.nonfinite_leaves(state) == []


# ---------------------------------------------------------------- bad checkpoints

@pytest.mark.slow
def test_a_checkpoint_of_another_model_names_the_directory_and_the_mismatch(tmp_path):
  loop.run(tiny_gauss(), tmp_path / 'small', print_fn=lambda _: None)
  shutil.copytree(tmp_path / 'small' / 'checkpoints', tmp_path / 'wide' / 'checkpoints')
  with pytest.raises(checkpoint.CheckpointError) as error:
    loop.run(tiny_gauss(g_hidden_dims=(32,)), tmp_path / 'wide', print_fn=lambda _: None)
  assert str(error.value) == (
      f'checkpoint step 6 in {tmp_path / "wide" / "checkpoints"} is of another model: state/g_params/hidden/0/bias '
      'has shape (16,), this config needs (32,); use the config of that run or a new --workdir')
  assert complete_steps(tmp_path / 'wide') == [3, 6]
  cli = _train(tmp_path / 'wide', '--config', 'gan_jax/configs/gauss1d.py', '--config.g_hidden_dims=(32,)')
  assert cli.returncode == 2
  assert cli.stderr.startswith(f'error: checkpoint step 6 in {tmp_path / "wide" / "checkpoints"} is of another '
                               'model: state/g_params/') and cli.stderr.count('\n') == 1
