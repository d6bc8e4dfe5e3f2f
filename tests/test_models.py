"""§5 networks: sizes, initialisation, output bias, maxout, dropout switched by a key."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import gan_jax
from gan_jax import models


def _shapes(params):
  return jax.tree.map(jnp.shape, params)


def test_paper_generator_architecture_and_init():
  apply, params = models.as_pure_function(models.MLPGenerator(100, (1200, 1200), 784, rngs=nnx.Rngs(0)))
  assert _shapes(params) == {
      'hidden': {0: {'kernel': (100, 1200), 'bias': (1200,)}, 1: {'kernel': (1200, 1200), 'bias': (1200,)}},
      'output': {'kernel': (1200, 784), 'bias': (784,)}}
  for layer in (params['hidden'][0], params['hidden'][1], params['output']):
    assert float(jnp.abs(layer['kernel']).max()) <= 0.05
    assert float(jnp.abs(layer['kernel']).max()) > 0.049  # really spans U(−0.05, 0.05)
    assert float(jnp.abs(layer['bias']).max()) == 0.0
  x = apply(params, jax.random.uniform(jax.random.key(0), (5, 100), minval=-1.7, maxval=1.7))
  assert x.shape == (5, 784)
  assert float(x.min()) > 0.0 and float(x.max()) < 1.0


def test_generator_hidden_units_are_relu():
  apply, params = models.as_pure_function(
      models.MLPGenerator(3, (8,), 2, output_activation='identity', rngs=nnx.Rngs(0)))
  z = jax.random.normal(jax.random.key(1), (4, 3))
  hidden = params['hidden'][0]
  expected = jnp.maximum(z @ hidden['kernel'] + hidden['bias'], 0) @ params['output']['kernel'] + params['output']['bias']
  np.testing.assert_allclose(apply(params, z), expected, rtol=1e-6)


def test_output_bias_from_marginals_reproduces_the_data_mean():
  data = (jax.random.uniform(jax.random.key(0), (1000, 784)) < jnp.linspace(0.0, 1.0, 784)).astype(jnp.float32)
  bias = models.sigmoid_bias_from_marginals(np.asarray(data).mean(axis=0))
  module = models.MLPGenerator(100, (16,), 784, init_range=0.0, output_bias=bias, rngs=nnx.Rngs(0))
  apply, params = models.as_pure_function(module)
  np.testing.assert_allclose(params['output']['bias'], bias)
  x = apply(params, jnp.ones((2, 100)))  # zero weights: the output is sigmoid(bias)
  mean = np.clip(np.asarray(data).mean(0), 1e-3, 1 - 1e-3)
  np.testing.assert_allclose(x[0], mean, rtol=1e-4, atol=1e-6)


def test_output_bias_of_the_wrong_shape_is_rejected():
  with pytest.raises(ValueError, match=r'output_bias has shape \(10,\), expected \(784,\)'):
    models.MLPGenerator(100, (16,), 784, output_bias=np.zeros(10), rngs=nnx.Rngs(0))


def test_paper_discriminator_architecture_and_init():
  apply, params = models.as_pure_function(models.MaxoutDiscriminator(784, rngs=nnx.Rngs(0)))
  assert _shapes(params) == {
      'hidden': {0: {'linear': {'kernel': (784, 1200), 'bias': (1200,)}},
                 1: {'linear': {'kernel': (240, 1200), 'bias': (1200,)}}},
      'output': {'kernel': (240, 1), 'bias': (1,)}}
  for kernel in (params['hidden'][0]['linear']['kernel'], params['hidden'][1]['linear']['kernel'],
                 params['output']['kernel']):
    assert 0.0049 < float(jnp.abs(kernel).max()) <= 0.005
  assert apply(params, jnp.zeros((3, 784)), None).shape == (3,)


def test_maxout_takes_the_max_over_pieces_of_each_unit():
  layer = models.Maxout(4, units=3, pieces=2, init_range=1.0, rngs=nnx.Rngs(0))
  x = jax.random.normal(jax.random.key(0), (5, 4))
  affine = x @ layer.linear.kernel[...] + layer.linear.bias[...]
  expected = np.max(np.asarray(affine).reshape(5, 3, 2), axis=-1)
  np.testing.assert_allclose(layer(x), expected, rtol=1e-6)


def test_discriminator_dropout_is_on_with_a_key_and_off_without():
  apply, params = models.as_pure_function(models.MaxoutDiscriminator(20, (8,), 3, init_range=0.5,
                                                                     rngs=nnx.Rngs(0)))
  x = jax.random.uniform(jax.random.key(0), (6, 20))
  deterministic = apply(params, x, None)
  np.testing.assert_array_equal(deterministic, apply(params, x, None))
  dropped_a, dropped_b = apply(params, x, jax.random.key(1)), apply(params, x, jax.random.key(2))
  assert float(jnp.abs(dropped_a - deterministic).max()) > 0
  assert float(jnp.abs(dropped_a - dropped_b).max()) > 0
  np.testing.assert_array_equal(dropped_a, apply(params, x, jax.random.key(1)))


def test_input_dropout_keeps_about_the_given_fraction_and_rescales():
  """One identity-like path: with keep 0.8 on the input, a kept pixel is scaled by 1.25."""
  module = models.MaxoutDiscriminator(1, (1,), 1, input_keep=0.8, hidden_keep=1.0, init_range=None,
                                      rngs=nnx.Rngs(0))
  apply, params = models.as_pure_function(module)
  params = jax.tree.map(jnp.zeros_like, params)
  params['hidden'][0]['linear']['kernel'] = jnp.ones((1, 1))
  params['output']['kernel'] = jnp.ones((1, 1))
  x = jnp.ones((20_000, 1))
  out = jax.vmap(lambda xi, k: apply(params, xi[None], k)[0])(x, jax.random.split(jax.random.key(0), 20_000))
  assert set(np.unique(np.round(np.asarray(out), 5))) == {0.0, 1.25}
  assert abs(float(jnp.mean(out > 0)) - 0.8) < 0.01


@pytest.mark.parametrize('name, keep', [('input_keep', 0.0), ('hidden_keep', 1.5)])
def test_invalid_keep_probabilities_are_rejected(name, keep):
  with pytest.raises(ValueError, match=f'{name}={keep}'):
    models.MaxoutDiscriminator(4, **{name: keep}, rngs=nnx.Rngs(0))


def test_toy_mlps_take_their_sizes_from_arguments():
  rngs = nnx.Rngs(0)
  g_apply, g_params = models.as_pure_function(
      gan_jax.MLPGenerator(2, (7, 5), 3, output_activation='identity', init_range=None, rngs=rngs))
  d_apply, d_params = models.as_pure_function(gan_jax.MLPDiscriminator(3, (6,), rngs=rngs))
  x = g_apply(g_params, jnp.zeros((4, 2)))
  assert x.shape == (4, 3)
  assert d_apply(d_params, x, None).shape == (4,)
  assert g_params['hidden'][1]['kernel'].shape == (7, 5)
  assert d_params['hidden'][0]['kernel'].shape == (3, 6)


def test_a_leaky_relu_discriminator_passes_gradient_where_every_relu_unit_is_off():
  leaky = models.MLPDiscriminator(2, (3,), hidden_activations=('leaky_relu',), rngs=nnx.Rngs(0))
  apply, params = models.as_pure_function(leaky)
  params['hidden'][0]['kernel'] = jnp.ones((2, 3))
  params['output']['kernel'] = jnp.ones((3, 1))
  x = -jnp.ones((1, 2))  # every pre-activation is −2: a ReLU layer would be off
  grad = jax.grad(lambda x: apply(params, x, None).sum())(x)
  np.testing.assert_allclose(grad, np.full((1, 2), 3 * models.LEAKY_RELU_SLOPE), rtol=1e-6)
  relu_apply, _ = models.as_pure_function(models.MLPDiscriminator(2, (3,), rngs=nnx.Rngs(0)))
  np.testing.assert_array_equal(jax.grad(lambda x: relu_apply(params, x, None).sum())(x), np.zeros((1, 2)))


def test_pure_function_is_jittable_and_differentiable():
  apply, params = models.as_pure_function(models.MaxoutDiscriminator(10, (4,), 2, rngs=nnx.Rngs(0)))
  x = jnp.ones((3, 10))
  grads = jax.jit(jax.grad(lambda p: apply(p, x, jax.random.key(0)).sum()))(params)
  assert jax.tree.structure(grads) == jax.tree.structure(params)


# ---------------------------------------------------------------- batch norm (PacGAN's generator)

def test_batch_norm_uses_batch_statistics_when_training_and_moves_the_running_averages_by_0_05():
  norm = models.BatchNorm(3)
  h = jax.random.normal(jax.random.key(0), (64, 3)) * jnp.array([1.0, 2.0, 5.0]) + jnp.array([0.0, 1.0, -3.0])
  out = norm(h, training=True)
  np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
  # (h − μ)/√(σ² + ε): the variance falls short of 1 by ε/(σ² + ε), at most 1e-4 here.
  np.testing.assert_allclose(out.var(axis=0), h.var(axis=0) / (h.var(axis=0) + 1e-4), rtol=1e-5)
  np.testing.assert_allclose(norm.running_mean[...], 0.05 * h.mean(axis=0), rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(norm.running_std[...], 0.95 + 0.05 * np.sqrt(h.var(axis=0) + 1e-4), rtol=1e-5)
  # Sampling uses the running averages: ((h − μ̄)/s̄), and moves nothing.
  before = jax.tree.map(jnp.copy, nnx.state(norm, nnx.BatchStat))
  sampled = norm(h, training=False)
  np.testing.assert_allclose(sampled, (h - norm.running_mean[...]) / norm.running_std[...], rtol=1e-6)
  assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(before),
                                                   jax.tree.leaves(nnx.state(norm, nnx.BatchStat))))


def test_pacgan_generator_layers_init_and_state():
  generator = models.BatchNormMLPGenerator(2, (400,) * 4, 2, rngs=nnx.Rngs(0))
  pure = models.as_pure_generator(generator)
  assert [layer.use_bias for layer in generator.hidden] == [False] * 4
  kernels = np.concatenate([np.ravel(layer.kernel[...]) for layer in generator.hidden])
  assert abs(kernels.std() - 0.02) < 0.001 and abs(kernels.mean()) < 0.001
  np.testing.assert_array_equal(generator.output.bias[...], 0.0)
  assert set(pure.state['norms'][0]) == {'running_mean', 'running_std'}
  assert 'running_mean' not in str(jax.tree_util.tree_structure(pure.params))
  z = jax.random.normal(jax.random.key(1), (100, 2))
  x, new_state = pure.train(pure.params, pure.state, z, None)
  assert x.shape == (100, 2)
  assert not np.array_equal(new_state['norms'][0]['running_mean'], pure.state['norms'][0]['running_mean'])
  # Sampling with the initial running averages (μ̄ = 0, s̄ = 1) skips normalising: another function of z.
  assert not np.allclose(pure.sample({'params': pure.params, 'state': pure.state}, z), x)


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
