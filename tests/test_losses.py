"""§3: the value function and both generator losses, by hand and at extreme logits."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import gan_jax
from gan_jax import losses


def _log_sigmoid_by_hand(logit):
  return math.log(1.0 / (1.0 + math.exp(-logit)))


REAL = [0.0, 2.0, -1.5]
FAKE = [-1.0, 3.0, 0.5]


def test_value_function_matches_hand_computation():
  expected = (np.mean([_log_sigmoid_by_hand(l) for l in REAL]) +
              np.mean([_log_sigmoid_by_hand(-l) for l in FAKE]))
  got = losses.value_function(jnp.array(REAL), jnp.array(FAKE))
  np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_discriminator_loss_is_minus_half_value():
  v = losses.value_function(jnp.array(REAL), jnp.array(FAKE))
  np.testing.assert_allclose(losses.discriminator_loss(jnp.array(REAL), jnp.array(FAKE)), -0.5 * v, rtol=1e-6)


def test_at_equilibrium_value_is_minus_log4_and_d_loss_is_log2():
  zeros = jnp.zeros(5)  # D = sigmoid(0) = 1/2 everywhere
  np.testing.assert_allclose(losses.value_function(zeros, zeros), -math.log(4), rtol=1e-6)
  np.testing.assert_allclose(losses.discriminator_loss(zeros, zeros), math.log(2), rtol=1e-6)


def test_generator_losses_match_hand_computation():
  np.testing.assert_allclose(losses.minimax_generator_loss(jnp.array(FAKE)),
                             np.mean([_log_sigmoid_by_hand(-l) for l in FAKE]), rtol=1e-6)
  np.testing.assert_allclose(losses.non_saturating_generator_loss(jnp.array(FAKE)),
                             -np.mean([_log_sigmoid_by_hand(l) for l in FAKE]), rtol=1e-6)


# Each loss as a function of (real_logits, fake_logits).
LOSS_FNS = {'value': losses.value_function,
             'd_loss': losses.discriminator_loss,
             'minimax': lambda r, f: losses.minimax_generator_loss(f),
             'non_saturating': lambda r, f: losses.non_saturating_generator_loss(f)}


@pytest.mark.parametrize('loss_name', sorted(LOSS_FNS))
def test_finite_values_and_gradients_at_extreme_logits(loss_name):
  real = jnp.array([1e4, -1e4, 0.0])
  fake = jnp.array([-1e4, 1e4, 0.0])
  value, grads = jax.value_and_grad(LOSS_FNS[loss_name], argnums=(0, 1))(real, fake)
  assert jnp.isfinite(value)
  assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)


def test_extreme_logits_give_exact_values():
  # log D(x) for logit −1e4 is −1e4 (not −inf); for logit +1e4 it is 0.
  real = jnp.array([1e4, -1e4])
  fake = jnp.array([-1e4, 1e4])
  np.testing.assert_allclose(losses.value_function(real, fake), -1e4, rtol=1e-6)
  np.testing.assert_allclose(losses.non_saturating_generator_loss(jnp.array([-1e4])), 1e4, rtol=1e-6)
  np.testing.assert_allclose(losses.minimax_generator_loss(jnp.array([1e4])), -1e4, rtol=1e-6)


@pytest.mark.parametrize('dtype', [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize('loss_name', sorted(LOSS_FNS))
def test_half_precision_logits_give_the_float32_loss_of_the_upcast_logits(loss_name, dtype):
  real, fake = jnp.array(REAL, dtype), jnp.array(FAKE, dtype)
  loss = LOSS_FNS[loss_name](real, fake)
  assert loss.dtype == jnp.float32
  np.testing.assert_array_equal(loss, LOSS_FNS[loss_name](real.astype(jnp.float32), fake.astype(jnp.float32)))
  grads = jax.grad(LOSS_FNS[loss_name], argnums=(0, 1))(real, fake)
  assert all(g.dtype == dtype for g in grads)  # the upcast is differentiated back to the logits' dtype


def test_float64_logits_give_float64_losses():
  with jax.enable_x64(True):
    real, fake = jnp.array(REAL, jnp.float64), jnp.array(FAKE, jnp.float64)
    assert all(fn(real, fake).dtype == jnp.float64 for fn in LOSS_FNS.values())
    expected = (np.mean([_log_sigmoid_by_hand(l) for l in REAL]) +
                np.mean([_log_sigmoid_by_hand(-l) for l in FAKE]))
    np.testing.assert_allclose(losses.value_function(real, fake), expected, rtol=1e-14)


def test_unknown_generator_loss_names_the_allowed_values():
  with pytest.raises(ValueError, match=r"g_loss='wasserstein'.*\['minimax', 'non_saturating'\]"):
    losses.generator_loss_fn('wasserstein')


def test_minimax_gradient_vanishes_when_d_rejects_fakes_but_non_saturating_does_not():
  """The paper's §3 tip: early on D(G(z)) ≈ 0 and log(1 − D(G(z))) saturates."""
  rngs = nnx.Rngs(0)
  g_apply, g_params = gan_jax.as_pure_function(
      gan_jax.MLPGenerator(4, (16,), 2, output_activation='identity', init_range=None, rngs=rngs))
  d_apply, d_params = gan_jax.as_pure_function(gan_jax.MLPDiscriminator(2, (16,), rngs=rngs))
  d_params['output']['bias'] = jnp.full((1,), -12.0)  # D confidently rejects: D(G(z)) ≈ 6e-6
  z = jax.random.normal(jax.random.key(0), (64, 4))

  def grad_norm(loss_fn):
    grads = jax.grad(lambda p: loss_fn(d_apply(d_params, g_apply(p, z))))(g_params)
    return float(jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree.leaves(grads))))

  d_fake = jax.nn.sigmoid(d_apply(d_params, g_apply(g_params, z)))
  assert float(d_fake.max()) < 1e-4
  minimax, non_saturating = (grad_norm(losses.minimax_generator_loss),
                             grad_norm(losses.non_saturating_generator_loss))
  assert non_saturating > 1e-3
  # Per example the logit gradients are −D and −(1 − D); their ratio is D / (1 − D).
  ratio = minimax / non_saturating
  assert ratio < 1e-4
  np.testing.assert_allclose(ratio, float(d_fake.mean()), rtol=0.5)
