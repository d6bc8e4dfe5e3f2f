"""The contracts of a run: the paths of run and sweep directories, and the named keys derived from a seed."""

import json
import pathlib

import jax
import numpy as np
import pytest

from gan_jax.configs import base, gauss1d
from gan_jax.training import rundir


def _paths(run: rundir.RunDirectory) -> list[pathlib.Path]:
  """Every path a RunDirectory names, for each generator and a few checkpoints and steps."""
  fixed = [run.config, run.devices, run.lock, run.metrics, run.tensorboard, run.checkpoints, run.summary]
  per_generator = [path for generator in rundir.GENERATORS for path in (
      run.best_checkpoints(generator), run.samples(generator), run.sample_picture(generator, 3),
      run.sample_picture(generator, 12500), run.evaluation_report('best', generator),
      run.evaluation_report('12500', generator), run.evaluation_report('latest', generator))]
  return fixed + per_generator + [run.evaluation_report(real_centres=True)]


def test_every_path_of_a_run_is_its_own_and_inside_the_run_directory(tmp_path):
  run = rundir.RunDirectory(str(tmp_path / 'run'))  # a string is taken as a path
  assert run.root == tmp_path / 'run'
  paths = _paths(run)
  assert len(set(paths)) == len(paths)
  assert all(path.is_relative_to(run.root) and path != run.root for path in paths)
  # What the loop, evaluate and the figures agree on (the module docstring's listing).
  assert (run.config.name, run.metrics.name) == (rundir.CONFIG, rundir.METRICS)
  assert run.checkpoint_directories() == (run.checkpoints, run.best_checkpoints('raw'), run.best_checkpoints('ema'))
  assert run.sample_picture('ema', 6) == run.root / 'samples_ema' / 'step_0000006.png'
  assert run.evaluation_report() == run.root / 'eval.json'
  assert run.evaluation_report('best', 'ema') == run.root / 'eval_best_ema.json'


def test_a_saved_config_reads_back_with_the_defaults_of_fields_added_since_and_none_without_one(tmp_path):
  run = rundir.RunDirectory(tmp_path)
  assert run.saved_config() is None
  saved = {**gauss1d.get_config().to_dict(), 'latent_dim': 7, 'g_hidden_dims': [9, 9]}
  del saved['pack']  # a field the project added after this run was written
  run.config.write_text(json.dumps(saved))
  config = run.saved_config()
  assert (config.latent_dim, config.g_hidden_dims, config.pack) == (7, (9, 9), base.get_config().pack)


def test_the_generators_suffixes_name_the_average_with_ema_and_g_as_trained_with_nothing():
  assert rundir.GENERATORS == ('raw', 'ema')
  assert [rundir.suffix(generator) for generator in rundir.GENERATORS] == ['', '_ema']
  with pytest.raises(KeyError):
    rundir.suffix('average')


def test_a_sweep_holds_one_run_directory_per_seed_beside_its_records(tmp_path):
  sweep = rundir.SweepDirectory(tmp_path / 'sweep')
  assert sweep.seed(3) == rundir.RunDirectory(tmp_path / 'sweep' / 'seed_3')
  seeds = [sweep.seed(seed).root for seed in range(12)]
  assert len(set(seeds)) == 12 and all(root.parent == sweep.root for root in seeds)
  files = [sweep.records('raw'), sweep.records('ema'), sweep.table('raw'), sweep.table('ema'), sweep.records_lock]
  assert [path.name for path in files] == ['sweep.jsonl', 'sweep_ema.jsonl', 'sweep.json', 'sweep_ema.json',
                                           'records.lock']
  assert all(path.parent == sweep.root for path in files)
  # No file of the sweep is inside a seed's run directory, nor the reverse.
  for seed_root in seeds:
    assert not any(path.is_relative_to(seed_root) for path in files)


def _raw(key: jax.Array) -> np.ndarray:
  return np.asarray(jax.random.key_data(key))


def test_the_keys_of_a_seed_are_split_key_seed_3_and_the_same_each_time():
  keys = rundir.RunKeys.of_seed(7)
  expected = jax.random.split(jax.random.key(7), 3)
  for got, want in zip((keys.train, keys.data, keys.sample), expected):
    np.testing.assert_array_equal(_raw(got), _raw(want))
  again = rundir.RunKeys.of_seed(7)
  for name in ('train', 'data', 'sample', 'evaluation_samples', 'summary_samples', 'interpolation', 'figure_samples'):
    np.testing.assert_array_equal(_raw(getattr(keys, name)), _raw(getattr(again, name)))


def test_each_key_of_a_run_serves_one_purpose_and_differs_from_every_other_and_from_another_seeds():
  names = ('train', 'data', 'sample', 'evaluation_samples', 'summary_samples', 'interpolation', 'figure_samples')
  of_seed = lambda seed: [_raw(getattr(rundir.RunKeys.of_seed(seed), name)).tobytes() for name in names]
  zero, one = of_seed(0), of_seed(1)
  assert len(set(zero)) == len(names)
  assert not set(zero) & set(one)
