import pytest
"""Training on 1-D data: D approaches D* for a fixed G; a small GAN learns a Gaussian."""

import functools

import jax
import jax.numpy as jnp
import optax
from flax import nnx

import gan_jax
from gan_jax import theory


@pytest.mark.slow
def test_training_d_alone_approaches_the_optimal_discriminator():
  """Proposition 1: for fixed G, D → D* = p_data / (p_data + p_g).

  p_data = N(0, 1); G is a user-written affine map of z ~ N(0, 1), so p_g = N(1.5, 0.7²).
  The 0.05 bound is the fit's, not rounding's: over five initialisations and keys (0–4), D ended
  0.019–0.037 from D* at batch 1,024 (0.016–0.030 at 2,048, 0.029–0.038 at 512); its initial error is > 0.2.
  """
  d_apply, d_params = gan_jax.as_pure_function(gan_jax.MLPDiscriminator(1, (64, 64), rngs=nnx.Rngs(0)))
  generator = lambda params, z: params['mean'] + params['std'] * z
  g_params = {'mean': jnp.array(1.5), 'std': jnp.array(0.7)}
  steps = 3000
  gan = gan_jax.GAN(generator, d_apply, gan_jax.NoisePrior('gaussian', 1), optax.sgd(0.0),
                    gan_jax.optim.adam(optax.cosine_decay_schedule(3e-3, steps), b1=0.9))

  def one_update(state, key):
    x_real = jax.random.normal(jax.random.fold_in(key, 1), (1024, 1))
    return gan_jax.d_step(gan, state, x_real, key)

  @jax.jit
  def train_d(state):
    return jax.lax.scan(one_update, state, jax.random.split(jax.random.key(0), steps))

  state, _ = train_d(gan_jax.init_state(gan, g_params, d_params))
  assert state.g_params == g_params

  x = jnp.linspace(-4.0, 5.0, 901)
  p_data, p_g = theory.gaussian_density(x, 0.0, 1.0), theory.gaussian_density(x, 1.5, 0.7)
  d_star = theory.optimal_discriminator(p_data, p_g)
  d = jax.nn.sigmoid(d_apply(state.d_params, x[:, None], None))
  bulk = (p_data + p_g) / 2 > 0.01
  assert float(jnp.sum((p_data + p_g) / 2 * bulk) * (x[1] - x[0])) > 0.99  # the region holds > 99 % of the mass
  assert float(jnp.abs(d - d_star)[bulk].max()) <= 0.05
  assert float(jnp.abs(jax.nn.sigmoid(d_apply(d_params, x[:, None], None)) - d_star)[bulk].max()) > 0.2


def test_small_gan_learns_the_mean_and_std_of_a_1d_gaussian():
  """p_data = N(3, 0.5²); p_g starts near N(0, ·) and must end within 0.1 in mean and std.

  Non-saturating loss, Adam, D's learning rate 10× G's: with equal rates D
  lags behind G and p_g settles on the right mean with the wrong spread.
  """
  mean, std, steps = 3.0, 0.5, 3000
  rngs = nnx.Rngs(0)
  g_apply, g_params = gan_jax.as_pure_function(gan_jax.MLPGenerator(
      4, (32, 32), 1, output_activation='identity', init_range=None, rngs=rngs))
  d_apply, d_params = gan_jax.as_pure_function(gan_jax.MLPDiscriminator(1, (32, 32), rngs=rngs))
  gan = gan_jax.GAN(
      g_apply, d_apply, gan_jax.NoisePrior('gaussian', 4),
      g_optimizer=gan_jax.optim.adam(optax.cosine_decay_schedule(5e-4, steps, alpha=0.05)),
      d_optimizer=gan_jax.optim.adam(optax.cosine_decay_schedule(5e-3, steps, alpha=0.05)))
  state = gan_jax.init_state(gan, g_params, d_params)
  x0 = gan_jax.sample(gan, state.g_params, jax.random.key(3), 10_000)
  assert abs(float(x0.mean()) - mean) > 2.0

  batches = mean + std * jax.random.normal(jax.random.key(1), (steps, 1, 512, 1))
  state, metrics = jax.jit(functools.partial(gan_jax.train_steps, gan))(state, batches, jax.random.key(2))
  x = gan_jax.sample(gan, state.g_params, jax.random.key(3), 10_000)
  assert abs(float(x.mean()) - mean) <= 0.1
  assert abs(float(x.std()) - std) <= 0.1
  assert abs(float(metrics['d_real'][-100:].mean()) - 0.5) < 0.05  # near the equilibrium D ≈ ½
