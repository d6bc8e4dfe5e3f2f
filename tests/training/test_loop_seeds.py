"""Seeds trained together get what a single run gets: one loop for one seed or S."""

import json

import pytest

from conftest import trees_equal
from gan_jax.configs import mnist_paper
from gan_jax.reports import stored_runs
from gan_jax.training import loop, plan, rundir
from idx_files import write_mnist_idx

# Every test here trains seeds together (the module fixture): integration tests, in the full suite only.
pytestmark = pytest.mark.slow


def _config(idx_dir, **overrides):
  config = mnist_paper.get_config()
  config.update(dict(dataset=f'idx:{idx_dir}', num_steps=6, steps_per_call=3, checkpoint_every_steps=3,
                     sample_every_steps=6, eval_every_steps=3, eval_num_samples=32, eval_num_validation=20,
                     log_every_seconds=0.01, batch_size=16, num_shown_samples=16, g_hidden_dims=(32,),
                     d_hidden_dims=(16,), maxout_pieces=2, g_ema_decay=0.9))
  config.update(overrides)
  return config


@pytest.fixture(scope='module')
def together(tmp_path_factory):
  """Seeds 3 and 5 of a tiny image config with the monitor and a weight average, trained together."""
  idx_dir = tmp_path_factory.mktemp('mnist_idx')
  write_mnist_idx(idx_dir, num_train=120, num_test=20)
  sweep = rundir.SweepDirectory(tmp_path_factory.mktemp('together'))
  lines = []
  summaries = loop.train_seeds(_config(idx_dir), [3, 5], [sweep.seed(3), sweep.seed(5)], print_fn=lines.append)
  return idx_dir, sweep, summaries, lines


def test_every_seed_gets_the_monitor_best_checkpoints_pictures_of_both_generators_and_a_summary(together):
  _, sweep, summaries, lines = together
  for seed, summary in zip((3, 5), summaries):
    directory = sweep.seed(seed)
    assert json.loads(directory.summary.read_text()) == summary and summary['step'] == 6
    assert json.loads(directory.config.read_text())['seed'] == seed
    records = [json.loads(line) for line in directory.metrics.read_text().splitlines()]
    assert [r['step'] for r in records] == [3, 6]
    assert all(f'validation_ll{suffix}' in r for r in records for suffix in ('', '_ema'))
    for generator in rundir.GENERATORS:
      assert directory.sample_picture(generator, 6).is_file()
      assert stored_runs.restore_run(directory.root, 'best', generator)[3].step in (3, 6)
  assert sum(line.startswith('seed 3: ') for line in lines) == 2  # the monitor's line, per seed and evaluation


def test_seeds_trained_together_start_from_their_own_seeds(together):
  _, sweep, _, _ = together
  seed_3, seed_5 = (stored_runs.restore_run(sweep.seed(seed).root)[3] for seed in (3, 5))
  assert not trees_equal(seed_3.g_params, seed_5.g_params)


def test_a_rerun_of_finished_seeds_trains_nothing_and_keeps_their_summaries(together):
  idx_dir, sweep, summaries, _ = together
  assert loop.train_seeds(_config(idx_dir), [3, 5], [sweep.seed(3), sweep.seed(5)], print_fn=lambda _: None) == (
      summaries)


def test_seeds_at_different_steps_are_refused_before_anything_is_trained(together, tmp_path):
  idx_dir, sweep, _, _ = together
  fresh = rundir.RunDirectory(tmp_path / 'seed_7')
  with pytest.raises(plan.ConfigError, match=r'the seeds are at different steps \{3: 6, 7: 0\}'):
    loop.train_seeds(_config(idx_dir), [3, 7], [sweep.seed(3), fresh], print_fn=lambda _: None)
