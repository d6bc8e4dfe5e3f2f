"""The main job end to end: the gauss1d preset through the library and through the CLI."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from gan_jax import experiment
from gan_jax.configs import gauss1d

REPO = pathlib.Path(__file__).resolve().parents[1]


def _cli(*args, cwd=REPO):
  env = {**os.environ, 'XLA_FLAGS': ''}  # one CPU device, as on a user's laptop
  return subprocess.run([sys.executable, '-m', 'experiments.train', *args], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=300)


def test_gauss1d_preset_reaches_its_documented_result(tmp_path):
  lines = []
  summary = experiment.run(gauss1d.get_config(), tmp_path, print_fn=lines.append)
  assert abs(summary['sample_mean'] - 3.0) <= 0.1
  assert abs(summary['sample_std'] - 0.5) <= 0.1
  assert abs(summary['d_real'] - 0.5) < 0.05
  records = [json.loads(line) for line in (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert [r['step'] for r in records] == [500, 1000, 1500, 2000, 2500, 3000]
  assert json.loads((tmp_path / 'summary.json').read_text())['step'] == 3000
  assert lines[-1].startswith('step    3000/3000') and 'it/s' in lines[-1]


def test_same_config_and_seed_give_identical_metrics(tmp_path):
  config = gauss1d.get_config()
  config.num_steps, config.steps_per_call = 120, 50
  experiment.run(config, tmp_path / 'a', print_fn=lambda _: None)
  experiment.run(config, tmp_path / 'b', print_fn=lambda _: None)
  assert (tmp_path / 'a' / 'metrics.jsonl').read_text() == (tmp_path / 'b' / 'metrics.jsonl').read_text()
  config.seed = 1
  experiment.run(config, tmp_path / 'c', print_fn=lambda _: None)
  assert (tmp_path / 'a' / 'metrics.jsonl').read_text() != (tmp_path / 'c' / 'metrics.jsonl').read_text()


def test_cli_trains_and_writes_metrics(tmp_path):
  result = _cli('--config', 'gan_jax/configs/gauss1d.py', '--workdir', str(tmp_path),
                '--config.num_steps=200', '--config.steps_per_call=100')
  assert result.returncode == 0, result.stderr
  assert 'step     200/200' in result.stdout
  assert len((tmp_path / 'metrics.jsonl').read_text().splitlines()) == 2


@pytest.mark.parametrize('override, message', [
    ('--config.dataset=mnist_typo', "config.dataset='mnist_typo' is not allowed; allowed: ['gauss1d', 'toy_grid', 'toy_ring']"),
    ('--config.batch_size=0', 'config.batch_size=0 must be a positive integer'),
    ('--config.num_steps=-5', 'config.num_steps=-5 must be a positive integer'),
    ('--config.d_steps=0', 'config.d_steps=0 must be a positive integer'),
    ('--config.learning_rate=-0.1', 'config.learning_rate=-0.1 must be a positive number'),
    ('--config.g_loss=hinge', "config.g_loss='hinge' is not allowed; allowed: ['minimax', 'non_saturating']"),
    ('--config.optimizer=rmsprop', "config.optimizer='rmsprop' is not allowed; allowed: ['adam', 'sgd_momentum']"),
    ('--config.lr_schedule=paper', "config.lr_schedule='paper' needs optimizer='sgd_momentum', not 'adam'"),
])
def test_cli_rejects_bad_config_values_before_compute(tmp_path, override, message):
  result = _cli('--config', 'gan_jax/configs/gauss1d.py', '--workdir', str(tmp_path / 'run'), override)
  assert result.returncode == 2
  assert result.stderr.strip() == f'error: {message}'
  assert 'Traceback' not in result.stderr
  assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('name, value, message', [
    ('update_rule', 'both', "config.update_rule='both' is not allowed; allowed: ['alternating', 'simultaneous']"),
    ('prior', 'laplace', "config.prior='laplace' is not allowed; allowed: ['uniform', 'gaussian']"),
    ('momentum', 1.0, 'config.momentum=1.0 must be in [0, 1)'),
    ('hidden_dims', (), 'config.hidden_dims=() must be a non-empty sequence of positive integers'),
    ('seed', -1, 'config.seed=-1 must be a non-negative integer'),
])
def test_validate_names_the_field_and_the_allowed_values(name, value, message):
  config = gauss1d.get_config()
  config[name] = value
  with pytest.raises(experiment.ConfigError) as error:
    experiment.validate(config)
  assert str(error.value) == message


def test_validate_rejects_a_batch_that_does_not_divide_over_the_devices():
  config = gauss1d.get_config()
  config.batch_size = 100
  with pytest.raises(experiment.ConfigError, match='batch_size=100 does not divide over 8 devices'):
    experiment.validate(config, num_devices=8)
