"""The paper's learning-rate decay and momentum ramp, and pylearn2's momentum rule."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gan_jax import optim


def test_learning_rate_decays_by_1_000004_per_update_with_a_floor():
  schedule = optim.paper_learning_rate(0.1)
  np.testing.assert_allclose(schedule(jnp.array(0)), 0.1, rtol=1e-6)
  np.testing.assert_allclose(schedule(jnp.array(1)), 0.1 / 1.000004, rtol=1e-6)
  np.testing.assert_allclose(schedule(jnp.array(250_000)), 0.1 / 1.000004 ** 250_000, rtol=1e-4)
  # 0.1 / 1.000004^t reaches 1e-6 after ln(1e5) / ln(1.000004) ≈ 2.88M updates.
  np.testing.assert_allclose(schedule(jnp.array(3_000_000)), 1e-6, rtol=1e-6)


def test_momentum_rises_linearly_from_epoch_1_to_epoch_250():
  schedule = optim.paper_momentum(steps_per_epoch=500)
  np.testing.assert_allclose(schedule(jnp.array(0)), 0.5)       # epoch 1
  np.testing.assert_allclose(schedule(jnp.array(499)), 0.5)     # still epoch 1
  np.testing.assert_allclose(schedule(jnp.array(500)), 0.5 + 0.2 / 249, rtol=1e-6)  # epoch 2
  np.testing.assert_allclose(schedule(jnp.array(249 * 500)), 0.7, rtol=1e-6)        # epoch 250
  np.testing.assert_allclose(schedule(jnp.array(10_000 * 500)), 0.7, rtol=1e-6)


@pytest.mark.parametrize('kwargs, message', [
    ({'steps_per_epoch': 0}, 'steps_per_epoch=0 must be a positive integer'),
    ({'steps_per_epoch': 10, 'start_epoch': 5, 'saturate_epoch': 5}, 'saturate_epoch=5 must be greater'),
])
def test_invalid_momentum_schedules_are_rejected(kwargs, message):
  with pytest.raises(ValueError, match=message):
    optim.paper_momentum(**kwargs)


def test_sgd_momentum_is_the_pylearn2_velocity_rule_with_schedules():
  """v ← μ_t v − ε_t g; θ ← θ + v, checked against a NumPy loop with changing ε and μ."""
  lr = lambda t: 0.1 / 1.5 ** t
  mu = lambda t: 0.5 + 0.1 * t
  optimizer = optim.sgd_momentum(lr, mu)
  theta = {'w': jnp.array([1.0, -2.0])}
  state = optimizer.init(theta)
  theta_np, velocity = np.array([1.0, -2.0]), np.zeros(2)
  for t in range(4):
    grad = np.array([0.3 * (t + 1), -0.7])
    updates, state = optimizer.update({'w': jnp.asarray(grad, jnp.float32)}, state, theta)
    theta = optax.apply_updates(theta, updates)
    velocity = mu(t) * velocity - lr(t) * grad
    theta_np = theta_np + velocity
    np.testing.assert_allclose(theta['w'], theta_np, rtol=1e-5)
  np.testing.assert_allclose(state.hyperparams['learning_rate'], lr(3), rtol=1e-6)
  assert int(state.count) == 4


def test_sgd_momentum_with_constant_rates_equals_optax_sgd():
  params = {'w': jnp.ones(3)}
  ours, reference = optim.sgd_momentum(0.05, 0.9), optax.sgd(0.05, momentum=0.9)
  ours_state, reference_state = ours.init(params), reference.init(params)
  p_ours = p_ref = params
  for t in range(5):
    grads = {'w': jnp.arange(3.0) * (t - 2)}
    u, ours_state = ours.update(grads, ours_state, p_ours)
    p_ours = optax.apply_updates(p_ours, u)
    u, reference_state = reference.update(grads, reference_state, p_ref)
    p_ref = optax.apply_updates(p_ref, u)
  np.testing.assert_allclose(p_ours['w'], p_ref['w'], rtol=1e-6)


def test_adam_is_available_and_jittable():
  optimizer = optim.adam(2e-4)
  params = {'w': jnp.ones(2)}
  state = optimizer.init(params)
  updates, state = jax.jit(optimizer.update)({'w': jnp.ones(2)}, state, params)
  np.testing.assert_allclose(updates['w'], -2e-4, rtol=1e-3)
