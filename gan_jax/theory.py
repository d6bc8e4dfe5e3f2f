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
Work in float64 (``jax.enable_x64``) when checking identities to 1e-6; in float32
they hold to ~n · 2⁻²⁴ on n grid points: C(G), KL and JSD form no ratio of
densities, which could underflow to a spurious 0 and make a finite term ±inf.
"""

import math

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


def _log(x: jax.Array) -> jax.Array:
  """log x for x ≥ 0, shape of ``x``: −inf where x = 0, with gradient 0 there (not NaN)."""
  positive = x > 0
  return jnp.where(positive, jnp.log(jnp.where(positive, x, 1.0)), -jnp.inf)


def _x_log_ratio(x: jax.Array, log_y: jax.Array) -> jax.Array:
  """x · log(x / y), given log y, as x · (log x − log y); shape of ``x``.

  0 where x = 0 (0 · log 0 = 0), with a finite gradient there; +inf where
  y = 0 < x. The ratio x / y is never formed: where x ≪ y it underflows to 0
  (XLA on CPU flushes float32 values below ~1.2e-38 to 0), turning a finite
  term into x · log 0 = −inf.
  """
  positive = x > 0
  log_ratio = jnp.log(jnp.where(positive, x, 1.0)) - jnp.where(positive, log_y, 0.0)
  return jnp.where(positive, x * log_ratio, 0.0)


def optimal_discriminator(p_data: jax.Array, p_g: jax.Array) -> jax.Array:
  """D*(x) = p_data / (p_data + p_g), shape [n]; ½ where both densities vanish."""
  total = p_data + p_g
  return jnp.where(total > 0, p_data / jnp.where(total > 0, total, 1.0), 0.5)


def value_function(d: jax.Array, p_data: jax.Array, p_g: jax.Array, dx: float) -> jax.Array:
  """V(D, G) = ∫ p_data(x) log D(x) + p_g(x) log(1 − D(x)) dx (eq. 3 of the paper).

  −inf where d = 0 < p_data or d = 1 while p_g > 0. For V(D*, G) use
  ``virtual_training_criterion``: 1 − D* rounds to 0 where p_g ≪ p_data.

  Args:
    d: [n] discriminator output D(xⱼ) in [0, 1].
    p_data, p_g: [n] densities on the grid.
    dx: grid spacing.
  """
  return jnp.sum(_xlogy(p_data, d) + _xlogy(p_g, 1.0 - d)) * dx


def virtual_training_criterion(p_data: jax.Array, p_g: jax.Array, dx: float) -> jax.Array:
  """C(G) = V(D*, G): the value function at the optimal discriminator (eq. 4).

  Computed as ∫ p_data (log p_data − log s) + p_g (log p_g − log s) dx with
  s = p_data + p_g, which is V(D*, G) written without forming D* = p_data / s or
  1 − D*: in floating point D* underflows to 0 where p_data ≪ p_g, and 1 − D*
  rounds to 0 where p_g ≪ p_data, although p_data log D* and p_g log(1 − D*) are
  finite.
  """
  log_total = _log(p_data + p_g)
  return jnp.sum(_x_log_ratio(p_data, log_total) + _x_log_ratio(p_g, log_total)) * dx


def kl_divergence(p: jax.Array, q: jax.Array, dx: float) -> jax.Array:
  """KL(p ‖ q) = ∫ p (log p − log q) dx; +inf where q = 0 < p.

  In float32 a density's far tail underflows to 0, so KL(p ‖ q) is +inf as soon
  as q underflows at a grid point where p > 0, even where float64 gives a finite
  value.
  """
  return jnp.sum(_x_log_ratio(p, _log(q))) * dx


def js_divergence(p: jax.Array, q: jax.Array, dx: float) -> jax.Array:
  """JSD(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m) with m = (p + q) / 2; in [0, log 2].

  log m is computed as log(p + q) − log 2 because m itself underflows to 0 where
  p is tiny and q = 0 (XLA on CPU flushes float32 values below ~1.2e-38 to 0),
  which would make p log(p / m) = +inf; p + q ≥ p does not underflow. For
  normalized p and q the exact value lies in [0, log 2]; the sum is clipped to
  that interval, which rounding (up to ~n · 2⁻²⁴ on n grid points in float32)
  can leave.
  """
  log_m = _log(p + q) - math.log(2)
  jsd = 0.5 * jnp.sum(_x_log_ratio(p, log_m) + _x_log_ratio(q, log_m)) * dx
  return jnp.clip(jsd, 0.0, math.log(2))
