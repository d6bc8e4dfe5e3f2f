"""§4: D* = p_data / (p_data + p_g) and C(G) = −log 4 + 2·JSD(p_data ‖ p_g), on a fine grid."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import gan_jax
from gan_jax import theory


GRID = (-12.0, 12.0, 48_001)


def _grid():
  x = jnp.linspace(*GRID)
  return x, float(x[1] - x[0])


def _mixture(x, components):
  return sum(w * theory.gaussian_density(x, m, s) for w, m, s in components)


PAIRS = {
    'shifted': ([(1.0, 0.0, 1.0)], [(1.0, 1.5, 1.0)]),
    'narrower': ([(1.0, 0.0, 1.0)], [(1.0, 0.0, 0.3)]),
    'bimodal_vs_unimodal': ([(0.5, -2.0, 0.5), (0.5, 2.0, 0.5)], [(1.0, 0.0, 2.0)]),
    'far_apart': ([(1.0, -4.0, 0.5)], [(1.0, 4.0, 0.5)]),
}


@pytest.mark.parametrize('name', sorted(PAIRS))
def test_virtual_criterion_equals_minus_log4_plus_twice_jsd(name):
  with jax.enable_x64(True):
    x, dx = _grid()
    data_components, g_components = PAIRS[name]
    p_data = theory.normalize(_mixture(x, data_components), dx)
    p_g = theory.normalize(_mixture(x, g_components), dx)
    c = theory.virtual_training_criterion(p_data, p_g, dx)
    jsd = theory.js_divergence(p_data, p_g, dx)
    assert abs(float(c) - (-math.log(4) + 2 * float(jsd))) < 1e-6
    assert float(c) > -math.log(4) + 1e-3  # p_g ≠ p_data: strictly above the minimum
    assert 0.0 < float(jsd) <= math.log(2) + 1e-12


def test_far_apart_distributions_have_jsd_log2_and_criterion_zero():
  with jax.enable_x64(True):
    x, dx = _grid()
    p_data = theory.normalize(theory.gaussian_density(x, -8.0, 0.3), dx)
    p_g = theory.normalize(theory.gaussian_density(x, 8.0, 0.3), dx)
    np.testing.assert_allclose(theory.js_divergence(p_data, p_g, dx), math.log(2), atol=1e-6)
    np.testing.assert_allclose(theory.virtual_training_criterion(p_data, p_g, dx), 0.0, atol=1e-6)


def test_minimum_is_minus_log4_at_pg_equal_pdata_where_dstar_is_half():
  with jax.enable_x64(True):
    x, dx = _grid()
    p_data = theory.normalize(_mixture(x, PAIRS['bimodal_vs_unimodal'][0]), dx)
    np.testing.assert_allclose(theory.virtual_training_criterion(p_data, p_data, dx), -math.log(4), atol=1e-9)
    np.testing.assert_allclose(theory.js_divergence(p_data, p_data, dx), 0.0, atol=1e-12)
    d_star = theory.optimal_discriminator(p_data, p_data)
    np.testing.assert_allclose(d_star, 0.5, atol=1e-12)


def test_criterion_is_minimal_at_pdata_along_a_path_of_generators():
  """C(G) for p_g = N(μ, 1), μ ∈ [−2, 2], with p_data = N(0, 1): minimum at μ = 0."""
  with jax.enable_x64(True):
    x, dx = _grid()
    p_data = theory.normalize(theory.gaussian_density(x, 0.0, 1.0), dx)
    means = np.linspace(-2.0, 2.0, 41)
    c = [float(theory.virtual_training_criterion(
        p_data, theory.normalize(theory.gaussian_density(x, m, 1.0), dx), dx)) for m in means]
    assert means[int(np.argmin(c))] == 0.0
    np.testing.assert_allclose(min(c), -math.log(4), atol=1e-9)


def test_dstar_maximises_the_value_function():
  with jax.enable_x64(True):
    x, dx = _grid()
    p_data = theory.normalize(theory.gaussian_density(x, 0.0, 1.0), dx)
    p_g = theory.normalize(theory.gaussian_density(x, 1.0, 1.5), dx)
    d_star = theory.optimal_discriminator(p_data, p_g)
    best = theory.value_function(d_star, p_data, p_g, dx)
    np.testing.assert_allclose(best, theory.virtual_training_criterion(p_data, p_g, dx), atol=1e-9)
    for perturbation in (0.05 * jnp.sin(x), -0.1 * jnp.ones_like(x), 0.1 * jnp.tanh(x)):
      d = jnp.clip(d_star + perturbation, 1e-6, 1 - 1e-6)
      assert float(theory.value_function(d, p_data, p_g, dx)) < float(best)
    np.testing.assert_allclose(d_star, p_data / (p_data + p_g))


def test_kl_divergence_of_two_gaussians_is_the_closed_form_and_jsd_is_its_mean_to_the_mixture():
  # Float64 on the fine grid: the Riemann sum of a smooth density that vanishes at the grid's ends converges
  # faster than any power of dx, and n = 48,001 terms below 1 round to at most n · 2⁻⁵³ ≈ 5e-12; 1e-9 covers both.
  with jax.enable_x64(True):
    x, dx = _grid()
    p = theory.normalize(theory.gaussian_density(x, 0.0, 1.0), dx)
    q = theory.normalize(theory.gaussian_density(x, 1.0, 1.5), dx)
    closed_form = math.log(1.5) + (1.0 + 1.0 ** 2) / (2 * 1.5 ** 2) - 0.5  # log σ_q/σ_p + (σ_p² + Δμ²)/2σ_q² − ½
    np.testing.assert_allclose(theory.kl_divergence(p, q, dx), closed_form, atol=1e-9)
    np.testing.assert_allclose(theory.kl_divergence(p, p, dx), 0.0, atol=1e-9)
    m = (p + q) / 2
    np.testing.assert_allclose(theory.js_divergence(p, q, dx),
                               0.5 * theory.kl_divergence(p, m, dx) + 0.5 * theory.kl_divergence(q, m, dx), atol=1e-9)
    assert theory.kl_divergence(p, jnp.where(x > 0, q, 0.0), dx) == jnp.inf  # q = 0 where p > 0


# Float32. With the former ½(p + q) and p_data / (p_data + p_g), these pairs gave
# JSD = +inf (far_apart, overlapping: ½(p + q) underflowed to 0 where one density is
# ~1e-38 and the other 0) and C(G) = −inf (tail_under_narrow_peak: D* underflowed to
# 0 where p_data ≈ 2e-38 lies under p_g ≈ 2), XLA on CPU flushing float32 values
# below ~1.2e-38 to 0.
F32_GRID = (-16.0, 16.0, 2001)
F32_PAIRS = {
    'far_apart': ([(1.0, -4.0, 0.5)], [(1.0, 4.0, 0.5)]),
    'overlapping': ([(1.0, -2.0, 0.5)], [(1.0, 2.0, 0.5)]),
    'tail_under_narrow_peak': ([(1.0, 0.0, 1.0)], [(1.0, 13.0, 0.1)]),
}
# Compared with float64 on the same float32 densities, only the evaluation rounds.
# JSD sums n terms ≥ 0 and C(G) n terms ≤ 0; a float32 sum of n terms of one sign,
# in any order, is off by at most (n − 1) · 2⁻²⁴ times its magnitude: ≤ log 4 · n · 2⁻²⁴
# for C(G), ≤ log 2 · n · 2⁻²⁴ for JSD, and clipping JSD to [0, log 2] moves it at most
# log 2 · n · 2⁻²⁴ further (the float32 densities' masses are 1 ± n · 2⁻²⁴, so their
# exact JSD is that close to the interval). Each term's own rounding (a few ulps of
# p · (|log p| + |log(p_data + p_g)|)) adds O(10 · 2⁻²⁴), negligible next to
# n · 2⁻²⁴ ≈ 1.2e-4. Hence both are within 2 log 2 · n · 2⁻²⁴ < F32_TOL of float64.
F32_TOL = 2 * F32_GRID[2] * 2.0 ** -24


@pytest.mark.parametrize('name', sorted(F32_PAIRS))
def test_float32_jsd_and_criterion_are_finite_and_match_float64(name):
  x = jnp.linspace(*F32_GRID, dtype=jnp.float32)
  dx = float(x[1] - x[0])
  data_components, g_components = F32_PAIRS[name]
  p_data = theory.normalize(_mixture(x, data_components), dx)
  p_g = theory.normalize(_mixture(x, g_components), dx)
  jsd = theory.js_divergence(p_data, p_g, dx)
  c = theory.virtual_training_criterion(p_data, p_g, dx)
  assert p_data.dtype == p_g.dtype == jsd.dtype == c.dtype == jnp.float32
  assert 0.0 <= float(jsd) <= float(np.float32(math.log(2)))  # log 2 rounded to float32
  assert np.isfinite(float(c))
  with jax.enable_x64(True):
    p_data64, p_g64 = (jnp.asarray(np.asarray(p), jnp.float64) for p in (p_data, p_g))
    jsd64 = theory.js_divergence(p_data64, p_g64, dx)
    c64 = theory.virtual_training_criterion(p_data64, p_g64, dx)
  assert abs(float(jsd) - float(jsd64)) < F32_TOL
  assert abs(float(c) - float(c64)) < F32_TOL
  # Exactly, C(G) + log 4 − 2 JSD = log 2 · (2 − Σ p_data dx − Σ p_g dx), and each mass
  # is 1 ± n · 2⁻²⁴ (normalize's rounded sum): ≤ 2 log 2 · n · 2⁻²⁴. Add the rounding
  # of C(G) (≤ log 4 · n · 2⁻²⁴) and twice that of JSD (≤ 2 · 2 log 2 · n · 2⁻²⁴, see
  # F32_TOL): in all ≤ 8 log 2 · n · 2⁻²⁴ < 3 · F32_TOL.
  assert abs(float(c) - (-math.log(4) + 2 * float(jsd))) < 3 * F32_TOL
  d_star = theory.optimal_discriminator(p_data, p_g)
  assert bool(jnp.all((d_star >= 0.0) & (d_star <= 1.0)))
  for fn in (theory.js_divergence, theory.virtual_training_criterion):
    grads = jax.grad(fn, argnums=(0, 1))(p_data, p_g, dx)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)


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
