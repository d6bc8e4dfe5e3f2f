"""Building the game from a config: one registry entry per network, optimiser and schedule."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from gan_jax import losses, models, priors, train
from gan_jax.data import datasets
from gan_jax.training import construction, plan
from gan_jax.configs import base, cifar10_conv, gauss1d, toy_ring_pacgan


def _dataset():
  return datasets.load('gauss1d', jax.random.key(0))


def test_rmsprop_is_one_registry_entry_and_its_config_field():
  config = gauss1d.get_config()
  config.update(optimizer='rmsprop', learning_rate=1e-3, rmsprop_decay=0.95)
  plan.validate(config)
  gan, state = construction.build(plan.game_spec(config), _dataset(), config.seed)
  assert float(state.g_opt_state.hyperparams['decay']) == pytest.approx(0.95)
  grads = jax.tree.map(lambda p: jnp.full_like(p, 0.3), state.g_params)
  ours, _ = gan.g_optimizer.update(grads, state.g_opt_state, state.g_params)
  reference = optax.rmsprop(1e-3, decay=0.95)
  expected, _ = reference.update(grads, reference.init(state.g_params), state.g_params)
  # inject_hyperparams holds ε and the decay as float32 arrays, optax.rmsprop as Python floats that
  # XLA folds in another order: a few float32 roundings apart (2^-21 relative), no more.
  for got, want in zip(jax.tree.leaves(ours), jax.tree.leaves(expected)):
    np.testing.assert_allclose(got, want, rtol=2.0 ** -21)


@pytest.mark.parametrize('field, registry', [
    ('optimizer', construction.OPTIMIZERS), ('lr_schedule', construction.LR_SCHEDULES),
    ('model', construction.DISCRIMINATORS), ('g_output', construction.GENERATORS),
    ('g_loss', losses.GENERATOR_LOSSES), ('prior', dict.fromkeys(priors.PRIOR_NAMES)),
])
def test_the_allowed_values_are_the_registry_keys(field, registry):
  config = gauss1d.get_config()
  config[field] = 'nope'
  with pytest.raises(plan.ConfigError) as error:
    plan.validate(config)
  assert str(error.value) == f"config.{field}='nope' is not allowed; allowed: {sorted(registry) if field == 'g_loss' else list(registry)}"


def test_every_registered_network_builds_and_runs_on_the_data_it_accepts():
  config = gauss1d.get_config()
  dataset = _dataset()
  for field, registry in (('model', construction.DISCRIMINATORS), ('g_output', construction.GENERATORS)):
    for name, network in registry.items():
      config[field] = name
      if network.needs_images:
        with pytest.raises(plan.ConfigError, match=f"config.{field}='{name}' needs an image dataset"):
          construction.build(plan.game_spec(config), dataset, config.seed)
      else:
        gan, state = construction.build(plan.game_spec(config), dataset, config.seed)
        assert train.sample(gan, state.g_params, jax.random.key(0), 3).shape == (3, 1)
    config[field] = gauss1d.get_config()[field]


def test_a_packed_discriminator_takes_pack_examples_joined_along_their_last_axis():
  config = toy_ring_pacgan.get_config()
  config.update(pack=2, batch_size=200, g_hidden_dims=(8,), d_hidden_dims=(8,))
  plan.validate(config)
  points = np.zeros((400, 2), np.float32)
  dataset = datasets.Dataset('toy_ring', points, points[:0], points[:0], (2,))
  gan, state = construction.build(plan.game_spec(config), dataset, config.seed)
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


def test_game_rules_are_the_same_for_the_config_and_the_python_api():
  config = gauss1d.get_config()
  config.update(update_rule='simultaneous', d_steps=2)
  with pytest.raises(plan.ConfigError) as from_config:
    plan.validate(config)
  with pytest.raises(ValueError) as from_api:
    train.check_game(2, 'simultaneous', 0.0)
  assert str(from_config.value) == f'config.{from_api.value}'


def test_a_warmup_below_2_is_refused_by_the_config_check_with_the_field_named():
  config = gauss1d.get_config()
  config.update(g_ema_decay=0.999, g_ema_warmup=1.0)  # what --config.g_ema_warmup=True now parses to
  with pytest.raises(plan.ConfigError, match=r'config\.g_ema_warmup=1\.0 must be 0 \(off\) or a number c >= 2'):
    plan.validate(config)


@pytest.mark.parametrize('saved, c', [(True, 10.0), (False, 0.0), (4.0, 4.0)])
def test_a_saved_run_with_the_warmup_as_on_or_off_reads_as_c_10_or_0(saved, c):
  assert base.from_saved({'g_ema_warmup': saved, 'g_ema_decay': 0.99998}).g_ema_warmup == c


@pytest.mark.parametrize('overrides, message', [
    (dict(g_batch_norm=True, g_output='deconv'), "config.g_batch_norm=True needs g_output='dense'"),
    (dict(g_batch_norm=True, g_output_bias_from_data=True), 'config.g_output_bias_from_data=True is not allowed'),
    (dict(init_distribution='gaussian'), 'config.init_distribution'),
    (dict(adam_b1=1.0), r'config.adam_b1=1.0 must be in \[0, 1\)'),
    (dict(pack=0), r'config.pack=0 must be a positive integer'),
    (dict(pack=-2), r'config.pack=-2 must be a positive integer'),
    (dict(pack=3, batch_size=64), r"config.pack=3 must divide each device's share of the minibatch, "
                                  r'config.batch_size=64 / 1 device\(s\) = 64'),
    (dict(d_hidden_activation='tanh'), r"config.d_hidden_activation='tanh' is not allowed; "
                                       r"allowed: \['leaky_relu', 'relu', 'sigmoid'\]"),
    (dict(g_hidden_activations=('leaky_relu',)), r"config.g_hidden_activations=\('leaky_relu',\) must be \(\) "
                                                 r"\(all ReLU\) or name one of \['leaky_relu', 'relu', 'sigmoid'\] "
                                                 r'for each of the 2 g_hidden_dims'),
    (dict(g_hidden_activations=('tanh', 'relu')), r"config.g_hidden_activations=\('tanh', 'relu'\) must be \(\) "
                                                   r"\(all ReLU\) or name one of"),
    (dict(model='maxout', d_hidden_activation='leaky_relu'),
     r"config.d_hidden_activation='leaky_relu' needs model='mlp' \(model='maxout' has maxout units\)")])
def test_the_batch_norm_init_packing_and_activation_fields_are_checked_with_the_field_named(overrides, message):
  config = gauss1d.get_config()
  config.update(**overrides)
  with pytest.raises(plan.ConfigError, match=message):
    plan.validate(config)


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
  gan, state = construction.build(plan.game_spec(config), dataset, config.seed)
  step = jax.jit(lambda s, x, k: train.train_step(gan, s, x, k)).lower(state, jnp.zeros((1, 8, 2)), jax.random.key(0))
  sample = jax.jit(lambda s, k: train.sample(gan, train.generator_variables(gan, s.g_params, s.g_state), k, 4)).lower(
      state, jax.random.key(0))
  for program in (step, sample):
    products = [line for line in program.as_text().splitlines() if 'dot_general' in line]
    assert products and all(f'precision = [{lowered_as}, {lowered_as}]' in line for line in products), products
