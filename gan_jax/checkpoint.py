"""Checkpoints with orbax-checkpoint: periodic saves, keep the last N, resume the latest.

A checkpoint is one pytree, ``{'state': GANState, 'keys': {'train': ..., 'data': ...}}``,
the keys as raw uint32 key data. With the step inside the state this is all a
run needs to continue exactly: parameters, optimiser states (with their update
counts, which drive the schedules), the iteration count, and the keys from
which every later noise sample, dropout mask and data order is derived (the
data order is a function of the data key and the step; see ``data.py``).

Orbax writes each step into a temporary directory and renames it when
complete, so an interrupted save never replaces the last complete checkpoint.
"""

import pathlib

import jax
import orbax.checkpoint as ocp

from gan_jax.train import GANState


class CheckpointError(RuntimeError):
  """The latest checkpoint cannot be restored into this run; the message says why."""


def make_manager(directory: str | pathlib.Path, keep: int) -> ocp.CheckpointManager:
  """A manager keeping the ``keep`` most recent checkpoints in ``directory``."""
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
  return ocp.CheckpointManager(pathlib.Path(directory).absolute(), options=options)


def _payload(state: GANState, train_key: jax.Array, data_key: jax.Array) -> dict:
  return {'state': state, 'keys': {'train': jax.random.key_data(train_key),
                                   'data': jax.random.key_data(data_key)}}


def save(manager: ocp.CheckpointManager, state: GANState, train_key: jax.Array,
         data_key: jax.Array) -> None:
  """Saves (asynchronously) at ``state.step``; ``state`` must not be replicated."""
  manager.save(int(state.step), args=ocp.args.StandardSave(_payload(state, train_key, data_key)))


def restore_latest(manager: ocp.CheckpointManager, initial_state: GANState, train_key: jax.Array,
                   data_key: jax.Array) -> tuple[GANState, jax.Array, jax.Array] | None:
  """(state, train_key, data_key) from the latest checkpoint, or None if there is none.

  ``initial_state`` and the keys give the structure, shapes and dtypes to
  restore into; a checkpoint of another model raises CheckpointError.
  """
  step = manager.latest_step()
  if step is None:
    return None
  target = jax.tree.map(ocp.utils.to_shape_dtype_struct, _payload(initial_state, train_key, data_key))
  try:
    restored = manager.restore(step, args=ocp.args.StandardRestore(target))
  except (ValueError, KeyError, TypeError) as error:
    raise CheckpointError(
        f'cannot restore step {step} from {manager.directory} into this config '
        f'({type(error).__name__}: {str(error).splitlines()[0][:300]}); use a new --workdir') from None
  keys = restored['keys']
  return (restored['state'], jax.random.wrap_key_data(keys['train']),
          jax.random.wrap_key_data(keys['data']))
