"""The benchmark script runs end to end (tiny counts, small model); its numbers are not checked here."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

from conftest import xla_flags

REPO = pathlib.Path(__file__).resolve().parents[1]
HAS_TORCH = importlib.util.find_spec('torch') is not None


@pytest.mark.slow
def test_throughput_benchmark_runs_and_reports_every_variant(tmp_path):
  out = tmp_path / 'bench.json'
  env = {**os.environ, 'XLA_FLAGS': xla_flags(2)}
  result = subprocess.run(
      [sys.executable, '-m', 'benchmarks.throughput', '--small', '--iterations=4', '--rounds=2', '--scan_length=2',
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
