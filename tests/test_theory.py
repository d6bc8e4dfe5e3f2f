"""§4: D* = p_data / (p_data + p_g) and C(G) = −log 4 + 2·JSD(p_data ‖ p_g), on a fine grid."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

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
