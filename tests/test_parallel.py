"""Data parallelism over 8 forced CPU devices: pmap and shard_map equal the single-device step."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gan_jax
from conftest import make_paper_mnist_gan, make_toy_gan, tree_relative_error, trees_equal
from gan_jax import parallel


@pytest.fixture(scope='module')
def paper_gan_and_batches():
  gan, state = make_paper_mnist_gan(hidden=(256, 256), maxout_units=(64, 64), d_steps=2)
  # 3 iterations × k = 2 minibatches × 32 examples (4 per device) of "images" in [0, 1].
  batches = jax.random.uniform(jax.random.key(1), (3, 2, 32, 784))
  return gan, state, batches


@pytest.fixture(scope='module')
def single_device_result(paper_gan_and_batches):
  gan, state, batches = paper_gan_and_batches
  return jax.jit(functools.partial(gan_jax.train_steps, gan))(state, batches, jax.random.key(0))


@pytest.fixture(scope='module')
def pmap_result(paper_gan_and_batches, eight_devices):
  gan, state, batches = paper_gan_and_batches
  run = parallel.make_pmap_train_steps(gan, eight_devices)
  return run(parallel.replicate(state, eight_devices), batches, jax.random.key(0))


def test_pmap_step_equals_single_device_step_on_the_same_global_batch(paper_gan_and_batches, single_device_result,
                                                                     pmap_result):
  (single_state, single_metrics), (replicated_state, pmap_metrics) = single_device_result, pmap_result
  pmap_state = parallel.unreplicate(replicated_state)
  assert int(pmap_state.step) == 3
  assert tree_relative_error(pmap_state.d_params, single_state.d_params) <= 1e-5
  assert tree_relative_error(pmap_state.g_params, single_state.g_params) <= 1e-5
  assert tree_relative_error(pmap_metrics, single_metrics) <= 1e-5
  # The parameters are dominated by their initial values: compare the updates too.
  for name in ('d_params', 'g_params'):
    initial = getattr(paper_gan_and_batches[1], name)
    pmap_update, single_update = (jax.tree.map(jnp.subtract, getattr(s, name), initial)
                                  for s in (pmap_state, single_state))
    assert tree_relative_error(pmap_update, single_update) <= 1e-5, name


def test_pmap_replicas_stay_identical(pmap_result, eight_devices):
  replicated_state, _ = pmap_result
  for leaf in jax.tree.leaves(replicated_state):
    assert leaf.shape[0] == len(eight_devices)
    assert bool((leaf == leaf[0:1]).all())
  shards = jax.tree.leaves(replicated_state)[0].addressable_shards
  assert {shard.device for shard in shards} == set(eight_devices)


def test_pmap_devices_draw_different_noise(paper_gan_and_batches, eight_devices):
  """Each device folds its examples' global indices into the keys: no two devices share noise."""
  gan = parallel.data_parallel(paper_gan_and_batches[0])

  def device_noise(device_index, key):
    del device_index  # only gives pmap its mapped axis; the step reads lax.axis_index
    return gan_jax.train._noise(gan, key, 4)

  z = jax.pmap(device_noise, axis_name=parallel.BATCH_AXIS, in_axes=(0, None),
               devices=eight_devices)(jnp.arange(8), jax.random.key(0))
  flat = np.asarray(z).reshape(32, -1)
  assert len({row.tobytes() for row in flat}) == 32
  np.testing.assert_array_equal(flat, gan_jax.train._noise(paper_gan_and_batches[0], jax.random.key(0), 32))


def test_shard_map_step_equals_pmap_step(paper_gan_and_batches, pmap_result, eight_devices):
  gan, state, batches = paper_gan_and_batches
  run = parallel.make_shard_map_train_steps(gan, eight_devices)
  shard_state, shard_metrics = run(jax.tree.map(jnp.copy, state), batches, jax.random.key(0))  # donated
  pmap_state, pmap_metrics = parallel.unreplicate(pmap_result[0]), pmap_result[1]
  assert jax.tree.leaves(shard_state)[0].sharding.device_set == set(eight_devices)
  assert tree_relative_error(shard_state.d_params, pmap_state.d_params) <= 1e-6
  assert tree_relative_error(shard_state.g_params, pmap_state.g_params) <= 1e-6
  assert tree_relative_error(shard_metrics, pmap_metrics) <= 1e-6


def test_indivisible_global_batch_is_a_clear_error(eight_devices):
  gan, state = make_toy_gan()
  batches = jnp.zeros((1, 1, 12, 2))
  run = parallel.make_pmap_train_steps(gan, eight_devices)
  with pytest.raises(ValueError, match='batch_size=12 does not divide over 8 devices; use a multiple of 8'):
    run(parallel.replicate(state, eight_devices), batches, jax.random.key(0))
  with pytest.raises(ValueError, match='batch_size=12 does not divide over 8 devices'):
    parallel.make_shard_map_train_steps(gan, eight_devices)(state, batches, jax.random.key(0))


def test_split_for_devices_gives_each_device_a_contiguous_share():
  x = jnp.arange(2 * 1 * 8).reshape(2, 1, 8)
  split = parallel.split_for_devices(x, 4)
  assert split.shape == (4, 2, 1, 2)
  np.testing.assert_array_equal(split[1, 0, 0], [2, 3])
  np.testing.assert_array_equal(split[3, 1, 0], [14, 15])


def test_replicate_then_unreplicate_round_trips(eight_devices):
  _, state = make_toy_gan()
  assert trees_equal(parallel.unreplicate(parallel.replicate(state, eight_devices)), state)
