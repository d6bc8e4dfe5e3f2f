"""The runs a loop trains: each seed's directory claimed, data loaded, game built, state restored (``set_up``).

``set_up`` is where a config becomes a run, in one pass down the layers:
``plan.check`` checks it (every refusal that needs no data), the data are
read once (the training shards, and the validation images of the monitor),
``plan.make_plan`` makes the ``RunPlan``, the game is built
(``construction``), the fit on the devices is checked, and each seed's run is opened: its
directory claimed for this process (``claim_workdir``: two runs in one
directory would overwrite each other's checkpoints), its latest checkpoint
restored, its config written, its validation monitor and best-checkpoint
managers made. ``loop`` trains what it returns.
"""

import dataclasses
import json
import types
from collections.abc import Callable, Sequence
from typing import TextIO, TypeVar

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from gan_jax import parallel
from gan_jax.data import datasets
from gan_jax.evaluation import classifier, measures
from gan_jax.training import checkpoint, construction, distributed, files, plan, rundir

T = TypeVar('T')


class WorkdirInUse(plan.ConfigError):
  """Another process (pid ``holder``) is training in ``directory`` (``claim_workdir``); nothing was touched."""

  def __init__(self, directory: rundir.RunDirectory, holder: str):
    super().__init__(f'--workdir={directory.root} is in use: process {holder} is training there; wait for it to end '
                     'or stop it (SIGTERM checkpoints), or use another --workdir')
    self.workdir, self.holder = directory.root, holder


def global_pixel_means(dataset: datasets.Dataset) -> np.ndarray:
  """[dim] mean pixel values in [0, 1] over the training examples of all processes (a collective).

  Integer sums, so the result does not depend on how the examples are
  spread over processes.
  """
  sums = dataset.train.sum(axis=0, dtype=np.int64)
  if sums.size and sums.max() >= 2**31:  # process_allgather works in int32 unless x64 is on
    raise ValueError('pixel sums overflow int32; too many training examples for global_pixel_means')
  counts = np.array([dataset.train.shape[0]], np.int32)
  total = distributed.sum_over_processes(np.concatenate([counts, sums.astype(np.int32)]))
  return total[1:].astype(np.float64) / (255.0 * total[0])


def note_device_count(directory: rundir.RunDirectory, num_devices: int, print_fn) -> None:
  """Records the device count; warns when a resumed run has another (its data order changes)."""
  if directory.devices.exists():
    before = json.loads(directory.devices.read_text())['num_devices']
    if before != num_devices:
      print_fn(f'note: this run used {before} devices and now has {num_devices}; its data order from here on '
               f'differs from an uninterrupted run on {before} (see gan_jax/data/datasets.py)')
  files.write_text_atomically(directory.devices, json.dumps({'num_devices': num_devices}) + '\n')


def claim_workdir(directory: rundir.RunDirectory) -> TextIO:
  """The lock on ``directory``'s lock file for this process; WorkdirInUse naming the holder if another process
  trains there (two runs in one directory would delete and overwrite each other's checkpoints)."""
  lock = files.lock_exclusively(directory.lock)
  if lock is None:
    raise WorkdirInUse(directory, directory.lock.read_text(encoding='utf-8').strip() or 'unknown')
  return lock


@dataclasses.dataclass(frozen=True)
class SeedRun:
  """One seed's run: its directory, keys and data, its (restored) state, its checkpoints, its monitor."""
  seed: int
  directory: rundir.RunDirectory
  keys: rundir.RunKeys  # train and data as restored from the checkpoint (the seed's own)
  dataset: datasets.Dataset
  state: parallel.State
  manager: ocp.CheckpointManager
  monitor: measures.ValidationMonitor | None
  best_managers: dict[str, ocp.CheckpointManager]  # generator ('raw' / 'ema') → its best checkpoint
  lock: TextIO | None  # the primary process's ``claim_workdir``


@dataclasses.dataclass(frozen=True)
class Setup:
  """What the loop starts from: the plan, the game (one for all seeds) and how it trains (``parallel.algorithm``:
  the ``train`` module for a GAN, ``vae`` for a VAE), the seeds' runs."""
  plan: plan.RunPlan
  gan: parallel.Model
  algorithm: types.ModuleType
  runs: tuple[SeedRun, ...]

  def close(self) -> None:
    """Closes every run's checkpoint managers (after their saves in flight are written), then frees its directory."""
    for seed_run in self.runs:
      _close_run_files([seed_run.manager, *seed_run.best_managers.values()], seed_run.lock)


def _close_run_files(managers: Sequence[ocp.CheckpointManager | None], lock: TextIO | None) -> None:
  for manager in managers:
    if manager is not None:
      manager.close()
  if lock is not None:
    lock.close()


def _device_bytes_besides_data(evaluation: plan.EvaluationSpec, state: parallel.State, dim: int) -> int:
  """An estimate of a device's memory for all but the training set: the state four times over (itself,
  gradients, updates, the donated copy) and, with the monitor, its float32 images, samples and distances."""
  state_bytes = sum(leaf.nbytes for leaf in jax.tree.leaves(state) if hasattr(leaf, 'nbytes'))
  monitor_bytes = 0
  if evaluation.every_steps:
    monitor_bytes = 4 * (dim * (evaluation.num_validation + evaluation.num_samples)
                         + evaluation.num_validation * evaluation.num_samples)
  return 4 * state_bytes + monitor_bytes


def _load_data(data: plan.DataSpec, keys: Sequence[rundir.RunKeys], shards: datasets.Shards
               ) -> list[datasets.Dataset]:
  """Each seed's training set (``shards`` of it) and the monitor's validation images: a toy one is drawn from the
  seed's data key; images are read once for all."""
  if data.dataset in datasets.TOY_DATASETS:
    return [datasets.load(data.dataset, seed_keys.data, data.source, shards, data.num_validation)
            for seed_keys in keys]
  return [datasets.load(data.dataset, keys[0].data, data.source, shards, data.num_validation)] * len(keys)


def _claim(directory: rundir.RunDirectory) -> TextIO | None:
  """``claim_workdir`` on process 0; every process raises WorkdirInUse if it fails (not only process 0)."""
  if distributed.is_primary():
    directory.root.mkdir(parents=True, exist_ok=True)
  distributed.barrier('workdir')
  lock, in_use = None, None
  if distributed.is_primary():
    try:
      lock = claim_workdir(directory)
    except WorkdirInUse as error:
      in_use = error
  if distributed.any_process(in_use is not None):
    raise in_use or WorkdirInUse(directory, 'unknown')
  return lock


def _monitor_data(evaluation: plan.EvaluationSpec, dataset: datasets.Dataset
                  ) -> tuple[np.ndarray, classifier.ClassifierMetrics | None]:
  """The monitor's validation images [num_validation, dim] (floats in [0, 1]) and its classifier metrics against
  the first ``num_samples`` validation images (None without ``evaluation.classifier_dir``); ``dataset`` holds
  the validation images the run read for it (``plan.DataSpec.num_validation``)."""
  if not dataset.validation.shape[0]:
    raise plan.ConfigError(f'config.eval_every_steps={evaluation.every_steps}: dataset={dataset.name!r} has no '
                           'validation examples for the monitor; use 0, or a larger dataset')
  images = np.asarray(datasets.to_float(dataset.validation))
  classifier_metrics = None
  if evaluation.classifier_dir:
    loaded = classifier.load_for_data(evaluation.classifier_dir, rundir.read_classifier_config(
        evaluation.classifier_dir), dataset, 'config.eval_classifier_dir')
    classifier_metrics = classifier.ClassifierMetrics(*loaded, images[:evaluation.num_samples])
  return images[:evaluation.num_validation], classifier_metrics


def _on_every_process(check: Callable[[], T], refused_elsewhere: str) -> T:
  """``check()``'s result; if it raises ConfigError on any process, every process raises (a collective: none
  waits in a later collective for one that stopped), those where it passed with ``refused_elsewhere``."""
  result, refusal = None, None
  try:
    result = check()
  except plan.ConfigError as error:
    refusal = error
  if distributed.any_process(refusal is not None):
    raise refusal or plan.ConfigError(refused_elsewhere)
  return result


def _plan_on_every_process(config: ml_collections.ConfigDict, dataset: datasets.Dataset, minibatches_per_epoch: int,
                           shards: datasets.Shards) -> plan.RunPlan:
  """``plan.make_plan`` for this process's shards of the data. Its checks read this process's examples (a
  conditional game's labels), so one process may refuse what another accepts: then every process raises."""
  return _on_every_process(lambda: plan.make_plan(config, dataset, minibatches_per_epoch, shards),
                           'another process refused the run for its shard of the data; its error line says why')


def _check_monitor_classifier(directory: rundir.RunDirectory, classifier_dir: str,
                              metrics: classifier.ClassifierMetrics) -> None:
  """The monitor's classifier must be the one that scored this run's earlier evaluations: the best checkpoint
  was kept, and the curve written, by its Fréchet distances. The first run with a classifier records it in
  ``directory.monitor_classifier``; a later one with other weights (wherever they are stored) raises
  ConfigError."""
  path = directory.monitor_classifier
  if path.exists():
    try:
      recorded = json.loads(path.read_text())
      recorded_dir, recorded_fingerprint = recorded['classifier_dir'], recorded['fingerprint']
    except (ValueError, KeyError, TypeError):
      raise plan.ConfigError(f'{path} is not the record of a classifier that this project writes; restore it, '
                             'or delete it to record config.eval_classifier_dir afresh') from None
    if recorded_fingerprint != metrics.fingerprint:
      raise plan.ConfigError(
          f"config.eval_classifier_dir={classifier_dir} holds another classifier than the one this run's monitor "
          f"scored with ({recorded_dir}, recorded in {path}): its Fréchet distances are in another "
          'feature space; resume with that classifier, or use a new --workdir')
  elif distributed.is_primary():
    files.write_text_atomically(path, json.dumps({'classifier_dir': classifier_dir,
                                                  'fingerprint': metrics.fingerprint}, indent=2) + '\n')


def _open_run(run_plan: plan.RunPlan, gan: parallel.Model, algorithm: types.ModuleType, seed: int,
              directory: rundir.RunDirectory,
              dataset: datasets.Dataset, state: parallel.State,
              monitor_data: tuple[np.ndarray, classifier.ClassifierMetrics | None] | None,
              print_fn: Callable[[str], None]) -> SeedRun:
  """One seed's run: its directory claimed, its latest checkpoint restored, its config and monitor set up."""
  keys = rundir.RunKeys.of_seed(seed)
  lock = _claim(directory)
  manager, best_managers = None, {}
  try:
    if monitor_data is not None and monitor_data[1] is not None:
      _on_every_process(lambda: _check_monitor_classifier(directory, run_plan.evaluation.classifier_dir,
                                                          monitor_data[1]),
                        "another process refused this run's classifier; its error line says why")
    manager = checkpoint.make_manager(directory.checkpoints, run_plan.loop.keep_checkpoints)
    restored = checkpoint.restore_latest(manager, state, keys.train, keys.data, warn=print_fn)
    if restored is not None:
      state, train_key, data_key = restored
      keys = dataclasses.replace(keys, train=train_key, data=data_key)
      print_fn(f'resumed from step {int(state.step)} of {directory.checkpoints}')
    if distributed.is_primary():
      files.write_text_atomically(directory.config, json.dumps({**run_plan.config, 'seed': seed}, indent=2,
                                                               default=list) + '\n')
      note_device_count(directory, jax.device_count(), print_fn)
    monitor = None
    if monitor_data is not None:
      validation_images, classifier_metrics = monitor_data
      monitor = measures.ValidationMonitor(gan.generator, gan.prior, validation_images, keys.evaluation_samples,
                                           run_plan.evaluation.num_samples, classifier_metrics)
      best_managers = {generator: checkpoint.make_best_manager(directory.best_checkpoints(generator),
                                                               run_plan.evaluation.best_by)
                       for generator in algorithm.generators(gan, state)}
  except BaseException:
    _close_run_files([manager, *best_managers.values()], lock)  # the run ends here: nothing of it stays open
    raise
  return SeedRun(seed, directory, keys, dataset, state, manager, monitor, best_managers, lock)


def set_up(config: ml_collections.ConfigDict, directories: Sequence[rundir.RunDirectory], seeds: Sequence[int],
           print_fn: Callable[[str], None]) -> Setup:
  """Plans the run (every check, before any compute), loads the data, builds the game and opens each seed's run:
  claims its directory (``claim_workdir``) and restores its latest checkpoint. The caller closes the Setup
  (``Setup.close``); if this raises, nothing stays open."""
  num_devices = jax.device_count()
  data = plan.check(config, num_devices, seeds, [directory.saved_config() for directory in directories],
                    [directory.root for directory in directories])
  shards = datasets.Shards(distributed.first_local_shard(), jax.local_device_count(), num_devices)
  keys = [rundir.RunKeys.of_seed(seed) for seed in seeds]
  seed_data = _load_data(data, keys, shards)
  minibatches_per_epoch = datasets.minibatches_per_epoch(seed_data[0], shards, data.batch_size)
  run_plan = _plan_on_every_process(config, seed_data[0], minibatches_per_epoch, shards)
  for note in run_plan.notes:
    print_fn(note)
  pixel_means = global_pixel_means(seed_data[0]) if seed_data[0].is_image else None
  games = [construction.build(run_plan.game, dataset, seed, minibatches_per_epoch, pixel_means)
           for seed, dataset in zip(seeds, seed_data)]
  gan = games[0][0]  # the game is the same for every seed; only its initial state differs
  memory_bytes = int(data.device_memory_mib * 2**20) or datasets.device_memory_bytes(jax.local_devices()[0])
  model_bytes = _device_bytes_besides_data(run_plan.evaluation, games[0][1], seed_data[0].dim)
  # S seeds: each device holds S shards and S states, so one seed's shard and state must fit in 1/S of it.
  datasets.check_fits_on_device(seed_data[0], shards, model_bytes, memory_bytes // len(seeds),
                                run_plan.game.num_classes)
  algorithm = parallel.algorithm(gan)
  monitor_data = _monitor_data(run_plan.evaluation, seed_data[0]) if run_plan.evaluation.every_steps else None
  runs = []
  try:
    for seed, directory, dataset, (_, state) in zip(seeds, directories, seed_data, games):
      runs.append(_open_run(run_plan, gan, algorithm, seed, directory, dataset, state, monitor_data, print_fn))
  except BaseException:
    Setup(run_plan, gan, algorithm, tuple(runs)).close()
    raise
  return Setup(run_plan, gan, algorithm, tuple(runs))
