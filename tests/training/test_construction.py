"""Building the game from a config: one registry entry per network, optimiser and schedule."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from gan_jax import models, train
from gan_jax.configs import cifar10_conv, gauss1d, mnist_paper, toy_ring_pacgan
from gan_jax.data import datasets
from gan_jax.training import construction, plan
from tiny_runs import tiny_cifar, tiny_image_config


def _dataset():
  return datasets.load('gauss1d', jax.random.key(0))


def test_rmsprop_is_one_registry_entry_and_its_config_field():
  config = gauss1d.get_config()
  config.update(optimizer='rmsprop', learning_rate=1e-3, rmsprop_decay=0.95)
  plan.validate(config)
  gan, state = construction.build_on_one_device(plan.game_spec(config), _dataset(), config.seed)
  assert float(state.g_opt_state.hyperparams['decay']) == pytest.approx(0.95)
  grads = jax.tree.map(lambda p: jnp.full_like(p, 0.3), state.g_params)
  ours, _ = gan.g_optimizer.update(grads, state.g_opt_state, state.g_params)
  reference = optax.rmsprop(1e-3, decay=0.95)
  expected, _ = reference.update(grads, reference.init(state.g_params), state.g_params)
  # inject_hyperparams holds ε and the decay as float32 arrays, optax.rmsprop as Python floats that
  # XLA folds in another order: a few float32 roundings apart (2^-21 relative), no more.
  for got, want in zip(jax.tree.leaves(ours), jax.tree.leaves(expected)):
    np.testing.assert_allclose(got, want, rtol=2.0 ** -21)


def test_the_papers_schedule_decays_each_players_learning_rate_by_the_configured_factor_per_update():
  config = gauss1d.get_config()
  config.update(optimizer='sgd_momentum', lr_schedule='paper', learning_rate=0.1, d_learning_rate_scale=2.0,
                lr_decay_factor=1.5)
  plan.validate(config)
  gan, state = construction.build_on_one_device(plan.game_spec(config), _dataset(), config.seed)
  for optimizer, params, opt_state, initial in ((gan.g_optimizer, state.g_params, state.g_opt_state, 0.1),
                                                (gan.d_optimizer, state.d_params, state.d_opt_state, 0.2)):
    grads = jax.tree.map(jnp.ones_like, params)
    for _ in range(3):
      _, opt_state = optimizer.update(grads, opt_state, params)
    # inject_hyperparams records the rate of the last update made, the third: ε₀ / γ² (float32 exp: a few ulps).
    np.testing.assert_allclose(opt_state.hyperparams['learning_rate'], initial / 1.5 ** 2, rtol=1e-6)


def test_every_registered_network_builds_and_runs_on_the_data_it_accepts():
  config = gauss1d.get_config()
  dataset = _dataset()
  for field, registry in (('model', construction.DISCRIMINATORS), ('g_output', construction.GENERATORS)):
    for name, network in registry.items():
      config[field] = name
      if network.needs_images:
        with pytest.raises(plan.ConfigError, match=f"config.{field}='{name}' needs an image dataset"):
          construction.build_on_one_device(plan.game_spec(config), dataset, config.seed)
      else:
        gan, state = construction.build_on_one_device(plan.game_spec(config), dataset, config.seed)
        assert train.sample(gan, state.g_params, jax.random.key(0), 3).shape == (3, 1)
    config[field] = gauss1d.get_config()[field]


def test_a_packed_discriminator_takes_pack_examples_joined_along_their_last_axis():
  config = toy_ring_pacgan.get_config()
  config.update(pack=2, batch_size=200, g_hidden_dims=(8,), d_hidden_dims=(8,))
  plan.validate(config)
  points = np.zeros((400, 2), np.float32)
  dataset = datasets.Dataset('toy_ring', points, points[:0], points[:0], (2,))
  gan, state = construction.build_on_one_device(plan.game_spec(config), dataset, config.seed)
  assert (gan.pack, gan.example_shape) == (2, (2,))
  assert state.d_params['hidden'][0]['linear']['kernel'].shape == (4, 8 * config.maxout_pieces)  # two points
  # Images are fed flat; a packed image has twice the channels: [32, 32, 6] for the conv D's first layer.
  images = np.zeros((8, 3072), np.uint8)
  config = cifar10_conv.get_config()
  config.update(pack=2, d_conv_channels=(4, 4, 8), d_hidden_dims=(8,))
  discriminator = construction.DISCRIMINATORS['conv_maxout'].build(
      config, datasets.Dataset('synthetic', images, images, images, (32, 32, 3)), nnx.Rngs(0))
  apply, params = models.as_pure_function(discriminator)
  assert params['convs'][0]['kernel'].shape[2] == 6
  packed = train.pack_examples(jnp.zeros((2, 3072)), 2, (32, 32, 3))
  assert apply(params, packed, None).shape == (1,)


@pytest.mark.parametrize('precision, lowered_as', [('default', 'DEFAULT'), ('float32', 'HIGHEST'),
                                                   ('tensorfloat32', 'HIGH')])
def test_matmul_precision_reaches_every_product_of_a_training_step_and_of_sampling(precision, lowered_as):
  """The CPU computes in float32 whatever a program asks, so the programs' requested precision is what is checked:
  every product of G (batch norm: its training form too), D and their gradients, and of G sampling."""
  config = toy_ring_pacgan.get_config()
  config.update(batch_size=8, g_hidden_dims=(8, 8), d_hidden_dims=(8,), matmul_precision=precision)
  plan.validate(config)
  points = np.zeros((16, 2), np.float32)
  dataset = datasets.Dataset('toy_ring', points, points[:0], points[:0], (2,))
  gan, state = construction.build_on_one_device(plan.game_spec(config), dataset, config.seed)
  step = jax.jit(lambda s, x, k: train.train_step(gan, s, x, k)).lower(state, jnp.zeros((1, 8, 2)), jax.random.key(0))
  sample = jax.jit(lambda s, k: train.sample(gan, train.generator_variables(gan, s.g_params, s.g_state), k, 4)).lower(
      state, jax.random.key(0))
  for program in (step, sample):
    products = [line for line in program.as_text().splitlines() if 'dot_general' in line]
    assert products and all(f'precision = [{lowered_as}, {lowered_as}]' in line for line in products), products


def test_image_only_architectures_reject_toy_data():
  config = tiny_cifar(cifar10_conv.get_config())
  config.dataset = 'toy_ring'
  with pytest.raises(plan.ConfigError, match="config.g_output='deconv' needs an image dataset"):
    construction.build_on_one_device(plan.game_spec(config), datasets.load('toy_ring', jax.random.key(0)), config.seed)


def test_fully_connected_presets_take_the_size_of_the_data(tmp_path):
  images = np.random.default_rng(4).integers(0, 256, (40, 6, 5, 3), dtype=np.uint8)
  np.save(tmp_path / 'x.npy', images)
  config = tiny_image_config(mnist_paper.get_config(), dataset=f'npy:{tmp_path / "x.npy"}')
  dataset = datasets.load(config.dataset, jax.random.key(0))
  gan, state = construction.build_on_one_device(plan.game_spec(config), dataset, config.seed)
  assert state.d_params is not None
  samples = gan.generator(state.g_params, gan.prior.sample(jax.random.key(1), 3))
  assert samples.shape == (3, 90)
