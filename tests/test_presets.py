"""The presets: their fields, and each trained end to end for a few steps (the paper's CIFAR-10 models too)."""

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

import gan_jax
from conftest import trees_equal
from gan_jax.configs import (base, cifar10_conv, cifar10_fc, gauss1d, mnist_conditional, mnist_fast, mnist_paper,
    mnist_quality, mnist_vae, toy_grid, toy_grid_pacgan, toy_ring, toy_ring_pacgan)
from gan_jax.data import datasets
from gan_jax.evaluation import measures
from gan_jax.reports import stored_runs
from gan_jax.training import construction, loop, plan
from tiny_runs import tiny_cifar, tiny_config, tiny_pacgan, train_cli


def test_every_preset_validates_and_has_exactly_the_documented_fields(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)  # mnist_quality's monitor reads runs/classifier, where its docstring trains one
  (tmp_path / 'runs' / 'classifier').mkdir(parents=True)
  (tmp_path / 'runs' / 'classifier' / 'classifier.json').write_text('{}')
  for preset in (gauss1d, toy_ring, toy_grid, mnist_paper, mnist_fast, mnist_quality, mnist_conditional, mnist_vae,
                 cifar10_fc, cifar10_conv):
    config = preset.get_config()
    plan.validate(config)
    assert sorted(config.keys()) == sorted(plan.FIELDS) == sorted(base.get_config().keys())


def test_mnist_fast_is_mnist_paper_with_another_optimisation_and_the_mean_of_g():
  """Table 1's fast recipe keeps the paper's model, data, losses and evaluation: only these fields differ."""
  paper, fast = mnist_paper.get_config(), mnist_fast.get_config()
  plan.validate(fast)
  changed = {name for name in paper if paper[name] != fast[name]}
  assert changed == {'lr_schedule', 'learning_rate', 'momentum', 'g_ema_decay', 'g_ema_warmup', 'num_steps',
                     'checkpoint_every_steps'}
  # The running mean of all iterates (c = 2) must not be capped by β within the run.
  assert (fast.num_steps + 1) / (fast.num_steps + fast.g_ema_warmup) <= fast.g_ema_decay


def test_mnist_quality_is_mnist_paper_from_a_larger_first_step_scored_through_a_50_epoch_average_on_three_bars():
  """The quality recipe keeps the paper's training but for its first step ε₀ (0.15, not 0.1; the same decay and
  momentum ramp): it adds a constant-β average of G and the monitor."""
  paper, quality = mnist_paper.get_config(), mnist_quality.get_config()
  changed = {name for name in paper if paper[name] != quality[name]}
  assert changed == {'learning_rate', 'num_steps', 'g_ema_decay', 'steps_per_call', 'checkpoint_every_steps',
                     'sample_every_steps', 'eval_every_steps', 'eval_classifier_dir', 'eval_best_by',
                     'eval_best_min_ll', 'eval_best_max_frechet', 'eval_best_min_recall'}
  assert (quality.learning_rate, quality.lr_schedule, quality.d_learning_rate_scale) == (0.15, 'paper', 1.0)
  steps_per_epoch = 50_000 // quality.batch_size
  assert quality.num_steps == 250 * steps_per_epoch
  assert quality.g_ema_warmup == 0 and round(1 / (1 - quality.g_ema_decay)) == 50 * steps_per_epoch
  # The best checkpoint: the sharpest (lowest validation Fréchet distance) of those within all three bars.
  assert quality.eval_best_by == 'validation_frechet_distance'
  assert (quality.eval_best_min_ll, quality.eval_best_max_frechet, quality.eval_best_min_recall) == (225, 2.5, 0.8)
  # Every monitored step is checkpointed (so "best" can keep it), and calls end on epoch boundaries.
  assert quality.eval_every_steps % quality.checkpoint_every_steps == 0
  assert steps_per_epoch % quality.steps_per_call == 0


def test_mnist_quality_without_its_classifier_says_how_to_train_one(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  with pytest.raises(plan.ConfigError, match=r"^config.eval_classifier_dir='runs/classifier' holds no "
                                             r'classifier.json: .* experiments.train_classifier --workdir '
                                             r'runs/classifier \(train one there first\)$'):
    plan.validate(mnist_quality.get_config())


def test_mnist_vae_is_mnist_papers_generator_data_and_minibatch_as_a_vae():
  """The VAE of the GAN-vs-VAE table keeps the paper's G (its decoder), data and m: only these fields differ."""
  paper, vae_config = mnist_paper.get_config(), mnist_vae.get_config()
  changed = {name for name in paper if paper[name] != vae_config[name]}
  assert changed == {'objective', 'prior', 'optimizer', 'adam_b1', 'learning_rate', 'lr_schedule', 'update_rule',
                     'g_init_range', 'num_steps', 'checkpoint_every_steps'}
  assert (vae_config.latent_dim, vae_config.g_hidden_dims) == (100, (1200, 1200))


def test_the_grid_preset_is_the_ring_preset_on_the_grid():
  ring, grid = toy_ring_pacgan.get_config(), toy_grid_pacgan.get_config()
  assert (ring.dataset, grid.dataset) == ('toy_ring', 'toy_grid')
  ring.dataset = 'toy_grid'
  assert ring.to_dict() == grid.to_dict()


@pytest.mark.slow
@pytest.mark.parametrize('preset', [gauss1d, toy_ring, toy_grid])
def test_toy_presets_run_end_to_end(tmp_path, preset):
  lines = []
  config = tiny_config(preset.get_config())
  summary = loop.run(config, tmp_path, print_fn=lines.append)
  assert summary['step'] == 6 and np.isfinite(summary['d_loss'])
  pictures = {kind: sorted(p.name for p in (tmp_path / kind).glob('*.png')) for kind in ('samples', 'samples_ema')}
  assert pictures == {'samples': ['step_0000003.png', 'step_0000006.png'],
                      'samples_ema': ['step_0000003.png', 'step_0000006.png'] if config.g_ema_decay else []}
  assert sorted(p.name for p in (tmp_path / 'checkpoints').iterdir()) == ['3', '6']
  assert len((tmp_path / 'metrics.jsonl').read_text().splitlines()) == 2
  assert any(p.name.startswith('events.out.tfevents') for p in (tmp_path / 'tensorboard').iterdir())
  assert 'epoch' in lines[-1] and 'it/s' in lines[-1] and 'ETA' in lines[-1] and 'D(G(z))' in lines[-1]


@pytest.mark.slow
def test_mnist_paper_preset_on_idx_files(tmp_path, idx_dir):
  config = tiny_config(mnist_paper.get_config(), dataset=f'idx:{idx_dir}')
  summary = loop.run(config, tmp_path, print_fn=lambda _: None)
  assert summary['step'] == 6
  assert summary['epoch'] == pytest.approx(6 / (200 // 16))  # epochs of whole minibatches
  record = json.loads((tmp_path / 'metrics.jsonl').read_text().splitlines()[-1])
  assert set(record) >= {'step', 'epoch', 'd_loss', 'g_loss', 'd_real', 'd_fake', 'it_per_s'}
  from PIL import Image
  grid = Image.open(tmp_path / 'samples' / 'step_0000006.png')
  assert grid.size == (4 * 30 + 2, 4 * 30 + 2)  # 16 samples, 4 × 4 tiles of 28 + 2 padding


@pytest.mark.slow
def test_mnist_paper_preset_on_tfds_mock_data(tmp_path):
  import tensorflow_datasets as tfds
  config = tiny_config(mnist_paper.get_config(), steps_per_call=1, checkpoint_every_steps=1, sample_every_steps=1,
                 num_steps=2)
  with tfds.testing.mock_data(num_examples=48):
    summary = loop.run(config, tmp_path, print_fn=lambda _: None)
  assert summary['step'] == 2


@pytest.mark.slow
def test_gauss1d_preset_reaches_its_documented_result_through_the_cli(tmp_path):
  result = train_cli('--config', 'gan_jax/configs/gauss1d.py', '--workdir', str(tmp_path))
  assert result.returncode == 0, result.stderr
  summary = json.loads((tmp_path / 'summary.json').read_text())
  assert summary['step'] == 3000
  assert abs(summary['sample_mean'] - 3.0) <= 0.1
  assert abs(summary['sample_std'] - 0.5) <= 0.1
  assert abs(summary['d_real'] - 0.5) < 0.05
  assert (tmp_path / 'samples' / 'step_0003000.png').exists()
  assert 'step    3000/3000' in result.stdout
  assert result.stderr == ''


@pytest.mark.slow
def test_the_pacgan_preset_trains_and_resumes_bit_identically_with_the_generator_state(tmp_path):
  """``toy_ring_pacgan`` end to end on 8 devices.

  ``toy_grid_pacgan`` differs only in its data, which test_toy_presets_run_end_to_end's toy_grid run trains on.
  """
  quiet = lambda _: None
  preset = toy_ring_pacgan
  loop.run(tiny_pacgan(preset, 20), tmp_path / 'straight', print_fn=quiet)
  loop.run(tiny_pacgan(preset, 10), tmp_path / 'stopped', print_fn=quiet)
  loop.run(tiny_pacgan(preset, 20), tmp_path / 'stopped', print_fn=quiet)
  straight, resumed = (stored_runs.restore_run(tmp_path / name)[3] for name in ('straight', 'stopped'))
  assert int(resumed.step) == 20
  assert resumed.g_state is not None and trees_equal(straight, resumed)
  assert np.any(np.asarray(straight.g_state['norms'][0]['running_mean']) != 0)
  metrics, samples = stored_runs.evaluate_run(tmp_path / 'straight')
  assert samples.shape == (2500, 2) and set(measures.MODE_METRICS) <= set(metrics)


@pytest.mark.slow
@pytest.mark.parametrize('preset', [cifar10_fc, cifar10_conv])
def test_cifar_presets_train_on_synthetic_images(preset):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (64, 3072), dtype=np.uint8)
  synthetic = datasets.Dataset('synthetic', images, images[:8], images[:8], (32, 32, 3))
  config = tiny_cifar(preset.get_config())
  plan.validate(config)
  gan, state = construction.build_on_one_device(plan.game_spec(config), synthetic, config.seed)
  batches = datasets.to_float(jnp.asarray(images[:32])).reshape(2, 1, 16, 3072)
  state, metrics = jax.jit(functools.partial(gan_jax.train_steps, gan))(state, batches, jax.random.key(0))
  assert int(state.step) == 2 and all(bool(jnp.isfinite(v).all()) for v in metrics.values())
  assert gan_jax.sample(gan, state.g_params, jax.random.key(1), 3).shape == (3, 3072)


@pytest.mark.slow
@pytest.mark.parametrize('preset', [cifar10_fc, cifar10_conv])
def test_cifar_presets_run_end_to_end_on_tfds_mock_data(tmp_path, preset):
  with tfds.testing.mock_data(num_examples=40):
    summary = loop.run(tiny_cifar(preset.get_config()), tmp_path, print_fn=lambda _: None)
  assert summary['step'] == 2
  assert (tmp_path / 'samples' / 'step_0000002.png').exists()
