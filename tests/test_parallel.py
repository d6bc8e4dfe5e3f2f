"""Data parallelism over 8 forced CPU devices: pmap and shard_map equal the single-device step."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gan_jax
from conftest import make_batchnorm_toy_gan, make_paper_mnist_gan, make_toy_gan, tree_relative_error, trees_equal
from gan_jax import parallel
from gan_jax.data import datasets


# Equivalence is checked in float64. The question is whether the pmapped step
# computes the same function as the single-device step; in float32 the answer
# drowns in rounding: the first iterations' updates are a few ulps of the
# parameters they are added to, so a one-ulp difference in a float32 sum
# (matmul blocking for m/8 rows instead of m, the order of the cross-device
# sum, another CPU's kernels) is a relative error of up to 1e-3 in the updates
# (9.4e-4 measured on one CPU; 6e-8 on another). In float64 the same rounding
# is 2^29 times smaller: measured here, 2e-14 on the updates and 1e-16 on the
# metrics. EQUIVALENT bounds it with 2^-53 · 1e7 ≈ 1e-9, room for that
# amplification and more, while any real difference (a key folded
# differently, a sum instead of a mean over devices) changes the updates by
# 1e-3 or more.
EQUIVALENT = 1e-9


def assert_pmap_step_equals_single_device_step(model, state, batches, devices, param_fields) -> None:
  """A float64 ``model`` (a GAN or a VAE) from float64 ``state``: the pmap driver over ``devices`` and the
  single-device ``train_steps`` on ``batches`` [N, k, m, …] agree to EQUIVALENT in their metrics and in the
  updates of each of ``param_fields`` (the parameters are dominated by their initial values)."""
  train_steps = parallel.algorithm(model).train_steps
  with jax.enable_x64(True):
    single_state, single_metrics = jax.jit(functools.partial(train_steps, model))(state, batches, jax.random.key(0))
    run = parallel.make_pmap_train_steps(model, devices)
    pmap_state, pmap_metrics = run(parallel.replicate(state, devices), batches, jax.random.key(0))
    pmap_state = parallel.unreplicate(pmap_state)
  assert tree_relative_error(_to_numpy(pmap_metrics), _to_numpy(single_metrics)) <= EQUIVALENT
  for name in param_fields:
    initial = _to_numpy(getattr(state, name))
    updates = [jax.tree.map(np.subtract, _to_numpy(getattr(s, name)), initial) for s in (pmap_state, single_state)]
    assert tree_relative_error(*updates) <= EQUIVALENT, name


def _float64(tree):
  return jax.tree.map(lambda x: x.astype(jnp.float64), tree)


def _to_numpy(tree):
  return jax.tree.map(np.asarray, tree)


@pytest.fixture(scope='module')
def paper_gan_and_batches():
  """The shrunk paper model in float64 with 3 iterations × k = 2 minibatches × 32 examples (4 per device)."""
  with jax.enable_x64(True):
    gan, state = make_paper_mnist_gan(hidden=(64, 64), maxout_units=(32, 32), d_steps=2)
    state = gan_jax.init_state(gan, _float64(state.g_params), _float64(state.d_params))
    batches = jax.random.uniform(jax.random.key(1), (3, 2, 32, 784), jnp.float64)
  return gan, state, batches


@pytest.fixture(scope='module')
def single_device_result(paper_gan_and_batches):
  gan, state, batches = paper_gan_and_batches
  with jax.enable_x64(True):
    return _to_numpy(jax.jit(functools.partial(gan_jax.train_steps, gan))(state, batches, jax.random.key(0)))


@pytest.fixture(scope='module')
def pmap_result(paper_gan_and_batches, eight_devices):
  """(replicated state [8, ...] on the 8 devices, metrics [3])."""
  gan, state, batches = paper_gan_and_batches
  with jax.enable_x64(True):
    run = parallel.make_pmap_train_steps(gan, eight_devices)
    return run(parallel.replicate(state, eight_devices), batches, jax.random.key(0))


@pytest.mark.slow
def test_pmap_step_equals_single_device_step_on_the_same_global_batch(paper_gan_and_batches, single_device_result,
                                                                     pmap_result):
  (single_state, single_metrics), (pmap_state, pmap_metrics) = single_device_result, _to_numpy(pmap_result)
  pmap_state = parallel.unreplicate(pmap_state)
  assert int(pmap_state.step) == 3
  assert pmap_state.g_params['output']['kernel'].dtype == np.float64
  assert tree_relative_error(pmap_metrics, single_metrics) <= EQUIVALENT
  # The parameters are dominated by their initial values: compare the updates.
  for name in ('d_params', 'g_params'):
    initial = _to_numpy(getattr(paper_gan_and_batches[1], name))
    pmap_update, single_update = (jax.tree.map(np.subtract, getattr(s, name), initial)
                                  for s in (pmap_state, single_state))
    assert tree_relative_error(pmap_update, single_update) <= EQUIVALENT, name


def test_pmap_replicas_stay_identical(pmap_result, eight_devices):
  replicated_state, _ = pmap_result
  for leaf in jax.tree.leaves(_to_numpy(replicated_state)):
    assert leaf.shape[0] == len(eight_devices)
    assert (leaf == leaf[0:1]).all()
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
  with jax.enable_x64(True):
    run = parallel.make_shard_map_train_steps(gan, eight_devices)
    shard_state, shard_metrics = run(jax.tree.map(jnp.copy, state), batches, jax.random.key(0))  # donated
    assert jax.tree.leaves(shard_state)[0].sharding.device_set == set(eight_devices)
    shard_state, shard_metrics = _to_numpy((shard_state, shard_metrics))
  pmap_state, pmap_metrics = _to_numpy((parallel.unreplicate(pmap_result[0]), pmap_result[1]))
  assert tree_relative_error(shard_metrics, pmap_metrics) <= EQUIVALENT
  for name in ('d_params', 'g_params'):
    initial = _to_numpy(getattr(state, name))
    shard_update, pmap_update = (jax.tree.map(np.subtract, getattr(s, name), initial)
                                 for s in (shard_state, pmap_state))
    assert tree_relative_error(shard_update, pmap_update) <= EQUIVALENT, name


def test_indivisible_global_batch_is_a_clear_error(eight_devices):
  gan, state = make_toy_gan()
  batches = jnp.zeros((1, 1, 12, 2))
  run = parallel.make_pmap_train_steps(gan, eight_devices)
  with pytest.raises(ValueError, match='a minibatch of 12 examples does not divide over 8 devices; use a multiple of 8'):
    run(parallel.replicate(state, eight_devices), batches, jax.random.key(0))
  with pytest.raises(ValueError, match='a minibatch of 12 examples does not divide over 8 devices'):
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


def test_a_batch_without_its_iteration_axis_is_a_clear_error(eight_devices):
  gan, state = make_toy_gan()
  run = parallel.make_pmap_train_steps(gan, eight_devices)
  with pytest.raises(ValueError, match=r'real_batches has shape \(1, 16, 2\); expected \[N, k, m, \*data_shape\] '
                                       r'with k = d_steps = 1'):
    run(parallel.replicate(state, eight_devices), jnp.zeros((1, 16, 2)), jax.random.key(0))


# ---------------------------------------------------------------- a generator with state (batch norm)

@pytest.mark.slow
@pytest.mark.parametrize('pack', [1, 2])
def test_batch_norm_statistics_span_the_global_batch_under_pmap_and_shard_map(eight_devices, pack):
  """8 devices × 4 examples give the single-device result on 32: the statistics are of the global batch
  (a device's own 4 examples would give other statistics, and updates that differ at 1e-2 or more).
  PacGAN's simultaneous rule; the alternating rule's passes of G go through the same ``BatchNorm``.
  With packing (PacGAN2), each device packs its own 4 examples into 2, the pairs a single device forms."""
  with jax.enable_x64(True):
    gan, state = make_batchnorm_toy_gan(update_rule='simultaneous', pack=pack)
    state = gan_jax.init_state(gan, _float64(state.g_params), _float64(state.d_params), _float64(state.g_state))
    batches = jax.random.normal(jax.random.key(1), (3, 1, 32, 2), jnp.float64)
    single = _to_numpy(jax.jit(functools.partial(gan_jax.train_steps, gan))(state, batches, jax.random.key(0)))
    pmapped = parallel.make_pmap_train_steps(gan, eight_devices)(
        parallel.replicate(state, eight_devices), batches, jax.random.key(0))
    sharded = parallel.make_shard_map_train_steps(gan, eight_devices)(
        jax.tree.map(jnp.copy, state), batches, jax.random.key(0))
    results = {'pmap': _to_numpy((parallel.unreplicate(pmapped[0]), pmapped[1])), 'shard_map': _to_numpy(sharded)}
  replicas = jax.tree.leaves(_to_numpy(pmapped[0].g_state))
  assert all(np.array_equal(leaf[0], leaf[i]) for leaf in replicas for i in range(8))
  for name, (parallel_state, parallel_metrics) in results.items():
    assert tree_relative_error(parallel_metrics, single[1]) <= EQUIVALENT, name
    assert tree_relative_error(parallel_state.g_state, single[0].g_state) <= EQUIVALENT, name
    for params in ('d_params', 'g_params'):
      initial = _to_numpy(getattr(state, params))
      updates = [jax.tree.map(np.subtract, getattr(s, params), initial) for s in (parallel_state, single[0])]
      assert tree_relative_error(*updates) <= EQUIVALENT, (name, params)


# ---------------------------------------------------------------- seeds together

@pytest.mark.slow
def test_seeds_trained_together_each_equal_their_run_alone(eight_devices):
  """Two seeds (own initial parameters, training set, data key and base key) through the seed-axis driver
  equal each seed through ``make_pmap_train_loop`` alone, batch-norm state and metrics included (float64).
  Runs that shared anything (a key, the batch statistics, an index into the wrong seed's data) would differ
  at 1e-3 or more."""
  shard_size, iterations, shard_batch = 16, 6, 4  # 4 minibatches an epoch: the chunk crosses an epoch
  with jax.enable_x64(True):
    seeds = []
    for seed in (0, 1):
      gan, state = make_batchnorm_toy_gan(seed=seed, update_rule='simultaneous')
      state = gan_jax.init_state(gan, _float64(state.g_params), _float64(state.d_params), _float64(state.g_state))
      shards = jax.random.normal(jax.random.key(10 + seed), (8, shard_size, 2), jnp.float64)
      seeds.append((state, shards, jax.random.key(20 + seed), jax.random.key(30 + seed)))
    alone = []
    for state, shards, data_key, train_key in seeds:
      loop = parallel.make_pmap_train_loop(gan, datasets.make_minibatch_sampler(data_key, 1, shard_batch),
                                           eight_devices)
      result = loop(parallel.replicate(state, eight_devices), parallel.put_shards(shards, eight_devices),
                    train_key, 0, iterations)
      alone.append(_to_numpy((parallel.unreplicate(result[0]), result[1])))
    stack = lambda trees: jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)
    states, shards, data_keys, train_keys = (stack(list(parts)) for parts in zip(*seeds))
    device_data = (parallel.put_shards(jnp.broadcast_to(data_keys, (8, 2)), eight_devices),
                   parallel.put_shards(jnp.moveaxis(shards, 0, 1), eight_devices))
    loop = parallel.make_pmap_seeds_train_loop(gan, datasets.make_keyed_minibatch_sampler(1, shard_batch),
                                               eight_devices)
    together_states, together_metrics, finite = loop(parallel.replicate(states, eight_devices), device_data,
                                                     train_keys, 0, iterations)
    together = _to_numpy((parallel.unreplicate(together_states), together_metrics))
  assert finite['g_params'].shape == (2,) and finite['d_loss'].shape == (2, iterations)
  for i, (alone_state, alone_metrics) in enumerate(alone):
    seed_state, seed_metrics = jax.tree.map(lambda x, i=i: x[i], together)
    assert tree_relative_error(seed_metrics, alone_metrics) <= EQUIVALENT, i
    assert tree_relative_error(seed_state.g_state, alone_state.g_state) <= EQUIVALENT, i
    for params in ('d_params', 'g_params'):
      initial = _to_numpy(getattr(seeds[i][0], params))
      updates = [jax.tree.map(np.subtract, getattr(s, params), initial) for s in (seed_state, alone_state)]
      assert tree_relative_error(*updates) <= EQUIVALENT, (i, params)
  assert tree_relative_error(alone[0][1], alone[1][1]) > 1e-3  # the two seeds' runs really differ
