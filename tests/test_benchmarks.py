"""The benchmark scripts run end to end (tiny counts, small model); the throughput numbers are not checked here."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import parzen_precision
from conftest import xla_flags
from gan_jax.evaluation import measures
from idx_files import write_mnist_idx

REPO = pathlib.Path(__file__).resolve().parents[1]
HAS_TORCH = importlib.util.find_spec('torch') is not None


@pytest.mark.slow
def test_throughput_benchmark_runs_and_reports_every_variant(tmp_path):
  out = tmp_path / 'bench.json'
  env = {**os.environ, 'XLA_FLAGS': xla_flags(2)}
  result = subprocess.run(
      [sys.executable, '-m', 'benchmarks.throughput', '--small', '--iterations=3', '--rounds=2', '--scan_length=2',
       '--loop_steps=8', '--matmul_repeats=2', f'--torch={HAS_TORCH}', f'--json_out={out}'],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert '| jax_jit |' in result.stdout and '| jax_scan |' in result.stdout
  assert '| jax_pmap_loop (2 devices) |' in result.stdout
  assert 'matmul ceiling' in result.stdout and 'Full training loop / jax_scan' in result.stdout
  report = json.loads(out.read_text())
  assert report['small'] is True
  assert len(report['rates']['jax_scan']) == 2 and all(rate > 0 for rate in report['rates']['jax_scan'])
  assert report['xla_flops'] > 0 and report['ceiling_it_per_s'] > 0 and report['full_loop_it_per_s'] > 0
  assert any(name.startswith('torch_eager') for name in report['rates']) == HAS_TORCH


@pytest.mark.slow
def test_missing_pytorch_is_one_line_before_any_work(tmp_path):
  (tmp_path / 'torch.py').write_text("raise ImportError('No module named torch (stand-in)')\n")
  env = {**os.environ, 'PYTHONPATH': str(tmp_path)}
  result = subprocess.run([sys.executable, '-m', 'benchmarks.throughput', '--torch'], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 2
  assert result.stderr == ("error: --torch needs PyTorch (No module named torch (stand-in)); install the bench "
                           "extra (pip install -e '.[bench]') or pass --notorch\n")


def test_mantissa_rounding_is_to_nearest_with_ties_to_even_as_bfloat16_conversion_is():
  ulp = 2.0 ** -10  # of 1.0 with a 10-bit mantissa (TF32)
  values = np.float32([1 + ulp / 2, 1 + 3 * ulp / 2, 1 + ulp / 2 + 2.0 ** -20, -(1 + 3 * ulp / 2)])
  np.testing.assert_array_equal(parzen_precision.round_mantissa(values, 10),
                                np.float32([1, 1 + 2 * ulp, 1 + ulp, -(1 + 2 * ulp)]))
  scales = 10.0 ** np.arange(-3, 3).repeat(167)[:1000]
  random = (np.random.default_rng(0).normal(size=1000) * scales).astype(np.float32)
  as_bfloat16 = np.asarray(jnp.asarray(random, jnp.bfloat16), np.float32)  # round to nearest, ties to even
  np.testing.assert_array_equal(parzen_precision.round_mantissa(random, 7), as_bfloat16)
  np.testing.assert_array_equal(parzen_precision.round_mantissa(random, 23), random)


def test_the_unrounded_reference_is_the_projects_parzen_estimate():
  """float64 here against float32 there: squared distances ~1.5 in 16 dimensions, bandwidth 0.5, so float32
  rounding moves the log-likelihoods by ~1e-5; a wrong term (normaliser, count, 2σ²) moves them by ≥ 0.1."""
  rng = np.random.default_rng(1)
  x, centres = (rng.uniform(0.0, 0.6, size=shape).astype(np.float32) for shape in ((30, 16), (50, 16)))
  ours = parzen_precision.parzen_log_likelihoods(x, centres, 0.5, bits=23)
  np.testing.assert_allclose(ours, np.asarray(measures.parzen_log_likelihood(x, centres, 0.5)), rtol=0, atol=1e-4)


@pytest.mark.slow
def test_a_full_loop_over_devices_that_do_not_divide_the_batch_is_one_line_before_any_work():
  env = {**os.environ, 'XLA_FLAGS': xla_flags(8)}
  result = subprocess.run([sys.executable, '-m', 'benchmarks.throughput', '--notorch'], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 2
  assert result.stderr == ('error: --loop_steps: the full training loop trains on all 8 devices, over which a batch '
                           'of 100 does not divide; pass --loop_steps=0 to leave it out, or make fewer devices '
                           'visible\n')


@pytest.mark.slow
def test_parzen_precision_script_prints_its_table_and_refuses_a_missing_directory_in_one_line(tmp_path):
  write_mnist_idx(tmp_path, num_train=60, num_test=12)
  result = subprocess.run([sys.executable, '-m', 'benchmarks.parzen_precision', f'--mnist={tmp_path}', '--num_test=12',
                           '--num_centres=40'], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-3000:]
  rows = [line for line in result.stdout.splitlines() if line.startswith('| ') and 'log-likelihood' not in line]
  assert [row.split(' | ')[0] for row in rows] == ['| float32 (reference)', '| TF32 factors', '| bfloat16 factors']
  assert rows[0].split(' | ')[2:] == ['+0.00', '0.00', '0.00 |']
  missing = subprocess.run([sys.executable, '-m', 'benchmarks.parzen_precision', f'--mnist={tmp_path / "none"}'],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
  assert missing.returncode == 2 and missing.stderr.startswith(f'error: --mnist={tmp_path / "none"}: ')
  assert missing.stderr.count('\n') == 1
