"""Data parallelism: the per-device step of ``train.py`` (or of ``vae.py``) under pmap or shard_map.

Both drivers run the same function, ``train.train_steps`` with
``GAN.axis_name = BATCH_AXIS`` (for a ``vae.VAE``, ``vae.train_steps``: see
``algorithm``): every device holds a full copy of the state and m/n
examples of each global minibatch of m, computes its gradients, and
``lax.pmean`` over the axis averages them, so every device applies the same
update and the replicas stay identical. Noise and dropout keys are folded with
each example's global index, so the result equals the single-device step on
the same global batch (up to float summation order).

Layouts. Global minibatches for N iterations are ``[N, k, m, *data_shape]``.

* pmap (the user-facing driver): the state is replicated with a leading
  device axis (``replicate``/``unreplicate``). ``make_pmap_train_loop`` is
  the driver: each device draws its own share of every minibatch with a
  sampler function (``experiments.train`` and the benchmark run it with
  ``data.make_minibatch_sampler``, the training set held on device);
  ``make_pmap_train_steps`` is the same driver fed with given batches
  ``[N, k, m, ...]``, which it splits into ``[n, N, k, m/n, ...]`` itself.
* shard_map: the state is an ordinary (replicated) global array and the
  batch is sharded along its m axis over a one-axis ``Mesh``.
"""

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from gan_jax import train, vae

BATCH_AXIS = 'batch'
_MINIBATCH_DIM = 2  # the m axis of [N, k, m, *data_shape]


Model = train.GAN | vae.VAE  # what the drivers train: the game, or the VAE beside it
State = train.GANState | vae.VAEState  # and its state


def algorithm(model: Model):
  """The module whose pure functions train ``model``: ``train`` for a GAN, ``vae`` for a VAE.

  Both provide ``train_steps(model, state, batches [N, k, m, …], key) -> (state, metrics)``,
  ``finite_checks(state, metrics)``, ``generators(model, state)`` (name → what ``model.generator`` takes),
  ``sample(model, g_variables, key, n)`` and ``GENERATORS`` (the names a state may hold).
  """
  return vae if isinstance(model, vae.VAE) else train


def data_parallel(gan: Model) -> Model:
  """``gan`` with its steps averaging gradients over ``BATCH_AXIS``."""
  return dataclasses.replace(gan, axis_name=BATCH_AXIS)


def check_divisible(global_batch_size: int, num_devices: int) -> None:
  """Raises a ValueError unless a minibatch of ``global_batch_size`` examples splits evenly over the devices."""
  if global_batch_size % num_devices:
    raise ValueError(
        f'a minibatch of {global_batch_size} examples does not divide over {num_devices} devices; '
        f'use a multiple of {num_devices}')


def split_for_devices(x: jax.Array, num_devices: int, axis: int = _MINIBATCH_DIM) -> jax.Array:
  """[..., m, ...] (m at ``axis``) → [num_devices, ..., m / num_devices, ...].

  Device d gets examples d·m/n … (d+1)·m/n − 1, matching the global example
  indices the steps fold into their keys.
  """
  check_divisible(x.shape[axis], num_devices)
  shape = x.shape[:axis] + (num_devices, x.shape[axis] // num_devices) + x.shape[axis + 1:]
  return jnp.moveaxis(jnp.reshape(x, shape), axis, 0)


def _one_axis_mesh(devices: Sequence[jax.Device]) -> Mesh:
  return Mesh(np.asarray(devices), (BATCH_AXIS,))


def replicate(tree, devices: Sequence[jax.Device]):
  """Copies every leaf (a numeric array) to each device, stacked on a new leading axis of size len(devices).

  The stack is a broadcast view of the leaf's host copy, sent row by row to
  the devices: nothing is compiled (an on-device broadcast would compile a
  program per leaf shape, seconds for a model's first replication).
  """
  sharding = NamedSharding(_one_axis_mesh(devices), PartitionSpec(BATCH_AXIS))
  n = len(devices)

  def stacked_copies(x):
    host = np.asarray(x)
    return jax.device_put(np.broadcast_to(host, (n,) + host.shape), sharding)
  return jax.tree.map(stacked_copies, tree)


def put_shards(x: np.ndarray, devices: Sequence[jax.Device]) -> jax.Array:
  """[len(devices), ...] → an array whose row d lives on ``devices[d]`` (pmap's input layout)."""
  return jax.device_put(x, NamedSharding(_one_axis_mesh(devices), PartitionSpec(BATCH_AXIS)))


def unreplicate(tree):
  """This process's first copy of a replicated tree (all copies are equal).

  Reads the first addressable shard, so it works on multi-host runs, where
  ``x[0]`` of a global array would be a gather across processes.
  """
  def first_copy(x):
    return x.addressable_data(0)[0] if isinstance(x, jax.Array) else x[0]
  return jax.tree.map(first_copy, tree)


# (this device's data, the chunk's first iteration (a traced int), its length N (static))
#   → this device's minibatches [N, k, m/n, *data_shape], float32
MinibatchSampler = Callable[[Any, jax.Array, int], jax.Array]


def _given_minibatches(real_batches: jax.Array, first_step: jax.Array, num_steps: int) -> jax.Array:
  """The sampler of ``make_pmap_train_steps``: the device's share of the batches it was given."""
  del first_step, num_steps
  return real_batches


def make_pmap_train_loop(gan: train.GAN, sample_minibatches: MinibatchSampler,
                         devices: Sequence[jax.Device] | None = None) -> Callable:
  """The data-parallel driver: ``train_steps`` pmapped, its minibatches drawn on device.

  Args:
    gan: the game (its steps are made to average over ``BATCH_AXIS``).
    sample_minibatches: run on each device inside the pmap, where
      ``lax.axis_index(BATCH_AXIS)`` is the device's index among all devices:
      ``(device_data, first_step, num_steps) -> [num_steps, k, m/n, ...]``, the
      device's share of iterations first_step … first_step + num_steps − 1
      (``data.make_minibatch_sampler`` draws them from a training set held on
      device; ``make_pmap_train_steps`` passes given batches through).
    devices: the devices to span; default every device of every process
      (pmap's own default), where each process passes its local devices' rows.
  Returns:
    ``run(replicated_state, device_data, key, first_step, num_steps) ->
    (replicated_state, metrics, finite)`` with ``device_data`` a pytree of
    [n_local_devices, ...] arrays (row d for local device d), ``key`` the
    run's base key, ``num_steps`` static (one compilation per length);
    ``metrics`` [num_steps] per name and ``finite`` (``train.finite_checks``:
    per metric [num_steps] bools, per player one bool after the last
    iteration) from this process's first device, all replicas holding the
    same averaged values. The replicated state is donated.
  """
  return _pmap_chunks(functools.partial(_chunk_on_device, data_parallel(gan), sample_minibatches), devices)


def _pmap_chunks(per_device: Callable, devices: Sequence[jax.Device] | None) -> Callable:
  """``per_device(state, device_data, key, first_step, num_steps)`` pmapped (state donated, the last two
  broadcast, ``num_steps`` static), returning the metrics and finite checks of this process's first device."""
  stepper = jax.pmap(per_device, axis_name=BATCH_AXIS, in_axes=(0, 0, None, None),
                     static_broadcasted_argnums=4, devices=None if devices is None else list(devices),
                     donate_argnums=0)

  def run(replicated_state: train.GANState, device_data, key: jax.Array, first_step: int, num_steps: int):
    state, metrics, finite = stepper(replicated_state, device_data, key, first_step, num_steps)
    return state, unreplicate(metrics), unreplicate(finite)

  return run


def _chunk_on_device(gan: train.GAN, sample_minibatches: MinibatchSampler, state: train.GANState, device_data,
                     key: jax.Array, first_step: jax.Array, num_steps: int):
  """One device's share of a chunk of ``num_steps`` iterations: (state, metrics [N], finite checks)."""
  batches = sample_minibatches(device_data, first_step, num_steps)
  steps = algorithm(gan)
  state, metrics = steps.train_steps(gan, state, batches, key)
  return state, metrics, steps.finite_checks(state, metrics)


def make_pmap_seeds_train_loop(gan: train.GAN, sample_minibatches: MinibatchSampler,
                               devices: Sequence[jax.Device] | None = None) -> Callable:
  """``make_pmap_train_loop`` for S runs of one game at once: one compiled program, a seed axis inside the pmap.

  The runs differ only in their values (initial parameters, training sets,
  base keys), so each device runs the chunk ``vmap``-ped over a seed axis:
  the same kernels, S times wider, which is what makes many small runs fast
  on an accelerator. Each run's numbers are those it gets alone (up to float
  summation order): nothing is shared between seeds, and ``pmean`` over
  ``BATCH_AXIS`` still averages each seed over the devices only.

  Returns ``run(replicated_states, device_data, keys, first_step, num_steps)
  -> (replicated_states, metrics, finite)``: the states and every leaf of
  ``device_data`` are [n_local_devices, S, ...] (``replicate`` a stack of S
  states; row d of the data for local device d, then one entry per seed),
  ``keys`` the S base keys [S], ``first_step`` shared by all seeds,
  ``num_steps`` static; ``metrics`` and ``finite`` as ``make_pmap_train_loop``'s
  with a leading seed axis ([S, num_steps] per metric, [S] per player). The
  replicated states are donated.
  """
  gan = data_parallel(gan)

  def per_device(states, device_data, keys, first_step, num_steps):
    one_seed = functools.partial(_chunk_on_device, gan, sample_minibatches, num_steps=num_steps)
    return jax.vmap(one_seed, in_axes=(0, 0, 0, None))(states, device_data, keys, first_step)

  return _pmap_chunks(per_device, devices)


def make_pmap_train_steps(gan: train.GAN, devices: Sequence[jax.Device] | None = None) -> Callable:
  """``make_pmap_train_loop`` on minibatches given by the caller.

  Returns ``run(replicated_state, real_batches, key) -> (replicated_state, metrics)``
  with ``real_batches`` this process's minibatches [N, k, m, *data_shape]
  (m divisible by its device count, else ValueError; the global batch when
  there is one process), ``key`` the run's base key, and metrics [N] from
  the first replica (all replicas hold the same averaged values). Devices
  default as in ``make_pmap_train_loop``. The replicated state is donated.
  """
  loop = make_pmap_train_loop(gan, _given_minibatches, devices)
  num_local = jax.local_device_count() if devices is None else len(devices)

  def run(replicated_state: train.GANState, real_batches: jax.Array, key: jax.Array):
    if real_batches.ndim < 4 or real_batches.shape[1] != gan.d_steps:
      raise ValueError(f'real_batches has shape {tuple(real_batches.shape)}; expected [N, k, m, *data_shape] '
                       f'with k = d_steps = {gan.d_steps}')
    state, metrics, _ = loop(replicated_state, split_for_devices(real_batches, num_local), key, 0,
                             real_batches.shape[0])
    return state, metrics

  return run


def make_shard_map_train_steps(gan: train.GAN, devices: Sequence[jax.Device] | None = None) -> Callable:
  """``train_steps`` under ``jax.shard_map`` over a one-axis mesh of ``devices``, jitted.

  ``devices`` default: every device of every process, as for the pmap drivers.

  Returns ``run(state, real_batches, key) -> (state, metrics)`` where ``state``
  is an ordinary pytree (replicated over the mesh) and ``real_batches`` the
  global [N, k, m, *data_shape], sharded along m; the state is donated.
  """
  devices = list(jax.devices() if devices is None else devices)
  mesh = _one_axis_mesh(devices)
  replicated = PartitionSpec()
  # check_vma=False: the step is written pmap-style, with explicit pmean. With
  # varying-axis checking on, differentiating a per-device loss with respect
  # to replicated parameters already sums the gradients over the axis (the
  # transpose of the implicit broadcast), and the pmean would then average a sum.
  per_device = jax.shard_map(
      functools.partial(algorithm(gan).train_steps, data_parallel(gan)), mesh=mesh,
      in_specs=(replicated, PartitionSpec(None, None, BATCH_AXIS), replicated),
      out_specs=(replicated, replicated), check_vma=False)
  stepper = jax.jit(per_device, donate_argnums=0)

  def run(state: train.GANState, real_batches: jax.Array, key: jax.Array):
    check_divisible(real_batches.shape[_MINIBATCH_DIM], len(devices))
    return stepper(state, real_batches, key)

  return run
