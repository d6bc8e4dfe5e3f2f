"""Stored runs: restoring and evaluating a run's checkpoints (latest, a step, the best), and old or odd runs."""

import json
import pathlib
import shutil

import jax
import numpy as np
import pytest

from conftest import trees_equal
from experiments import cli
from gan_jax.configs import gauss1d, mnist_paper
from gan_jax.data import datasets
from gan_jax.reports import stored_runs
from gan_jax.training import checkpoint, loop, plan, rundir
from tiny_runs import (garble_metadata, join_orbax_threads, kept_best, monitored_config, SAME_SAMPLES_NATS,
    tiny_config, tiny_gauss, tiny_image_config)


@pytest.mark.slow
def test_evaluate_best_and_step_restore_those_checkpoints(straight_run):
  for params in ('raw', 'ema'):
    _, best_step, best_value = kept_best(straight_run, params)
    report, _ = stored_runs.evaluate_run(straight_run, which='best', params=params)
    assert (report['step'], report['checkpoint'], report['params']) == (best_step, 'best', params)
    assert abs(report['validation_ll'] - best_value) <= SAME_SAMPLES_NATS
  report, _ = stored_runs.evaluate_run(straight_run, which='9')
  assert report['step'] == 9
  with pytest.raises(checkpoint.CheckpointError, match='no checkpoint step 4 in'):
    stored_runs.evaluate_run(straight_run, which='4')


@pytest.mark.slow
def test_evaluating_the_average_of_a_run_without_one_is_a_clear_error(idx_dir, tmp_path):
  loop.run(monitored_config(idx_dir, num_steps=3, g_ema_decay=0.0), tmp_path, print_fn=lambda _: None)
  with pytest.raises(plan.ConfigError, match='--params=ema needs a run trained with config.g_ema_decay > 0'):
    stored_runs.evaluate_run(tmp_path, params='ema')
  assert not rundir.RunDirectory(tmp_path).best_checkpoints('ema').exists()


def _listing(directory: pathlib.Path) -> list[str]:
  return sorted(str(path.relative_to(directory)) for path in directory.rglob('*'))


@pytest.mark.slow
def test_reading_a_run_creates_moves_and_deletes_nothing_so_it_may_be_training_meanwhile(tmp_path, capsys):
  loop.run(tiny_gauss(), tmp_path, print_fn=lambda _: None)
  directory = tmp_path / 'checkpoints'
  shutil.copytree(directory / '6', directory / '9.orbax-checkpoint-tmp-1764633600')  # a save being written
  garble_metadata(directory / '6')
  before = _listing(tmp_path)
  capsys.readouterr()
  latest = stored_runs.restore_run(tmp_path)[3]
  out = capsys.readouterr().out
  assert out.startswith(f'warning: checkpoint step 6 in {directory} cannot be restored (')
  assert out.endswith('; left it in place; restored step 3\n') and out.count('\n') == 1
  assert int(latest.step) == 3 and trees_equal(stored_runs.restore_run(tmp_path, '3')[3], latest)
  with pytest.raises(checkpoint.CheckpointError, match=f'no best checkpoint in {tmp_path / "checkpoints_best"}'):
    stored_runs.restore_run(tmp_path, 'best')
  join_orbax_threads()
  assert _listing(tmp_path) == before


@pytest.mark.slow
def test_runs_written_before_a_field_existed_resume_and_evaluate_with_its_default(tmp_path):
  from gan_jax.reports import stored_runs
  config = tiny_config(gauss1d.get_config())
  loop.run(config, tmp_path, print_fn=lambda _: None)
  saved = json.loads((tmp_path / 'config.json').read_text())
  del saved['g_output'], saved['d_conv_channels']  # as written by an older gan_jax
  (tmp_path / 'config.json').write_text(json.dumps(saved))
  assert stored_runs.load_run_config(tmp_path).g_output == 'dense'
  config.num_steps = 9
  assert loop.run(config, tmp_path, print_fn=lambda _: None)['step'] == 9


def test_classifier_metrics_need_a_classifier_for_data_of_this_shape(tmp_path):
  from gan_jax import models
  from gan_jax.evaluation import classifier  # pylint: disable=g-import-not-at-top
  from flax import nnx  # pylint: disable=g-import-not-at-top
  _, params = models.as_pure_function(classifier.MLPClassifier(16, (8,), rngs=nnx.Rngs(0)))
  classifier.save(tmp_path / 'c', params)
  (tmp_path / 'c' / 'classifier.json').write_text(json.dumps({'hidden_dims': [8], 'dataset': 'npy:other.npy'}))
  np.save(tmp_path / 'x.npy', np.zeros((40, 5, 5, 1), np.uint8))
  dataset = datasets.load(f'npy:{tmp_path / "x.npy"}', jax.random.key(0))
  with pytest.raises(cli.BAD_INPUT, match=r"was trained on dataset='npy:other.npy', whose examples are not the "
                                          r'\(5, 5, 1\) examples'):
    stored_runs._load_classifier(tmp_path / 'c', dataset)  # pylint: disable=protected-access


@pytest.mark.slow
def test_empty_held_out_splits_are_refused_by_the_monitor_and_by_evaluate(tmp_path, monkeypatch):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  config = tiny_image_config(mnist_paper.get_config(), dataset='tfds:kmnist', train_split='train', validation_split='train[:0]',
                 test_split='test[:0]', eval_every_steps=3)
  with tfds.testing.mock_data(num_examples=24):
    with pytest.raises(cli.BAD_INPUT, match='has no validation examples for the monitor; use 0'):
      loop.run(config, tmp_path / 'run', print_fn=lambda _: None)
    assert not (tmp_path / 'run').exists()
    config.eval_every_steps = 0
    loop.run(config, tmp_path / 'run', print_fn=lambda _: None)
    monkeypatch.setattr(stored_runs.train, 'sample', lambda *args: pytest.fail('sampled before refusing'))
    with pytest.raises(cli.BAD_INPUT, match='has 0 validation and 0 test examples; the Parzen protocol needs both'):
      stored_runs.evaluate_run(tmp_path / 'run', num_samples=4)
