"""Several processes, one run: JAX's multi-controller runtime (``jax.distributed``).

On a TPU VM pod slice (or several GPU hosts) every host runs the same
command; ``initialize`` joins them into one JAX runtime, after which
``jax.devices()`` lists the devices of all processes and a pmap over them
spans every host, while each process feeds and reads only its own
``jax.local_devices()``. On CPU (the tests: several processes on 127.0.0.1)
cross-process collectives go through Gloo.

Global device order. pmap numbers its devices by their position in
``jax.devices()``, which lists each process's devices together, process by
process; so the devices of process p are the shards
``first_local_shard() … first_local_shard() + jax.local_device_count() − 1``
of ``jax.device_count()``. The data (``data.Shards``) and the per-example
keys follow that numbering, which is why one process with 8 devices and two
with 4 each compute the same thing.

Checkpoints of a multi-process run hold global arrays replicated over all
devices (``to_global``); orbax writes each from one process and every process
restores it (``to_local``).
"""

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
  """Joins this process to a multi-process run; must come before any other JAX call.

  With no arguments JAX reads the cluster from its environment (TPU VM pod
  slices, SLURM, Open MPI). On the CPU backend it selects Gloo collectives,
  without which a pmap cannot span processes.
  """
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                             process_id=process_id)


def is_primary() -> bool:
  """True in the one process that writes logs, pictures and summaries (process 0)."""
  return jax.process_index() == 0


def first_local_shard() -> int:
  """The global pmap index of this process's first device; its devices follow contiguously."""
  all_devices, local = jax.devices(), jax.local_devices()
  first = all_devices.index(local[0])
  if all_devices[first:first + len(local)] != local:
    raise RuntimeError(f'the local devices of process {jax.process_index()} are not contiguous in jax.devices()')
  return first


def _replicated_everywhere() -> NamedSharding:
  return NamedSharding(Mesh(np.asarray(jax.devices()), ('devices',)), PartitionSpec())


def to_global(tree):
  """Each leaf (equal in every process) as a global array replicated over all devices.

  JAX's own ``make_array_from_process_local_data`` does the work; orbax then
  writes each array once and every process can restore it.
  """
  sharding = _replicated_everywhere()
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), tree)


def global_target(tree):
  """ShapeDtypeStructs of ``to_global(tree)``: the restore target for orbax."""
  sharding = _replicated_everywhere()
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=sharding), tree)


def to_local(tree):
  """This process's copy of each leaf of a replicated global tree (on its first local device)."""
  return jax.tree.map(lambda x: x.addressable_data(0), tree)


def any_process(flag: bool) -> bool:
  """True if ``flag`` is True in any process (a collective: every process must call it)."""
  if jax.process_count() == 1:
    return flag
  return bool(np.any(multihost_utils.process_allgather(np.asarray(flag))))


def sum_over_processes(x: np.ndarray) -> np.ndarray:
  """The elementwise sum of ``x`` over all processes (a collective)."""
  if jax.process_count() == 1:
    return x
  return np.asarray(multihost_utils.process_allgather(x)).sum(axis=0)


def barrier(name: str) -> None:
  """Waits until every process reaches the barrier called ``name``."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)
