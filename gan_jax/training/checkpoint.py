"""Checkpoints with orbax-checkpoint: periodic saves, keep the last N, resume the latest good one.

A checkpoint is one pytree, ``{'state': GANState (or VAEState), 'keys': {'train': ..., 'data': ...}}``,
the keys as raw uint32 key data. With the step inside the state this is all a
run needs to continue exactly: parameters, optimiser states (with their update
counts, which drive the schedules), the iteration count, and the keys from
which every later noise sample, dropout mask and data order is derived (the
data order is a function of the data key and the step; see ``data.py``).

What can go wrong, and what happens:

* A kill (even ``kill -9``) during a save: orbax writes each step into a
  temporary directory and renames it only when complete, so the last complete
  checkpoint stays the latest; leftover temporary directories are removed
  when the next run opens the directory.
* Non-finite values: ``save`` refuses a state holding NaN or Inf
  (``CheckpointError``), so a diverged run never replaces its last good
  checkpoint.
* A latest checkpoint that cannot be read (truncated or corrupted files) or
  holds non-finite values: ``restore_latest`` says so, moves it into
  ``<directory>.unreadable/`` (nothing is deleted) and falls back to the
  previous step; if no step can be read it raises ``CheckpointError``.
  A reader (``make_reader``: evaluation, figures, sweeps' scores) moves
  nothing: it says which steps it skipped and restores the previous one.
* Reading a run while it trains: a reader neither creates, deletes nor
  moves anything in the directory (orbax's clean-up of temporary directories
  would delete the save the training process is writing), so
  ``experiments.evaluate`` can score a live run.
* A checkpoint of another model (other layer sizes): ``CheckpointError``
  naming the directory, the array and both shapes; no fallback, since every
  step of that directory is of the other model.

In a multi-process run every process calls ``save`` and ``restore_latest``
with the same values; the arrays are stored as global arrays replicated over
all devices (``distributed.to_global``), which orbax writes once.
"""

import pathlib
import shutil
from collections.abc import Callable

import jax
import numpy as np
import orbax.checkpoint as ocp

from gan_jax.training import distributed
from gan_jax.parallel import State


# The monitor's scores a best-checkpoint directory may be ranked by, each with the direction that is better.
BEST_RANKINGS = {'validation_ll': 'max', 'validation_frechet_distance': 'min'}


def _ranked_by(metric: str) -> dict:
  """How a best-checkpoint directory ranks its steps: by ``metric`` (a key of ``BEST_RANKINGS``) among the scores
  saved with each."""
  return dict(best_fn=lambda scores: scores[metric], best_mode=BEST_RANKINGS[metric])


class CheckpointError(RuntimeError):
  """A checkpoint cannot be written or restored into this run; the message says why."""


def make_manager(directory: str | pathlib.Path, keep: int) -> ocp.CheckpointManager:
  """A manager keeping the ``keep`` most recent checkpoints in ``directory``; every one if ``keep`` is 0."""
  options = ocp.CheckpointManagerOptions(max_to_keep=keep or None, create=True, cleanup_tmp_directories=True)
  return ocp.CheckpointManager(pathlib.Path(directory).absolute(), options=options,
                               item_handlers=ocp.StandardCheckpointHandler())


def make_best_manager(directory: str | pathlib.Path, ranked_by: str = 'validation_ll') -> ocp.CheckpointManager:
  """A manager keeping in ``directory`` the one checkpoint whose saved score ``ranked_by`` is the best."""
  options = ocp.CheckpointManagerOptions(max_to_keep=1, keep_checkpoints_without_metrics=False, create=True,
                                         cleanup_tmp_directories=True, **_ranked_by(ranked_by))
  return ocp.CheckpointManager(pathlib.Path(directory).absolute(), options=options,
                               item_handlers=ocp.StandardCheckpointHandler())


def make_reader(directory: str | pathlib.Path, ranked_by: str | None = None) -> ocp.CheckpointManager:
  """A read-only manager of ``directory``: restores, writes nothing (the directory may be missing).

  ``ranked_by``: for a ``make_best_manager`` directory, the score its writer
  ranked by, so that ``best_step`` ranks its checkpoints as the writer does.
  """
  ranking = _ranked_by(ranked_by) if ranked_by else {}
  options = ocp.CheckpointManagerOptions(read_only=True, create=False, cleanup_tmp_directories=False,
                                         save_interval_steps=0, **ranking)
  return ocp.CheckpointManager(pathlib.Path(directory).absolute(), options=options,
                               item_handlers=ocp.StandardCheckpointHandler())


def best_scores(manager: ocp.CheckpointManager) -> dict[str, float] | None:
  """The scores saved with the best checkpoint of a ``make_best_manager`` manager, or None if it is empty."""
  manager.wait_until_finished()  # a save in flight has no metrics on record yet
  step = manager.best_step()
  return None if step is None else {name: float(score) for name, score in manager.metrics(step).items()}


def _payload(state: State, train_key: jax.Array, data_key: jax.Array) -> dict:
  return {'state': state, 'keys': {'train': jax.random.key_data(train_key),
                                   'data': jax.random.key_data(data_key)}}


def _leaf_names(tree) -> dict[str, object]:
  """Leaves by path name, 'state/g_params/0/bias', the same for dicts and dataclasses, int and str keys."""
  return {jax.tree_util.keystr(path, simple=True, separator='/'): leaf
          for path, leaf in jax.tree_util.tree_leaves_with_path(tree)}


def nonfinite_leaves(tree) -> list[str]:
  """The paths ('g_params/hidden/0/kernel') of the floating-point leaves of ``tree`` holding NaN or Inf."""
  return [name for name, leaf in _leaf_names(tree).items()
          if np.issubdtype(np.asarray(leaf).dtype, np.floating) and not np.isfinite(np.asarray(leaf)).all()]


def save(manager: ocp.CheckpointManager, state: State, train_key: jax.Array, data_key: jax.Array,
         metrics: dict[str, float] | None = None) -> bool:
  """Saves (asynchronously) at ``state.step``; ``state`` must not be replicated over a device axis.

  ``metrics`` are stored with the step (a ``make_best_manager`` ranks by
  them). Returns False, writing nothing, if the manager holds this step or a
  later one (orbax writes steps in increasing order only). Raises
  CheckpointError, writing nothing, if the state holds NaN or Inf.
  """
  payload = jax.device_get(_payload(state, train_key, data_key))  # one copy to the host, checked and saved
  bad = nonfinite_leaves(payload['state'])
  if bad:
    raise CheckpointError(f'refusing to checkpoint step {int(state.step)}: {bad[0]} holds NaN or Inf')
  return manager.save(int(state.step), args=ocp.args.StandardSave(distributed.to_global(payload)), metrics=metrics)


def _shape_mismatch(manager: ocp.CheckpointManager, step: int, target) -> str | None:
  """'PATH has shape S, this config needs T' for the first array that differs, else None."""
  saved = manager.item_metadata(step)
  saved_leaves = _leaf_names(getattr(saved, 'tree', saved))
  for name, wanted in _leaf_names(target).items():
    if name not in saved_leaves:
      return f'{name} is missing'
    shape = tuple(saved_leaves[name].shape)
    if shape != tuple(np.shape(wanted)):
      return f'{name} has shape {shape}, this config needs {tuple(np.shape(wanted))}'
  return None


def _set_aside(manager: ocp.CheckpointManager, step: int) -> pathlib.Path:
  """Moves step ``step`` out of the manager's directory; returns where it went.

  To ``<directory>.unreadable/STEP``, or ``STEP.1``, ``STEP.2``, … beside an
  earlier copy set aside (the same step unreadable again after a rerun).
  """
  directory = pathlib.Path(manager.directory)
  aside = directory.parent / f'{directory.name}.unreadable'
  destination, copy = aside / str(step), 0
  while destination.exists():
    copy += 1
    destination = aside / f'{step}.{copy}'
  if distributed.is_primary():
    aside.mkdir(exist_ok=True)
    shutil.move(directory / str(step), destination)
  distributed.barrier(f'set_aside_{step}')
  manager.reload()
  return destination


def _restore_step(manager: ocp.CheckpointManager, step: int, payload: dict) -> dict:
  """The step's payload as this process's arrays.

  Raises CheckpointError if the step is of another model, and any other
  exception if its files cannot be read or it holds non-finite values.
  """
  mismatch = _shape_mismatch(manager, step, payload)
  if mismatch:
    raise CheckpointError(f'checkpoint step {step} in {manager.directory} is of another model: {mismatch}; '
                          f'use the config of that run or a new --workdir')
  target = distributed.global_target(payload)
  restored = distributed.to_local(manager.restore(step, args=ocp.args.StandardRestore(target)))
  bad = nonfinite_leaves(restored)
  if bad:
    raise ValueError(f'{bad[0]} holds NaN or Inf')
  return restored


def _reason(error: Exception) -> str:
  first_line = str(error).splitlines()[0][:200] if str(error) else ''
  return f'{type(error).__name__}: {first_line}'


def restore_latest(manager: ocp.CheckpointManager, initial_state: State, train_key: jax.Array,
                   data_key: jax.Array, warn: Callable[[str], None] = print, set_aside: bool = True
                   ) -> tuple[State, jax.Array, jax.Array] | None:
  """(state, train_key, data_key) from the latest readable checkpoint, or None if there is none.

  ``initial_state`` and the keys give the structure, shapes and dtypes to
  restore into. Steps that cannot be read are reported through ``warn`` and,
  with ``set_aside`` (a run about to continue there), moved aside once an
  earlier step restores; a checkpoint of another model, or a directory where
  no step can be read (then nothing is moved), raises CheckpointError.
  """
  payload = _payload(initial_state, train_key, data_key)
  unreadable = []
  for step in sorted(manager.all_steps(), reverse=True):
    try:
      restored = _restore_step(manager, step, payload)
    except CheckpointError:
      raise
    except Exception as error:  # pylint: disable=broad-except  (orbax/tensorstore raise many types)
      unreadable.append((step, _reason(error)))
      continue
    for bad_step, reason in unreadable:
      outcome = (f'moved it to {_set_aside(manager, bad_step)}; resuming from step {step}' if set_aside
                 else f'left it in place; restored step {step}')
      warn(f'warning: checkpoint step {bad_step} in {manager.directory} cannot be restored ({reason}); {outcome}')
    return _unpack(restored)
  if unreadable:
    details = '; '.join(f'step {step}: {reason}' for step, reason in unreadable)
    raise CheckpointError(f'no checkpoint in {manager.directory} can be restored ({details}); '
                          f'use a new --workdir to start afresh')
  return None


def restore_step(manager: ocp.CheckpointManager, step: int, initial_state: State, train_key: jax.Array,
                 data_key: jax.Array) -> tuple[State, jax.Array, jax.Array]:
  """(state, train_key, data_key) of checkpoint ``step``; CheckpointError if it is missing or unreadable.

  ``initial_state`` and the keys give the structure, shapes and dtypes.
  """
  if step not in manager.all_steps():
    raise CheckpointError(f'no checkpoint step {step} in {manager.directory}; '
                          f'it holds steps {sorted(manager.all_steps())}')
  try:
    restored = _restore_step(manager, step, _payload(initial_state, train_key, data_key))
  except CheckpointError:
    raise
  except Exception as error:  # pylint: disable=broad-except  (orbax/tensorstore raise many types)
    raise CheckpointError(f'checkpoint step {step} in {manager.directory} cannot be restored '
                          f'({_reason(error)})') from None
  return _unpack(restored)


def _unpack(restored: dict) -> tuple[State, jax.Array, jax.Array]:
  keys = restored['keys']
  return restored['state'], jax.random.wrap_key_data(keys['train']), jax.random.wrap_key_data(keys['data'])
