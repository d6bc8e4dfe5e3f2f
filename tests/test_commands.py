"""The experiments/ commands end to end, as users run them: evaluate, figures, train_classifier and sweep."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from conftest import xla_flags
from gan_jax.configs import mnist_paper, toy_ring
from gan_jax.data import datasets
from gan_jax.evaluation import measures
from gan_jax.reports import seed_records, stored_runs
from gan_jax.training import loop, rundir, seed_runs
from idx_files import write_mnist_idx
from tiny_runs import TINY_PACGAN


REPO = pathlib.Path(__file__).resolve().parents[1]


def _evaluate_cli(*args):
  env = {**os.environ, 'XLA_FLAGS': xla_flags()}
  return subprocess.run([sys.executable, '-m', 'experiments.evaluate', *args], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=300)


def _tiny_run(config, workdir):
  config.update(dict(num_steps=2, steps_per_call=1, checkpoint_every_steps=1, sample_every_steps=1, batch_size=16,
                     g_hidden_dims=(16,), d_hidden_dims=(8,), maxout_pieces=2, num_shown_samples=4))
  loop.run(config, workdir, print_fn=lambda _: None)


@pytest.mark.slow
def test_evaluate_cli_on_a_toy_ring_run(tmp_path):
  _tiny_run(toy_ring.get_config(), tmp_path)
  result = _evaluate_cli('--workdir', str(tmp_path), '--save_samples', str(tmp_path / 'samples.npy'))
  assert result.returncode == 0, result.stderr
  report = json.loads((tmp_path / 'eval.json').read_text())
  assert report['step'] == 2 and report['num_samples'] == 2500
  assert set(report) >= {'modes_covered', 'high_quality_frac', 'reverse_kl'}
  samples = np.load(tmp_path / 'samples.npy')
  assert samples.shape == (2500, 2)
  assert report == {**report, **measures.mode_metrics(samples, datasets.ring_modes(), datasets.RING_STD),
                    **measures.mode_placement(samples, datasets.ring_modes(), datasets.RING_STD)}
  assert 'modes_covered' in result.stdout
  offsets_line, = (line for line in result.stdout.splitlines() if line.startswith('mode_offsets'))
  shown = [item if item == '-' else float(item) for item in offsets_line.split('[')[1].rstrip(']').split(', ')]
  assert shown == ['-' if item is None else pytest.approx(item, rel=1e-3) for item in report['mode_offsets']]


@pytest.fixture(scope='module')
def mnist_run(tmp_path_factory) -> pathlib.Path:
  """The workdir of a tiny mnist_paper run on synthetic IDX files."""
  directory = tmp_path_factory.mktemp('mnist_paper')
  write_mnist_idx(directory / 'idx', num_train=240, num_test=24)
  config = mnist_paper.get_config()
  config.dataset = f'idx:{directory / "idx"}'
  _tiny_run(config, directory / 'run')
  return directory / 'run'


@pytest.mark.slow
def test_evaluate_cli_on_an_mnist_paper_run_gives_the_parzen_fields(mnist_run):
  result = _evaluate_cli('--workdir', str(mnist_run), '--num_samples=50')
  assert result.returncode == 0, result.stderr
  report = json.loads((mnist_run / 'eval.json').read_text())
  assert report['parzen_sigma'] in measures.SIGMAS and report['num_samples'] == 50
  assert np.isfinite(report['parzen_ll']) and report['parzen_se'] > 0
  reference = _evaluate_cli('--workdir', str(mnist_run), '--num_samples=50', '--real_centres')
  assert reference.returncode == 0, reference.stderr
  assert json.loads((mnist_run / 'eval_real_centres.json').read_text())['real_centres'] is True


@pytest.mark.slow
def test_evaluate_cli_without_a_run_is_bad_input(tmp_path):
  result = _evaluate_cli('--workdir', str(tmp_path))
  assert result.returncode == 2
  assert result.stderr == f'error: --workdir={tmp_path} holds no training run (no config.json)\n'


@pytest.mark.slow
def test_figures_command_writes_every_figure(tmp_path, mnist_run):
  env = {**os.environ, 'XLA_FLAGS': xla_flags()}
  result = subprocess.run([sys.executable, '-m', 'experiments.figures', '--out_dir', str(tmp_path / 'figures'),
                           '--run', str(mnist_run)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 0, result.stderr
  from PIL import Image
  sizes = {name: Image.open(tmp_path / 'figures' / name).size for name in
           ('figure1.png', 'figure3_interpolation.png', 'samples.png', 'training_curves.png')}
  assert sizes['figure3_interpolation.png'] == (11 * 30 + 2, 8 * 30 + 2)  # 8 rows of 11 interpolation points
  assert sizes['samples.png'] == (10 * 30 + 2, 10 * 30 + 2)
  assert sizes['figure1.png'][0] > sizes['figure1.png'][1]


def _write_learnable_idx(directory: pathlib.Path, num_train=600, num_test=100):
  """Images whose label is the row holding a bright stripe: an easy task, to see the classifier learn."""
  from idx_files import idx_bytes
  rng = np.random.default_rng(0)
  directory.mkdir(parents=True)
  for prefix, n in (('train', num_train), ('t10k', num_test)):
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
      images[i, 2 + 2 * label] = 255
    (directory / f'{prefix}-images-idx3-ubyte').write_bytes(idx_bytes(images))
    (directory / f'{prefix}-labels-idx1-ubyte').write_bytes(idx_bytes(labels))


@pytest.mark.slow
def test_classifier_learns_and_feeds_the_classifier_metrics(tmp_path):
  from gan_jax.evaluation import classifier
  _write_learnable_idx(tmp_path / 'idx')
  env = {**os.environ, 'XLA_FLAGS': xla_flags()}
  result = subprocess.run([sys.executable, '-m', 'experiments.train_classifier', '--config',
                           'gan_jax/configs/mnist_classifier.py', '--workdir', str(tmp_path / 'classifier'),
                           f'--config.dataset=idx:{tmp_path / "idx"}', '--config.hidden_dims=(32, 16)',
                           '--config.batch_size=50', '--config.num_epochs=10'],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  assert json.loads((tmp_path / 'classifier' / 'classifier.json').read_text())['test_accuracy'] > 0.9
  apply, params = classifier.restore(tmp_path / 'classifier', 784, (32, 16))
  logits, features = apply(params, np.zeros((3, 784), np.float32))
  assert logits.shape == (3, 10) and features.shape == (3, 16)

  mnist_config = mnist_paper.get_config()
  mnist_config.dataset = f'idx:{tmp_path / "idx"}'
  _tiny_run(mnist_config, tmp_path / 'run')
  evaluated = _evaluate_cli('--workdir', str(tmp_path / 'run'), '--num_samples=150',
                            '--classifier', str(tmp_path / 'classifier'))
  assert evaluated.returncode == 0, evaluated.stderr
  report = json.loads((tmp_path / 'run' / 'eval.json').read_text())
  assert report['num_real_images'] == 100  # the whole test set, smaller than the 150 samples
  assert 1.0 <= report['classifier_score'] <= 10.0
  assert report['frechet_distance'] > 0 and 0 <= report['precision'] <= 1 and 0 <= report['recall'] <= 1


@pytest.mark.slow
def test_the_sweep_writes_each_seeds_curve_and_the_table_and_reruns_read_them_or_score_the_average(tmp_path):
  command = [sys.executable, '-m', 'experiments.sweep', '--config', 'gan_jax/configs/toy_ring_pacgan.py',
             '--workdir', str(tmp_path), '--seeds', '2', '--config.num_steps=20', '--config.g_ema_decay=0.9',
             *(f'--config.{name}={value}' for name, value in TINY_PACGAN.items())]
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
