"""Noise priors p_z: U(−√3, √3) and N(0, I), both zero-mean unit-variance."""

import math

import jax
import numpy as np
import pytest

from gan_jax.priors import NoisePrior


@pytest.mark.parametrize('name', ['uniform', 'gaussian'])
def test_priors_have_zero_mean_and_unit_variance(name):
  z = np.asarray(NoisePrior(name, 100).sample(jax.random.key(0), 2000))
  assert z.shape == (2000, 100) and z.dtype == np.float32
  assert abs(z.mean()) < 0.01
  assert abs(z.var() - 1.0) < 0.01


def test_uniform_prior_support_is_plus_minus_sqrt3():
  z = np.asarray(NoisePrior('uniform', 100).sample(jax.random.key(0), 1000))
  assert z.min() >= -math.sqrt(3) and z.max() <= math.sqrt(3)
  assert z.min() < -1.72 and z.max() > 1.72


def test_gaussian_prior_is_not_bounded():
  z = np.asarray(NoisePrior('gaussian', 100).sample(jax.random.key(0), 1000))
  assert np.abs(z).max() > 3.5


def test_sample_each_draws_one_row_per_key_reproducibly():
  prior = NoisePrior('uniform', 3)
  keys = jax.random.split(jax.random.key(0), 4)
  z = prior.sample_each(keys)
  assert z.shape == (4, 3)
  np.testing.assert_array_equal(z[2], prior.sample(keys[2], 1)[0])


@pytest.mark.parametrize('name, dim, message', [
    ('laplace', 10, r"prior='laplace'.*\['uniform', 'gaussian'\]"),
    ('uniform', 0, r'^dim=0 must be a positive integer \(the latent dimension, config\.latent_dim\)'),
    ('gaussian', 2.0, r'^dim=2\.0 must be a positive integer'),
])
def test_invalid_priors_are_rejected(name, dim, message):
  with pytest.raises(ValueError, match=message):
    NoisePrior(name, dim)


def test_invalid_dim_message_names_the_field_exactly():
  with pytest.raises(ValueError) as error:
    NoisePrior('uniform', -3)
  assert str(error.value) == 'dim=-3 must be a positive integer (the latent dimension, config.latent_dim)'
