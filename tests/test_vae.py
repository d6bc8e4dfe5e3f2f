"""The VAE beside the GAN (gan_jax/vae.py): its loss by hand, its likelihood bound, its steps, its runs."""

import functools
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from conftest import trees_equal
from gan_jax import priors, vae
from gan_jax.configs import mnist_vae
from gan_jax.reports import stored_runs
from gan_jax.training import loop
from test_parallel import assert_pmap_step_equals_single_device_step
from tiny_runs import random_classifier, tiny_config


def _linear_vae(latent_dim: int = 2, optimizer=optax.sgd(0.1)) -> vae.VAE:
  """A VAE with linear networks: decoder logits z·W + b, encoder x·V + c → [μ, v]."""
  decoder = lambda params, z: z @ params['w'] + params['b']
  encoder = lambda params, x: x @ params['v'] + params['c']
  return vae.VAE(decoder, encoder, priors.NoisePrior('gaussian', latent_dim), optimizer)


def _linear_params(key, latent_dim: int, dim: int, scale: float = 0.5) -> dict:
  keys = jax.random.split(key, 4)
  return {'decoder': {'w': scale * jax.random.normal(keys[0], (latent_dim, dim)),
                      'b': scale * jax.random.normal(keys[1], (dim,))},
          'encoder': {'v': scale * jax.random.normal(keys[2], (dim, 2 * latent_dim)),
                      'c': scale * jax.random.normal(keys[3], (2 * latent_dim,))}}


def test_the_elbo_terms_match_a_hand_computation_on_a_tiny_model():
  with jax.enable_x64(True):
    model = _linear_vae()
    params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), _linear_params(jax.random.key(0), 2, 3))
    x = jnp.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    epsilon = jnp.array([[0.3, -1.2], [2.0, 0.1]])
    reconstruction, kl = vae.elbo_terms(model, params, x, epsilon)
  p = {group: {name: np.asarray(value) for name, value in values.items()} for group, values in params.items()}
  x, epsilon = np.asarray(x), np.asarray(epsilon)
  for i in range(2):
    out = x[i] @ p['encoder']['v'] + p['encoder']['c']
    mean, log_variance = out[:2], out[2:]
    z = mean + np.exp(0.5 * log_variance) * epsilon[i]
    pixel_probability = 1.0 / (1.0 + np.exp(-(z @ p['decoder']['w'] + p['decoder']['b'])))
    by_hand = np.sum(x[i] * np.log(pixel_probability) + (1 - x[i]) * np.log(1 - pixel_probability))
    kl_by_hand = 0.5 * np.sum(mean**2 + np.exp(log_variance) - 1.0 - log_variance)
    # float64 on both sides, a few dozen operations on numbers of order 1: agreement to 1e-12.
    assert reconstruction[i] == pytest.approx(by_hand, rel=1e-12)
    assert kl[i] == pytest.approx(kl_by_hand, rel=1e-12)


def test_the_importance_weighted_bound_is_at_least_the_mean_log_weight_of_its_own_draws():
  """Jensen, exactly: log mean exp(w) ≥ mean(w) for the same k draws (the ELBO estimate from them)."""
  model = _linear_vae()
  params = _linear_params(jax.random.key(1), 2, 5)
  x = jnp.asarray(jax.random.bernoulli(jax.random.key(2), 0.5, (4, 5)), jnp.float32)
  key, k = jax.random.key(3), 50
  bounds = vae.importance_weighted_bound(model, params, x, key, k)
  example_keys = jax.vmap(functools.partial(jax.random.fold_in, key))(jnp.arange(4))
  for i in range(4):
    weights = np.asarray(vae.log_importance_weights(model, params, x[i], example_keys[i], k), np.float64)
    by_hand = np.log(np.mean(np.exp(weights - weights.max()))) + weights.max()
    # float32 logsumexp of 50 terms against float64: a few float32 roundings of numbers of order 10.
    assert float(bounds[i]) == pytest.approx(by_hand, abs=1e-4)
    assert float(bounds[i]) >= weights.mean()


def _exact_log_likelihood(model, params, x: np.ndarray) -> float:
  """log p(x) = log ∫ p(x | z) N(z; 0, 1) dz for a 1-d latent, by the trapezoid rule on [−10, 10] (float64)."""
  z = np.linspace(-10.0, 10.0, 200_001)
  logits = z[:, None] * np.asarray(params['decoder']['w'], np.float64) + np.asarray(params['decoder']['b'])
  log_joint = (np.sum(x * logits - np.logaddexp(0.0, logits), axis=-1) - 0.5 * z**2 - 0.5 * math.log(2 * math.pi))
  peak = log_joint.max()
  return float(peak + np.log(np.trapezoid(np.exp(log_joint - peak), z)))


def test_the_bound_rises_with_k_toward_the_exact_log_likelihood():
  """E L_1 ≤ E L_10 ≤ E L_100 ≤ E L_1000 ≤ log p(x), each mean over 400 independent estimates.

  The bounds are random; each comparison is made with a margin of 4 standard errors of the difference of the two
  means (the estimates are independent), so it holds for these fixed keys and would for almost any others.
  """
  model = _linear_vae(latent_dim=1)
  params = _linear_params(jax.random.key(4), 1, 6, scale=1.5)
  x = jnp.asarray([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
  repeats = 400
  estimates = {}
  for k in (1, 10, 100, 1000):
    bounds = vae.importance_weighted_bound(model, params, jnp.tile(x, (repeats, 1)), jax.random.key(k), k)
    values = np.asarray(bounds, np.float64)
    estimates[k] = (values.mean(), values.std(ddof=1) / np.sqrt(repeats))
  exact = _exact_log_likelihood(model, params, np.asarray(x))
  ks = sorted(estimates)
  for low, high in zip(ks, ks[1:]):
    (mean_low, se_low), (mean_high, se_high) = estimates[low], estimates[high]
    assert mean_high > mean_low - 4 * math.hypot(se_low, se_high), (low, high, estimates)
  mean_1000, se_1000 = estimates[1000]
  assert mean_1000 <= exact + 4 * se_1000 + 1e-4
  assert estimates[1][0] < exact - 0.1  # a poor q: the ELBO sits well below log p(x), so the rise is real
  assert exact - mean_1000 < 0.05 * (exact - estimates[1][0])  # k = 1000 closes most of the gap


def test_a_step_is_a_pure_function_of_its_key():
  model = _linear_vae(optimizer=optax.adam(1e-2))
  params = _linear_params(jax.random.key(5), 2, 4)
  state = vae.init_state(model, params['decoder'], params['encoder'])
  batches = jax.random.uniform(jax.random.key(6), (3, 1, 8, 4))
  step = jax.jit(functools.partial(vae.train_steps, model))
  first, metrics = step(state, batches, jax.random.key(7))
  again, _ = step(state, batches, jax.random.key(7))
  other, _ = step(state, batches, jax.random.key(8))
  assert trees_equal(first, again) and not trees_equal(first, other)
  assert int(first.step) == 3 and set(metrics) == {'elbo', 'reconstruction', 'kl'}
  assert np.allclose(metrics['elbo'], metrics['reconstruction'] - metrics['kl'], rtol=1e-6)


def test_a_pmap_step_equals_the_single_device_step_on_the_same_global_batch(eight_devices):
  """As test_parallel's equivalence test: float64, the same bound."""
  with jax.enable_x64(True):
    model = _linear_vae(optimizer=optax.adam(1e-2))
    params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), _linear_params(jax.random.key(9), 2, 12))
    state = vae.init_state(model, params['decoder'], params['encoder'])
    batches = jax.random.uniform(jax.random.key(10), (3, 1, 32, 12), jnp.float64)
  assert_pmap_step_equals_single_device_step(model, state, batches, eight_devices,
                                             ('decoder_params', 'encoder_params'))


def test_a_vae_refuses_a_prior_other_than_the_standard_normal():
  with pytest.raises(ValueError, match='standard normal'):
    vae.VAE(lambda p, z: z, lambda p, x: x, priors.NoisePrior('uniform', 2), optax.sgd(0.1))


def _vae_config(idx_dir, **overrides):
  return tiny_config(mnist_vae.get_config(), dataset=f'idx:{idx_dir}', keep_checkpoints=10, eval_every_steps=0,
                     **overrides)


@pytest.mark.slow
def test_a_vae_run_trains_through_the_loop_resumes_bit_identically_and_evaluates_its_bounds(tmp_path, idx_dir):
  config = _vae_config(idx_dir, num_steps=12)
  loop.run(config, tmp_path / 'straight', print_fn=lambda _: None)
  loop.run(_vae_config(idx_dir, num_steps=6), tmp_path / 'resumed', print_fn=lambda _: None)
  loop.run(config, tmp_path / 'resumed', print_fn=lambda _: None)
  straight, resumed = (stored_runs.restore_run(tmp_path / name)[3] for name in ('straight', 'resumed'))
  assert isinstance(straight, vae.VAEState) and int(resumed.step) == 12 and trees_equal(straight, resumed)
  records = [json.loads(line) for line in (tmp_path / 'straight' / 'metrics.jsonl').read_text().splitlines()]
  assert {'elbo', 'reconstruction', 'kl'} <= set(records[-1])
  random_classifier(tmp_path / 'classifier', 784)
  metrics, samples = stored_runs.evaluate_run(tmp_path / 'straight', num_samples=40,
                                              classifier_dir=tmp_path / 'classifier', importance_samples=20,
                                              bound_examples=5)
  assert samples.shape == (40, 784) and 0 < samples.min() and samples.max() < 1  # pixel means
  assert metrics['bound_examples'] == 5 and metrics['importance_samples'] == 20
  assert metrics['test_log_likelihood_bound'] < 0 and np.isfinite(metrics['frechet_distance'])
