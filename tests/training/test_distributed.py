"""One process's view of the multi-process helpers (``distributed``); several processes training as one are
tests/test_robustness.py's."""

import jax
import numpy as np

from gan_jax.training import distributed


def test_one_process_is_the_primary_and_its_devices_are_the_shards_from_0(eight_devices):
  assert distributed.is_primary()
  assert distributed.first_local_shard() == 0
  assert jax.local_devices() == eight_devices


def test_a_tree_made_global_is_replicated_over_every_device_and_reads_back_equal(eight_devices):
  tree = {'kernel': np.arange(6, dtype=np.float32).reshape(2, 3), 'step': np.int32(7)}
  global_tree = distributed.to_global(tree)
  for leaf, value in zip(jax.tree.leaves(global_tree), jax.tree.leaves(tree)):
    assert leaf.sharding.is_fully_replicated and set(leaf.sharding.device_set) == set(eight_devices)
    np.testing.assert_array_equal(np.asarray(leaf), value)
  target = distributed.global_target(tree)
  assert jax.tree.map(lambda t: (t.shape, t.dtype), target) == {'kernel': ((2, 3), np.float32), 'step': ((), np.int32)}
  assert all(t.sharding == leaf.sharding for t, leaf in zip(jax.tree.leaves(target), jax.tree.leaves(global_tree)))
  local = distributed.to_local(global_tree)
  assert jax.tree.map(lambda leaf: leaf.devices(), local) == {'kernel': {eight_devices[0]}, 'step': {eight_devices[0]}}
  for leaf, value in zip(jax.tree.leaves(local), jax.tree.leaves(tree)):
    np.testing.assert_array_equal(np.asarray(leaf), value)


def test_the_collectives_of_one_process_are_its_own_values():
  assert distributed.any_process(True) and not distributed.any_process(False)
  values = np.array([3, 0, 5], np.int32)
  np.testing.assert_array_equal(distributed.sum_over_processes(values), values)
  distributed.barrier('alone')  # returns at once: no other process to wait for
