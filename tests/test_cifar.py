"""The paper's CIFAR-10 models: shapes, and a few training steps on synthetic and TFDS mock data."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds
from flax import nnx

import gan_jax
from gan_jax import models
from gan_jax.data import datasets
from gan_jax.training import construction, loop, plan
from gan_jax.configs import cifar10_conv, cifar10_fc


def test_deconv_generator_makes_32x32x3_images_from_a_10x10x80_map():
  apply, params = models.as_pure_function(models.DeconvGenerator(
      100, (64, 8000), hidden_activations=('relu', 'sigmoid'), rngs=nnx.Rngs(0)))
  assert params['deconv']['kernel'].shape == (5, 5, 80, 3)
  x = apply(params, jnp.ones((2, 100)))
  assert x.shape == (2, 3072) and float(x.min()) > 0 and float(x.max()) < 1


def test_deconv_generator_checks_its_geometry():
  with pytest.raises(ValueError, match='must equal the feature map size 8000'):
    models.DeconvGenerator(100, (64, 100), rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match=r'gives \(32, 32, 1\), not image_shape=\(28, 28, 1\)'):
    models.DeconvGenerator(100, (8000,), (28, 28, 1), rngs=nnx.Rngs(0))


@pytest.mark.slow
def test_conv_maxout_discriminator_of_the_paper():
  apply, params = models.as_pure_function(models.ConvMaxoutDiscriminator((32, 32, 3), rngs=nnx.Rngs(0)))
  assert [params['convs'][i]['kernel'].shape for i in range(3)] == [(8, 8, 3, 64), (8, 8, 32, 64),
                                                                     (5, 5, 32, 384)]
  assert params['dense'][0]['linear']['kernel'].shape == (4 * 4 * 192, 2500)  # 32 → 15 → 6 → 4 after pooling
  x = jax.random.uniform(jax.random.key(0), (3, 3072))
  assert apply(params, x, None).shape == (3,)
  assert float(jnp.abs(apply(params, x, jax.random.key(1)) - apply(params, x, None)).max()) > 0


def _tiny(config):
  config.update(dict(g_hidden_dims=(16, 8000) if config.g_output == 'deconv' else (16, 32),
                     d_hidden_dims=(8,) if config.model == 'conv_maxout' else (8, 8), maxout_pieces=2,
                     d_conv_channels=(4, 4, 8), batch_size=16, num_steps=2, steps_per_call=1,
                     checkpoint_every_steps=1, sample_every_steps=1, num_shown_samples=4, log_every_seconds=0.01))
  return config


@pytest.mark.slow
@pytest.mark.parametrize('preset', [cifar10_fc, cifar10_conv])
def test_cifar_presets_train_on_synthetic_images(preset):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (64, 3072), dtype=np.uint8)
  synthetic = datasets.Dataset('synthetic', images, images[:8], images[:8], (32, 32, 3))
  config = _tiny(preset.get_config())
  plan.validate(config)
  gan, state = construction.build(plan.game_spec(config), synthetic, config.seed)
  batches = datasets.to_float(jnp.asarray(images[:32])).reshape(2, 1, 16, 3072)
  state, metrics = jax.jit(functools.partial(gan_jax.train_steps, gan))(state, batches, jax.random.key(0))
  assert int(state.step) == 2 and all(bool(jnp.isfinite(v).all()) for v in metrics.values())
  assert gan_jax.sample(gan, state.g_params, jax.random.key(1), 3).shape == (3, 3072)


@pytest.mark.slow
@pytest.mark.parametrize('preset', [cifar10_fc, cifar10_conv])
def test_cifar_presets_run_end_to_end_on_tfds_mock_data(tmp_path, preset):
  with tfds.testing.mock_data(num_examples=40):
    summary = loop.run(_tiny(preset.get_config()), tmp_path, print_fn=lambda _: None)
  assert summary['step'] == 2
  assert (tmp_path / 'samples' / 'step_0000002.png').exists()


def test_image_only_architectures_reject_toy_data():
  config = _tiny(cifar10_conv.get_config())
  config.dataset = 'toy_ring'
  with pytest.raises(plan.ConfigError, match="config.g_output='deconv' needs an image dataset"):
    construction.build(plan.game_spec(config), datasets.load('toy_ring', jax.random.key(0)), config.seed)
