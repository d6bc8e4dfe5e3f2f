"""The main job end to end: every preset, checkpoints and exact resume, logs, and bad input."""

import json
import os
import pathlib
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

from conftest import trees_equal, xla_flags
from experiments import cli
from gan_jax.data import datasets
from gan_jax.reports import stored_runs
from gan_jax.training import checkpoint, construction, loop, plan
from gan_jax.configs import base, cifar10_conv, cifar10_fc, gauss1d, mnist_fast, mnist_paper, toy_grid, toy_ring
from idx_files import write_mnist_idx

REPO = pathlib.Path(__file__).resolve().parents[1]
TIMINGS = ('it_per_s', 'wall_time', 'run_time', 'eval_seconds')  # metrics.jsonl fields that are clock readings


def _tiny(config, **overrides):
  """A preset shrunk to run in seconds on 8 CPU devices."""
  config.update(dict(num_steps=6, steps_per_call=3, checkpoint_every_steps=3, sample_every_steps=3,
                     log_every_seconds=0.01, batch_size=16, num_shown_samples=16))
  if config.model == 'maxout':
    config.update(dict(g_hidden_dims=(32,), d_hidden_dims=(16,), maxout_pieces=2))
  else:
    config.update(dict(g_hidden_dims=(16,), d_hidden_dims=(16,)))
  config.update(overrides)
  return config


@pytest.fixture(scope='module')
def idx_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp('mnist_idx')
  write_mnist_idx(directory, num_train=240, num_test=24)
  return directory


def _final_state(config, workdir):
  dataset = datasets.load(config.dataset, jax.random.split(jax.random.key(config.seed), 3)[1])
  _, initial = construction.build(plan.game_spec(config), dataset, config.seed)
  manager = checkpoint.make_manager(workdir / 'checkpoints', config.keep_checkpoints)
  key = jax.random.key(0)
  return checkpoint.restore_latest(manager, initial, key, key)[0]


@pytest.mark.slow
@pytest.mark.parametrize('preset', [gauss1d, toy_ring, toy_grid])
def test_toy_presets_run_end_to_end(tmp_path, preset):
  lines = []
  config = _tiny(preset.get_config())
  summary = loop.run(config, tmp_path, print_fn=lines.append)
  assert summary['step'] == 6 and np.isfinite(summary['d_loss'])
  pictures = {kind: sorted(p.name for p in (tmp_path / kind).glob('*.png')) for kind in ('samples', 'samples_ema')}
  assert pictures == {'samples': ['step_0000003.png', 'step_0000006.png'],
                      'samples_ema': ['step_0000003.png', 'step_0000006.png'] if config.g_ema_decay else []}
  assert sorted(p.name for p in (tmp_path / 'checkpoints').iterdir()) == ['3', '6']
  assert len((tmp_path / 'metrics.jsonl').read_text().splitlines()) == 2
  assert any(p.name.startswith('events.out.tfevents') for p in (tmp_path / 'tensorboard').iterdir())
  assert 'epoch' in lines[-1] and 'it/s' in lines[-1] and 'ETA' in lines[-1] and 'D(G(z))' in lines[-1]


@pytest.mark.slow
def test_mnist_paper_preset_on_idx_files(tmp_path, idx_dir):
  config = _tiny(mnist_paper.get_config(), dataset=f'idx:{idx_dir}')
  summary = loop.run(config, tmp_path, print_fn=lambda _: None)
  assert summary['step'] == 6
  assert summary['epoch'] == pytest.approx(6 / (200 // 16))  # epochs of whole minibatches
  record = json.loads((tmp_path / 'metrics.jsonl').read_text().splitlines()[-1])
  assert set(record) >= {'step', 'epoch', 'd_loss', 'g_loss', 'd_real', 'd_fake', 'it_per_s'}
  from PIL import Image
  grid = Image.open(tmp_path / 'samples' / 'step_0000006.png')
  assert grid.size == (4 * 30 + 2, 4 * 30 + 2)  # 16 samples, 4 × 4 tiles of 28 + 2 padding


@pytest.mark.slow
def test_mnist_paper_preset_on_tfds_mock_data(tmp_path):
  import tensorflow_datasets as tfds
  config = _tiny(mnist_paper.get_config(), steps_per_call=1, checkpoint_every_steps=1, sample_every_steps=1,
                 num_steps=2)
  with tfds.testing.mock_data(num_examples=48):
    summary = loop.run(config, tmp_path, print_fn=lambda _: None)
  assert summary['step'] == 2


def test_mnist_fast_is_mnist_paper_with_another_optimisation_and_the_mean_of_g():
  """Table 1's fast recipe keeps the paper's model, data, losses and evaluation: only these fields differ."""
  paper, fast = mnist_paper.get_config(), mnist_fast.get_config()
  plan.validate(fast)
  changed = {name for name in paper if paper[name] != fast[name]}
  assert changed == {'lr_schedule', 'learning_rate', 'momentum', 'g_ema_decay', 'g_ema_warmup', 'num_steps',
                     'checkpoint_every_steps'}
  # The running mean of all iterates (c = 2) must not be capped by β within the run.
  assert (fast.num_steps + 1) / (fast.num_steps + fast.g_ema_warmup) <= fast.g_ema_decay


def test_stop_and_resume_ends_bit_identical_to_an_uninterrupted_run(tmp_path, idx_dir):
  config = _tiny(mnist_paper.get_config(), dataset=f'idx:{idx_dir}', num_steps=12, keep_checkpoints=10)
  loop.run(config, tmp_path / 'straight', print_fn=lambda _: None)

  stopped = _tiny(mnist_paper.get_config(), dataset=f'idx:{idx_dir}', num_steps=6, keep_checkpoints=10)
  loop.run(stopped, tmp_path / 'resumed', print_fn=lambda _: None)
  with open(tmp_path / 'resumed' / 'metrics.jsonl', 'a') as log:  # as if killed after logging step 9
    log.write(json.dumps({'step': 9, 'd_loss': 123.0}) + '\n')
  lines = []
  loop.run(config, tmp_path / 'resumed', print_fn=lines.append)
  assert lines[0] == f'resumed from step 6 of {tmp_path / "resumed" / "checkpoints"}'

  straight, resumed = _final_state(config, tmp_path / 'straight'), _final_state(config, tmp_path / 'resumed')
  assert int(resumed.step) == 12
  assert trees_equal(straight, resumed)
  strip = lambda path: [{k: v for k, v in json.loads(line).items() if k not in TIMINGS}
                        for line in path.read_text().splitlines()]
  assert strip(tmp_path / 'straight' / 'metrics.jsonl') == strip(tmp_path / 'resumed' / 'metrics.jsonl')

  finished = {name: (tmp_path / 'straight' / name).read_bytes() for name in ('summary.json', 'metrics.jsonl')}
  assert loop.run(config, tmp_path / 'straight', print_fn=lambda _: None) == json.loads(
      finished['summary.json'])  # a rerun of a finished run trains nothing and keeps its summary
  assert {name: (tmp_path / 'straight' / name).read_bytes() for name in finished} == finished
  assert 'd_loss' in json.loads(finished['summary.json'])


def test_a_sigterm_in_the_last_chunk_ends_the_run_as_finished_with_its_summary(tmp_path):
  config = _tiny(gauss1d.get_config())
  last_line = f'{config.num_steps}/{config.num_steps}'

  def terminate_in_the_last_chunk(line):  # its console line comes before the stop check
    if line.startswith('step') and line.split()[1] == last_line:
      os.kill(os.getpid(), signal.SIGTERM)

  summary = loop.run(config, tmp_path, print_fn=terminate_in_the_last_chunk)
  assert 'stopped' not in summary and summary['step'] == config.num_steps and 'sample_mean' in summary
  assert json.loads((tmp_path / 'summary.json').read_text()) == summary


@pytest.mark.slow
def test_gauss1d_preset_reaches_its_documented_result_through_the_cli(tmp_path):
  result = _cli('--config', 'gan_jax/configs/gauss1d.py', '--workdir', str(tmp_path))
  assert result.returncode == 0, result.stderr
  summary = json.loads((tmp_path / 'summary.json').read_text())
  assert summary['step'] == 3000
  assert abs(summary['sample_mean'] - 3.0) <= 0.1
  assert abs(summary['sample_std'] - 0.5) <= 0.1
  assert abs(summary['d_real'] - 0.5) < 0.05
  assert (tmp_path / 'samples' / 'step_0003000.png').exists()
  assert 'step    3000/3000' in result.stdout
  assert result.stderr == ''


@pytest.mark.slow
def test_same_config_and_seed_give_identical_metrics(tmp_path):
  config = _tiny(gauss1d.get_config())
  for name in ('a', 'b'):
    loop.run(config, tmp_path / name, print_fn=lambda _: None)
  config.seed = 1
  loop.run(config, tmp_path / 'c', print_fn=lambda _: None)
  metrics = {name: [{k: v for k, v in json.loads(line).items() if k not in TIMINGS}
                    for line in (tmp_path / name / 'metrics.jsonl').read_text().splitlines()]
             for name in 'abc'}
  assert metrics['a'] == metrics['b'] != metrics['c']


# ---------------------------------------------------------------- bad input

def _cli(*args, devices: int = 1):
  env = {**os.environ, 'XLA_FLAGS': xla_flags(devices)}
  return subprocess.run([sys.executable, '-m', 'experiments.train', *args], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=300)


def _bad_config_cases(tmp: pathlib.Path):
  """(config overrides of gauss1d, the one-line message): rejected by loop.run before any compute."""
  malformed = tmp / 'malformed'
  write_mnist_idx(malformed)
  (malformed / 'train-images-idx3-ubyte.gz').write_bytes(b'\x1f\x8b garbage')
  return [
      (dict(dataset='imagenet'), "config.dataset='imagenet' is not a dataset; allowed: ['mnist', 'fashion_mnist', "
                                 "'cifar10'], ['gauss1d', 'toy_ring', 'toy_grid'], 'tfds:NAME[:CONFIG]', 'idx:DIR', "),
      (dict(dataset=f'idx:{tmp / "nowhere"}'), f"dataset='idx:{tmp / 'nowhere'}': {tmp / 'nowhere'} "
                                               'is not a directory'),
      (dict(dataset=f'idx:{malformed}'), f'cannot read IDX file {malformed / "train-images-idx3-ubyte.gz"}'),
      (dict(batch_size=0), 'config.batch_size=0 must be a positive integer'),
      (dict(num_steps=-5), 'config.num_steps=-5 must be a positive integer'),
      (dict(d_steps=0), 'config.d_steps=0 must be a positive integer'),
      (dict(keep_checkpoints=-1), 'config.keep_checkpoints=-1 must be a non-negative integer (0 = keep every one)'),
      (dict(learning_rate=0.0), 'config.learning_rate=0.0 must be a positive number'),
      (dict(learning_rate=-0.1), 'config.learning_rate=-0.1 must be a positive number'),
      (dict(g_loss='hinge'), "config.g_loss='hinge' is not allowed; allowed: ['minimax', 'non_saturating']"),
      (dict(optimizer='lion'), "config.optimizer='lion' is not allowed; allowed: ['sgd_momentum', 'adam', "
                               "'rmsprop']"),
      (dict(batch_size=12), 'config.batch_size=12: a minibatch of 12 examples does not divide over 8 devices; '
                            'use a multiple of 8'),
      (dict(d_steps=200, batch_size=512), "config.d_steps=200 minibatches per iteration exceed the 195 minibatches "
                                          "of one epoch of 'gauss1d'; lower d_steps or batch_size, or use more data"),
      (dict(eval_every_steps=3), "config.eval_every_steps=3 (the Parzen monitor) needs an image dataset, not "
                                   "'gauss1d'; use 0"),
      (dict(dataset='mnist', data_dir=str(tmp / 'empty_tfds')),
       "dataset='mnist': TFDS could not read or download the 'train' split"),
  ]


def test_a_scan_longer_than_an_epoch_is_shortened_with_a_note_and_trains_the_same(tmp_path):
  """steps_per_call only sets how many iterations one compiled call fuses: the plan shortens it to fit an epoch
  (to a divisor, so checkpoints stay on chunk ends) and says so; the iterations are those of any chunk length."""
  small_epochs = dict(batch_size=512, num_steps=250, checkpoint_every_steps=250, sample_every_steps=250)
  lines = []
  adapted = loop.run(_tiny(gauss1d.get_config(), steps_per_call=250, **small_epochs), tmp_path / 'a',
                     print_fn=lines.append)
  assert lines[0] == ("note: config.steps_per_call=250 × d_steps=1 minibatches exceed the 195 minibatches of one "
                      "epoch of 'gauss1d'; this run fuses 125 iterations per compiled call instead (the same "
                      "training, in shorter calls)")
  assert [json.loads(line)['step'] for line in (tmp_path / 'a' / 'metrics.jsonl').read_text().splitlines()] == [
      125, 250]
  loop.run(_tiny(gauss1d.get_config(), steps_per_call=125, **small_epochs), tmp_path / 'b', print_fn=lambda _: None)
  assert trees_equal(*(stored_runs.restore_run(tmp_path / name)[3] for name in ('a', 'b')))
  assert adapted['step'] == 250


def test_bad_configs_fail_before_compute_with_one_line(tmp_path):
  for overrides, message in _bad_config_cases(tmp_path):
    workdir = tmp_path / 'run'
    with pytest.raises(cli.BAD_INPUT) as error:
      loop.run(_tiny(gauss1d.get_config(), **overrides), workdir, print_fn=lambda _: None)
    assert str(error.value).startswith(message), (overrides, str(error.value))
    assert '\n' not in str(error.value)
    assert not (workdir / 'checkpoints').exists(), overrides


def _cluster(address, processes, process):
  return [f'--coordinator_address={address}', f'--num_processes={processes}', f'--process_id={process}']


@pytest.mark.parametrize('distributed, cluster, message', [
    (False, (None, 2, None), '--num_processes is only used with --distributed'),
    (True, (None, 2, None), '--coordinator_address, --num_processes and --process_id go together: give all '
                            'three, or none to let JAX detect the cluster'),
    (True, ('localhost', 2, 0), "--coordinator_address='localhost' must be host:port with a port in 1..65535"),
    (True, ('10.0.0.2:99999', 2, 0), "--coordinator_address='10.0.0.2:99999' must be host:port with a port in "
                                     "1..65535"),
    (True, ('10.0.0.2:8476', 0, 0), '--num_processes=0 must be at least 1'),
    (True, ('10.0.0.2:8476', 2, 2), '--process_id=2 must be in 0..1 (--num_processes=2)'),
])
def test_multi_host_flags_that_do_not_fit_together_are_one_line_and_status_2(distributed, cluster, message,
                                                                           capsys):
  from experiments import train as train_main  # defines the command's flags
  with pytest.raises(SystemExit) as exit_:
    train_main.check_distributed_flags(distributed, *cluster)
  assert exit_.value.code == 2
  assert capsys.readouterr().err == f'error: {message}\n'


def _flag_cases(tmp: pathlib.Path):
  a_file = tmp / 'a_file'
  a_file.write_text('')
  return [
      (['--config.batch_sise=3'], '--config.batch_sise is not a config field; did you mean --config.batch_size?'),
      (['--config.batch_size=abc'], "flag --config.batch_size=abc: invalid literal for int() with base 10: 'abc'"),
      (['--bogus_flag=1'], "Unknown command line flag 'bogus_flag'"),
      (['leftover'], "unexpected arguments ['leftover']; pass settings as --config.FIELD=VALUE"),
      ([f'--workdir={a_file}'], f'--workdir={a_file} is a file; it must be a directory (new or of this run)'),
      (['--distributed', *_cluster('10.0.0.2:8476', 2, 0), '--config.batch_size=0'],  # validated before joining
       'config.batch_size=0 must be a positive integer'),
  ]


@pytest.mark.slow
def test_bad_flags_fail_through_the_cli_with_one_line_and_status_2(tmp_path):
  """The command line itself (flag parsing, exit codes); the config and data cases run in-process above."""
  for extra, message in _flag_cases(tmp_path):
    workdir = tmp_path / 'run'
    result = _cli('--config', 'gan_jax/configs/gauss1d.py', '--workdir', str(workdir), *extra)
    assert result.returncode == 2, (extra, result.stderr)
    assert result.stderr.startswith(f'error: {message}'), (extra, result.stderr)
    assert result.stderr.count('\n') == 1 and 'Traceback' not in result.stderr, result.stderr
    assert not (workdir / 'checkpoints').exists(), extra


@pytest.mark.slow
def test_missing_config_file_is_bad_input(tmp_path):
  result = _cli('--config', 'gan_jax/configs/nope.py', '--workdir', str(tmp_path))
  assert result.returncode == 2
  assert result.stderr == ("error: --config could not be loaded: [Errno 2] No such file or directory: "
                           "'gan_jax/configs/nope.py'\n")


def test_resuming_with_a_different_run_defining_field_is_rejected(tmp_path):
  loop.run(_tiny(gauss1d.get_config()), tmp_path, print_fn=lambda _: None)
  with pytest.raises(plan.ConfigError, match=r'config.latent_dim=8 differs from 4 of the run in'):
    loop.run(_tiny(gauss1d.get_config(), latent_dim=8), tmp_path, print_fn=lambda _: None)


@pytest.mark.parametrize('name, value, message', [
    ('update_rule', 'both', "config.update_rule='both' is not allowed; allowed: ['alternating', 'simultaneous']"),
    ('prior', 'laplace', "config.prior='laplace' is not allowed; allowed: ['uniform', 'gaussian']"),
    ('model', 'resnet', "config.model='resnet' is not allowed; allowed: ['mlp', 'maxout', 'conv_maxout']"),
    ('momentum', 1.0, 'config.momentum=1.0 must be in [0, 1)'),
    ('g_hidden_dims', (), 'config.g_hidden_dims=() must be a non-empty sequence of positive integers'),
    ('seed', -1, 'config.seed=-1 must be a non-negative integer'),
    ('d_input_keep', 0.0, 'config.d_input_keep=0.0 must be a keep probability in (0, 1]'),
    ('matmul_precision', 'highest', "config.matmul_precision='highest' is not allowed; "
                                    "allowed: ['default', 'tensorfloat32', 'bfloat16', 'float32']"),
    ('checkpoint_every_steps', 150, 'config.checkpoint_every_steps=150 must be a multiple of config.steps_per_call=100'),
])
def test_validate_names_the_field_and_the_allowed_values(name, value, message):
  config = gauss1d.get_config()
  config[name] = value
  with pytest.raises(plan.ConfigError) as error:
    plan.validate(config)
  assert str(error.value) == message


def test_every_preset_validates_and_has_exactly_the_documented_fields():
  for preset in (gauss1d, toy_ring, toy_grid, mnist_paper, cifar10_fc, cifar10_conv):
    config = preset.get_config()
    plan.validate(config)
    assert sorted(config.keys()) == sorted(plan.FIELDS) == sorted(base.get_config().keys())


@pytest.mark.slow
def test_runs_written_before_a_field_existed_resume_and_evaluate_with_its_default(tmp_path):
  from gan_jax.reports import stored_runs
  config = _tiny(gauss1d.get_config())
  loop.run(config, tmp_path, print_fn=lambda _: None)
  saved = json.loads((tmp_path / 'config.json').read_text())
  del saved['g_output'], saved['d_conv_channels']  # as written by an older gan_jax
  (tmp_path / 'config.json').write_text(json.dumps(saved))
  assert stored_runs.load_run_config(tmp_path).g_output == 'dense'
  config.num_steps = 9
  assert loop.run(config, tmp_path, print_fn=lambda _: None)['step'] == 9
