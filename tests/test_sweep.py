"""The PacGAN presets (a generator with batch-norm state) end to end, and experiments.sweep."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import trees_equal
from experiments import sweep
from gan_jax import experiment, runs
from gan_jax.configs import toy_grid_pacgan, toy_ring_pacgan

# Batch 64: each of the 8 test devices holds 8 examples, and batch norm takes its statistics over all 64.
TINY = dict(batch_size=64, steps_per_call=50, checkpoint_every_steps=50, sample_every_steps=100,
            g_hidden_dims=(32, 32), d_hidden_dims=(16, 16), num_shown_samples=64)


def _tiny(preset, num_steps):
  config = preset.get_config()
  config.update(num_steps=num_steps, **TINY)
  return config


@pytest.mark.parametrize('preset', [toy_ring_pacgan, toy_grid_pacgan])
def test_a_pacgan_preset_trains_and_resumes_bit_identically_with_the_generator_state(preset, tmp_path):
  quiet = lambda _: None
  experiment.run(_tiny(preset, 100), tmp_path / 'straight', print_fn=quiet)
  experiment.run(_tiny(preset, 50), tmp_path / 'stopped', print_fn=quiet)
  experiment.run(_tiny(preset, 100), tmp_path / 'stopped', print_fn=quiet)
  straight, resumed = (runs.restore_run(tmp_path / name)[3] for name in ('straight', 'stopped'))
  assert int(resumed.step) == 100
  assert resumed.g_state is not None and trees_equal(straight, resumed)
  assert np.any(np.asarray(straight.g_state['norms'][0]['running_mean']) != 0)
  metrics, samples = runs.evaluate_run(tmp_path / 'straight')
  assert samples.shape == (2500, 2) and set(sweep.METRICS) <= set(metrics)


def test_mean_and_error_is_the_sample_std_over_root_n():
  assert sweep.mean_and_error([1.0, 2.0, 3.0, 6.0]) == pytest.approx(
      {'mean': 3.0, 'se': np.std([1, 2, 3, 6], ddof=1) / 2, 'n': 4})
  assert sweep.mean_and_error([5.0]) == {'mean': 5.0, 'se': 0.0, 'n': 1}


@pytest.mark.slow
def test_the_sweep_writes_each_seeds_curve_and_the_table_and_a_rerun_only_reads_them(tmp_path):
  command = [sys.executable, '-m', 'experiments.sweep', '--config', 'gan_jax/configs/toy_ring_pacgan.py',
             '--workdir', str(tmp_path), '--seeds', '2', '--config.num_steps=100',
             *(f'--config.{name}={value}' for name, value in TINY.items())]
  first = subprocess.run(command, capture_output=True, text=True, timeout=600)
  assert first.returncode == 0, first.stderr
  records = [json.loads(line) for line in (tmp_path / 'sweep.jsonl').read_text().splitlines()]
  assert [(r['seed'], r['step']) for r in records] == [(0, 50), (0, 100), (1, 50), (1, 100)]
  table = json.loads((tmp_path / 'sweep.json').read_text())
  modes = [r['modes_covered'] for r in records if r['step'] == 100]
  assert table['100']['modes_covered'] == pytest.approx(sweep.mean_and_error(modes))
  assert first.stdout.strip().splitlines()[-1].startswith('step 100  seeds 2  modes ')
  second = subprocess.run(command, capture_output=True, text=True, timeout=600)
  assert second.returncode == 0, second.stderr
  assert 'resumed from step 100' in second.stdout
  assert (tmp_path / 'sweep.jsonl').read_text() == '\n'.join(json.dumps(r) for r in records) + '\n'
