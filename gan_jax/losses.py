"""The value function of §3 and the players' losses, computed from logits.

The discriminator outputs a logit ``l``; its probability that the input is
real is ``D = sigmoid(l)``. Every log-probability below is computed with
``log_sigmoid`` so that values and gradients stay finite for logits as large
as ±1e4 (``log D = log_sigmoid(l)``, ``log(1 - D) = log_sigmoid(-l)``).

Notation: ``real_logits`` are D's logits on a minibatch of m data examples
x⁽¹⁾…x⁽ᵐ⁾; ``fake_logits`` are its logits on m generator samples G(z⁽ⁱ⁾).
All losses are means over the minibatch, in nats. Logits are upcast to at least
float32 before any arithmetic: the losses are float32 scalars for float32 or
half-precision (bfloat16, float16) logits, and float64 scalars for float64 logits.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

GeneratorLoss = Callable[[jax.Array], jax.Array]


def _at_least_float32(logits: jax.Array) -> jax.Array:
  """``logits`` cast to float32 if narrower (bfloat16, float16); float64 stays float64."""
  return logits.astype(jnp.promote_types(logits.dtype, jnp.float32))


def log_d(logits: jax.Array) -> jax.Array:
  """log D(x) for D = sigmoid(logits); shape of ``logits``, float32 (float64 for float64 logits)."""
  return jax.nn.log_sigmoid(_at_least_float32(logits))


def log_one_minus_d(logits: jax.Array) -> jax.Array:
  """log(1 - D(x)) for D = sigmoid(logits); shape of ``logits``, float32 (float64 for float64 logits)."""
  return jax.nn.log_sigmoid(-_at_least_float32(logits))


def value_function(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """Minibatch estimate of V(D, G), eq. (1) of the paper.

  V̂ = (1/m) Σᵢ log D(x⁽ⁱ⁾) + (1/m) Σᵢ log(1 − D(G(z⁽ⁱ⁾))).

  D ascends V̂, G descends it. V̂ ≤ 0; at the equilibrium D ≡ ½ it is −log 4.

  Args:
    real_logits: [m] D's logits on data examples.
    fake_logits: [m] D's logits on generator samples.
  """
  return jnp.mean(log_d(real_logits)) + jnp.mean(log_one_minus_d(fake_logits))


def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """J⁽ᴰ⁾ = −½ V̂: the mean binary cross-entropy of D on real (label 1) and fake (label 0).

  J⁽ᴰ⁾ = −½ [(1/m) Σᵢ log D(x⁽ⁱ⁾) + (1/m) Σᵢ log(1 − D(G(z⁽ⁱ⁾)))].

  The factor ½ is the original code's (``d_obj = 0.5 * (CE(1, D(x)) + CE(0, D(G(z))))``);
  descending J⁽ᴰ⁾ is ascending V̂ (Algorithm 1) with half the step size.
  At D ≡ ½ it equals log 2.
  """
  return -0.5 * value_function(real_logits, fake_logits)


def minimax_generator_loss(fake_logits: jax.Array) -> jax.Array:
  """Saturating generator loss: J⁽ᴳ⁾ = (1/m) Σᵢ log(1 − D(G(z⁽ⁱ⁾))).

  Exactly the quantity Algorithm 1 descends for G (the part of V̂ that depends
  on G; no factor ½). When D confidently rejects the samples (D(G(z)) → 0) its
  gradient with respect to the logit, −D(G(z)), vanishes: G cannot learn early on.
  """
  return jnp.mean(log_one_minus_d(fake_logits))


def non_saturating_generator_loss(fake_logits: jax.Array) -> jax.Array:
  """Non-saturating generator loss: J⁽ᴳ⁾ = −(1/m) Σᵢ log D(G(z⁽ⁱ⁾)).

  The paper's practical choice (§3): G maximises log D(G(z)) instead of
  minimising log(1 − D(G(z))). Same fixed point, but the gradient with respect
  to the logit, −(1 − D(G(z))), is largest exactly when D rejects the samples.
  No factor ½: it is the original code's ``g_obj = CE(1, D(G(z)))``.
  """
  return -jnp.mean(log_d(fake_logits))


GENERATOR_LOSSES: dict[str, GeneratorLoss] = {
    'minimax': minimax_generator_loss,
    'non_saturating': non_saturating_generator_loss,
}


def generator_loss_fn(name: str) -> GeneratorLoss:
  """The generator loss called ``name``: one of ``GENERATOR_LOSSES``."""
  if name not in GENERATOR_LOSSES:
    raise ValueError(
        f'g_loss={name!r} is not a generator loss; allowed: {sorted(GENERATOR_LOSSES)}')
  return GENERATOR_LOSSES[name]
