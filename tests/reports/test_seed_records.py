"""Sweep records over seeds: merging, scoring, and seeds trained together."""

import json
import math

import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

import gan_jax
from conftest import experiment_main, trees_equal
from gan_jax.configs import toy_ring_pacgan
from gan_jax.evaluation import measures
from gan_jax.reports import seed_records, stored_runs
from gan_jax.training import checkpoint, plan, rundir
from tiny_runs import tiny_pacgan

sweep_command = experiment_main('sweep')


def test_a_seed_keeps_every_checkpoint_however_many_stops_fall_between_them(tmp_path):
  """A SIGTERM checkpoints where it stops, between the ``checkpoint_every_steps`` ones; none may push out the
  earliest, whose records the sweep writes when the seed is done. A capped manager shows what would go."""
  config = seed_records.seed_config(tiny_pacgan(toy_ring_pacgan, 40), 3)
  assert config.seed == 3
  steps = [10, 15, 20, 25, 30, 35, 40]  # stopped at 15, 25 and 35
  kept = {}
  for name, keep in (('seed', config.keep_checkpoints), ('capped', 5)):
    manager = checkpoint.make_manager(tmp_path / name, keep)
    for step in steps:
      manager.save(step, args=ocp.args.StandardSave({'step': np.int32(step)}))
    manager.wait_until_finished()
    kept[name] = sorted(manager.all_steps())
    manager.close()
  assert kept == {'seed': steps, 'capped': steps[2:]}


def test_records_merge_by_seed_and_step_and_an_infinite_reverse_kl_is_null_on_file_and_inf_again(tmp_path):
  sweep = rundir.SweepDirectory(tmp_path)
  path = sweep.records('raw')
  record = lambda seed, step, kl: {'seed': seed, 'step': step, 'modes_covered': 1, 'high_quality_frac': 0.5,
                                   'reverse_kl': kl}
  seed_records.merge_records(sweep, 'raw', [record(1, 10, 0.2), record(1, 20, math.inf)])  # another process's
  seed_records.merge_records(sweep, 'raw', [record(0, 20, 0.3), record(1, 10, 0.25)])  # (1, 10) scored anew
  assert [json.loads(line) for line in path.read_text().splitlines()] == [
      record(0, 20, 0.3), record(1, 10, 0.25), record(1, 20, None)]
  assert seed_records.read_records(path) == [record(0, 20, 0.3), record(1, 10, 0.25), record(1, 20, math.inf)]
  assert sorted(p.name for p in tmp_path.iterdir()) == ['records.lock', 'sweep.jsonl']


@pytest.mark.slow
def test_seeds_trained_together_resume_bit_identically_and_score_as_evaluate_does(tmp_path):
  quiet = lambda _: None
  on_file_after_step_10 = []

  sweeps = {name: rundir.SweepDirectory(tmp_path / name) for name in ('straight', 'stopped')}

  def read_the_records_after_step_10(line):  # the line printed once step 10's last checkpoint is written
    if line.startswith('step 10: seed 1'):
      on_file_after_step_10.extend(seed_records.read_records(sweeps['straight'].records('raw')))

  straight, _ = seed_records.train_together(tiny_pacgan(toy_ring_pacgan, 20), [0, 1], sweeps['straight'],
                                            read_the_records_after_step_10, keep_records=True)
  first, _ = seed_records.train_together(tiny_pacgan(toy_ring_pacgan, 10), [0, 1], sweeps['stopped'], quiet)
  second, stopped = seed_records.train_together(tiny_pacgan(toy_ring_pacgan, 20), [0, 1], sweeps['stopped'], quiet)
  assert not stopped
  assert [(r['seed'], r['step']) for r in straight] == [(0, 10), (1, 10), (0, 20), (1, 20)]
  assert first + second == straight
  for seed in (0, 1):
    restored = [stored_runs.restore_run(sweep.seed(seed).root)[3] for sweep in sweeps.values()]
    assert int(restored[0].step) == 20 and trees_equal(*restored)
    metrics, _ = stored_runs.evaluate_run(sweeps['straight'].seed(seed).root, which='10')
    assert {name: metrics[name] for name in measures.MODE_METRICS} == {
        name: straight[seed][name] for name in measures.MODE_METRICS}
  seed_0, seed_1 = (stored_runs.restore_run(sweeps['straight'].seed(seed).root)[3] for seed in (0, 1))
  assert not trees_equal(seed_0.g_params, seed_1.g_params)
  by_seed = sorted(straight, key=lambda r: (r['seed'], r['step']))
  assert on_file_after_step_10 == [by_seed[0], by_seed[2]]  # before step 20 was trained
  assert seed_records.read_records(sweeps['straight'].records('raw')) == by_seed
  assert seed_records.score_seeds(sweeps['straight'], [0, 1], straight) == by_seed  # nothing scored again
  assert seed_records.score_seeds(sweeps['straight'], [1], by_seed[3:]) == by_seed[2:]  # step 10 scored anew
  # The command over seed 0 alone: its table is of seed 0, whatever other seeds the records hold.
  assert sweep_command._together(tiny_pacgan(toy_ring_pacgan, 20), [0], sweeps['straight'], by_seed, 'raw') == by_seed[:2]


def test_a_record_scores_the_generator_that_params_names():
  """As trained, G spreads N(0, I₂) over the plane; its average puts every sample on the ring's mode (1, 0)."""
  shift_and_scale = lambda params, z: params['centre'] + params['scale'] * z
  d_apply = lambda params, x, dropout_key: x[:, 0] * params
  gan = gan_jax.GAN(shift_and_scale, d_apply, gan_jax.NoisePrior('gaussian', 2), optax.sgd(0.1), optax.sgd(0.1),
                    g_ema_decay=0.9)
  state = gan_jax.init_state(gan, {'centre': jnp.zeros(2), 'scale': jnp.ones(())}, jnp.ones(()))
  state = state.replace(g_params_ema={'centre': jnp.array([1.0, 0.0]), 'scale': jnp.zeros(())})
  record = lambda params: seed_records.mode_record(gan, state, rundir.RunKeys.of_seed(0), 'toy_ring', 3, params)
  assert record('ema') == {'seed': 3, 'step': 0, 'modes_covered': 1, 'high_quality_frac': 1.0,
                           'reverse_kl': pytest.approx(np.log(8))}  # one mode of 8
  raw = record('raw')
  assert raw['modes_covered'] != 1 and raw['high_quality_frac'] < 0.05


@pytest.mark.parametrize('seeds', [[], [0, 0]])
def test_no_seeds_or_a_seed_twice_are_refused_together_before_anything_is_written(tmp_path, seeds):
  with pytest.raises(plan.ConfigError, match=r'must be one or more distinct seeds'):
    seed_records.train_together(tiny_pacgan(toy_ring_pacgan, 10), seeds, rundir.SweepDirectory(tmp_path / 'sweep'),
                                lambda _: None)
  assert not (tmp_path / 'sweep').exists()
