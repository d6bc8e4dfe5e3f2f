"""The PacGAN presets (a generator with batch-norm state) end to end, and experiments.sweep."""

import json
import math
import os
import subprocess
import sys
import types

import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

import gan_jax
from conftest import trees_equal
from experiments import sweep as sweep_command
from gan_jax.evaluation import measures
from gan_jax.reports import seed_records, stored_runs
from gan_jax.training import checkpoint, loop, plan, rundir, seed_runs
from gan_jax.configs import toy_grid_pacgan, toy_ring_pacgan

# Batch 64: each of the 8 test devices holds 8 examples, and batch norm takes its statistics over all 64.
TINY = dict(batch_size=64, steps_per_call=10, checkpoint_every_steps=10, sample_every_steps=20,
            g_hidden_dims=(32, 32), d_hidden_dims=(16, 16), num_shown_samples=64)


def _tiny(preset, num_steps):
  config = preset.get_config()
  config.update(num_steps=num_steps, **TINY)
  return config


def test_the_grid_preset_is_the_ring_preset_on_the_grid():
  ring, grid = toy_ring_pacgan.get_config(), toy_grid_pacgan.get_config()
  assert (ring.dataset, grid.dataset) == ('toy_ring', 'toy_grid')
  ring.dataset = 'toy_grid'
  assert ring.to_dict() == grid.to_dict()


def test_the_pacgan_preset_trains_and_resumes_bit_identically_with_the_generator_state(tmp_path):
  """``toy_ring_pacgan`` end to end on 8 devices.

  ``toy_grid_pacgan`` differs only in its data, which test_experiment's toy_grid run trains on.
  """
  quiet = lambda _: None
  preset = toy_ring_pacgan
  loop.run(_tiny(preset, 20), tmp_path / 'straight', print_fn=quiet)
  loop.run(_tiny(preset, 10), tmp_path / 'stopped', print_fn=quiet)
  loop.run(_tiny(preset, 20), tmp_path / 'stopped', print_fn=quiet)
  straight, resumed = (stored_runs.restore_run(tmp_path / name)[3] for name in ('straight', 'stopped'))
  assert int(resumed.step) == 20
  assert resumed.g_state is not None and trees_equal(straight, resumed)
  assert np.any(np.asarray(straight.g_state['norms'][0]['running_mean']) != 0)
  metrics, samples = stored_runs.evaluate_run(tmp_path / 'straight')
  assert samples.shape == (2500, 2) and set(measures.MODE_METRICS) <= set(metrics)


def test_a_seed_keeps_every_checkpoint_however_many_stops_fall_between_them(tmp_path):
  """A SIGTERM checkpoints where it stops, between the ``checkpoint_every_steps`` ones; none may push out the
  earliest, whose records the sweep writes when the seed is done. A capped manager shows what would go."""
  config = seed_records.seed_config(_tiny(toy_ring_pacgan, 40), 3)
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


def test_the_seed_table_is_the_mean_and_the_sample_std_over_root_n_per_step():
  records = [{'seed': seed, 'step': 10, 'modes_covered': modes, 'high_quality_frac': 0.5, 'reverse_kl': 0.1}
             for seed, modes in enumerate([1, 2, 3, 6])]
  table = measures.mode_metrics_over_seeds(records + [{**records[0], 'step': 20}])
  assert table[10]['modes_covered'] == pytest.approx({'mean': 3.0, 'se': np.std([1, 2, 3, 6], ddof=1) / 2, 'n': 4})
  assert table[20]['modes_covered'] == {'mean': 1.0, 'se': 0.0, 'n': 1}


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
def test_the_sweep_writes_each_seeds_curve_and_the_table_and_reruns_read_them_or_score_the_average(tmp_path):
  command = [sys.executable, '-m', 'experiments.sweep', '--config', 'gan_jax/configs/toy_ring_pacgan.py',
             '--workdir', str(tmp_path), '--seeds', '2', '--config.num_steps=20', '--config.g_ema_decay=0.9',
             *(f'--config.{name}={value}' for name, value in TINY.items())]
  sweep = rundir.SweepDirectory(tmp_path)
  sweep.seed(1).root.mkdir(parents=True)
  other_process = seed_runs.claim_workdir(sweep.seed(1))  # as if the same command ran elsewhere on seed 1
  shared = subprocess.run(command, capture_output=True, text=True, timeout=600)
  assert shared.returncode == 0, shared.stderr
  busy = f'seed 1: skipped (process {os.getpid()} is training in {tmp_path / "seed_1"})'
  assert shared.stdout.count(busy) == 2  # tried first in turn, then again after the others
  assert shared.stdout.strip().splitlines()[-1].startswith('seeds [1] are being trained by another process; ')
  assert [(r['seed'], r['step']) for r in map(json.loads, sweep.records('raw').read_text().splitlines())] == [
      (0, 10), (0, 20)]
  assert not sweep.table('raw').exists() and sorted(sweep.seed(1).root.iterdir()) == [sweep.seed(1).lock]
  other_process.close()

  first = subprocess.run(command, capture_output=True, text=True, timeout=600)  # the last to finish: the table
  assert first.returncode == 0, first.stderr
  assert 'resumed from step 20' in first.stdout  # seed 0, from the run above
  records = [json.loads(line) for line in sweep.records('raw').read_text().splitlines()]
  assert [(r['seed'], r['step']) for r in records] == [(0, 10), (0, 20), (1, 10), (1, 20)]
  table = json.loads(sweep.table('raw').read_text())
  modes = [r['modes_covered'] for r in records if r['step'] == 20]
  assert table['20']['modes_covered'] == pytest.approx(measures.mean_and_error(modes))
  assert first.stdout.strip().splitlines()[-1].startswith('step 20  seeds 2  modes ')
  assert not sweep.records('ema').exists()
  rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
  assert rerun.returncode == 0, rerun.stderr
  assert 'resumed from step 20' in rerun.stdout
  assert sweep.records('raw').read_text() == '\n'.join(json.dumps(r) for r in records) + '\n'

  second = subprocess.run(command + ['--params=ema'], capture_output=True, text=True, timeout=600)
  assert second.returncode == 0, second.stderr
  assert 'resumed from step 20' in second.stdout
  assert sweep.records('raw').read_text() == '\n'.join(json.dumps(r) for r in records) + '\n'
  averaged = seed_records.read_records(sweep.records('ema'))  # G's average at step 10 may have no high quality
  assert [(r['seed'], r['step']) for r in averaged] == [(r['seed'], r['step']) for r in records]
  metrics, _ = stored_runs.evaluate_run(sweep.seed(1).root, which='10', params='ema')
  assert {name: metrics[name] for name in measures.MODE_METRICS} == {
      name: averaged[2][name] for name in measures.MODE_METRICS}
  assert set(json.loads(sweep.table('ema').read_text())) == {'10', '20'}


@pytest.mark.slow
def test_seeds_trained_together_resume_bit_identically_and_score_as_evaluate_does(tmp_path):
  quiet = lambda _: None
  on_file_after_step_10 = []

  sweeps = {name: rundir.SweepDirectory(tmp_path / name) for name in ('straight', 'stopped')}

  def read_the_records_after_step_10(line):  # the line printed once step 10's last checkpoint is written
    if line.startswith('step 10: seed 1'):
      on_file_after_step_10.extend(seed_records.read_records(sweeps['straight'].records('raw')))

  straight, _ = seed_records.train_together(_tiny(toy_ring_pacgan, 20), [0, 1], sweeps['straight'],
                                            read_the_records_after_step_10, keep_records=True)
  first, _ = seed_records.train_together(_tiny(toy_ring_pacgan, 10), [0, 1], sweeps['stopped'], quiet)
  second, stopped = seed_records.train_together(_tiny(toy_ring_pacgan, 20), [0, 1], sweeps['stopped'], quiet)
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
  assert sweep_command._together(_tiny(toy_ring_pacgan, 20), [0], sweeps['straight'], by_seed, 'raw') == by_seed[:2]


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


def test_seeds_at_different_steps_are_refused_together():
  at_step = lambda seed, step: types.SimpleNamespace(seed=seed, state=types.SimpleNamespace(step=np.int32(step)))
  assert loop._common_step([at_step(0, 10), at_step(1, 10)]) == 10  # pylint: disable=protected-access
  with pytest.raises(plan.ConfigError, match=r'different steps \{0: 10, 1: 0\}.*without --together'):
    loop._common_step([at_step(0, 10), at_step(1, 0)])  # pylint: disable=protected-access


@pytest.mark.parametrize('seeds', [[], [0, 0]])
def test_no_seeds_or_a_seed_twice_are_refused_together_before_anything_is_written(tmp_path, seeds):
  with pytest.raises(plan.ConfigError, match=r'must be one or more distinct seeds'):
    seed_records.train_together(_tiny(toy_ring_pacgan, 10), seeds, rundir.SweepDirectory(tmp_path / 'sweep'),
                                lambda _: None)
  assert not (tmp_path / 'sweep').exists()
