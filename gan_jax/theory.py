"""§4 of the paper, for densities tabulated on a uniform 1-D grid.

Proposition 1: for a fixed G the optimal discriminator is
    D*(x) = p_data(x) / (p_data(x) + p_g(x)).
Theorem 1: the virtual training criterion C(G) = max_D V(D, G) = V(D*, G) equals
    C(G) = −log 4 + 2 · JSD(p_data ‖ p_g),
so its global minimum −log 4 is reached exactly when p_g = p_data, where D* ≡ ½.

A density here is an array ``p`` of shape [n] of values p(xⱼ) ≥ 0 on grid points
xⱼ spaced ``dx`` apart; integrals are Riemann sums Σⱼ f(xⱼ) dx. Pass densities
through ``normalize`` first so that Σⱼ p(xⱼ) dx = 1 holds on the grid itself; the
identities then hold to rounding error. All logarithms are natural (nats).
Work in float64 (``jax.enable_x64``) when checking identities to 1e-6.
"""

import jax
import jax.numpy as jnp


def normalize(density: jax.Array, dx: float) -> jax.Array:
  """Scales ``density`` [n] so that its Riemann sum with spacing ``dx`` is 1."""
  return density / (jnp.sum(density) * dx)


def gaussian_density(x: jax.Array, mean: float, std: float) -> jax.Array:
  """N(mean, std²) evaluated at the points ``x`` [n]."""
  return jnp.exp(-0.5 * ((x - mean) / std) ** 2) / (std * jnp.sqrt(2 * jnp.pi))


def _xlogy(x: jax.Array, y: jax.Array) -> jax.Array:
  """x · log y with the convention 0 · log 0 = 0 (and 0 · log y = 0)."""
  return jnp.where(x > 0, x * jnp.log(jnp.where(x > 0, y, 1.0)), 0.0)


def optimal_discriminator(p_data: jax.Array, p_g: jax.Array) -> jax.Array:
  """D*(x) = p_data / (p_data + p_g), shape [n]; ½ where both densities vanish."""
  total = p_data + p_g
  return jnp.where(total > 0, p_data / jnp.where(total > 0, total, 1.0), 0.5)


def value_function(d: jax.Array, p_data: jax.Array, p_g: jax.Array, dx: float) -> jax.Array:
  """V(D, G) = ∫ p_data(x) log D(x) + p_g(x) log(1 − D(x)) dx (eq. 3 of the paper).

  Args:
    d: [n] discriminator output D(xⱼ) in [0, 1].
    p_data, p_g: [n] densities on the grid.
    dx: grid spacing.
  """
  return jnp.sum(_xlogy(p_data, d) + _xlogy(p_g, 1.0 - d)) * dx


def virtual_training_criterion(p_data: jax.Array, p_g: jax.Array, dx: float) -> jax.Array:
  """C(G) = V(D*, G): the value function at the optimal discriminator (eq. 4).

  Computed as ∫ p_data log(p_data / (p_data + p_g)) + p_g log(p_g / (p_data + p_g)) dx,
  which is V(D*, G) written without forming D*: where p_g ≪ p_data, 1 − D*
  rounds to 0 in floating point although p_g log(1 − D*) is finite.
  """
  total = p_data + p_g
  return jnp.sum(_xlogy(p_data, p_data / total) + _xlogy(p_g, p_g / total)) * dx


def kl_divergence(p: jax.Array, q: jax.Array, dx: float) -> jax.Array:
  """KL(p ‖ q) = ∫ p log(p / q) dx; +inf where q = 0 < p."""
  return jnp.sum(_xlogy(p, p) - _xlogy(p, q)) * dx


def js_divergence(p: jax.Array, q: jax.Array, dx: float) -> jax.Array:
  """JSD(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m) with m = (p + q) / 2; in [0, log 2]."""
  m = 0.5 * (p + q)
  return 0.5 * kl_divergence(p, m, dx) + 0.5 * kl_divergence(q, m, dx)
