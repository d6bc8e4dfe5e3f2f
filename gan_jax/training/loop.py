"""The training loop: from a config to a trained GAN in a workdir (the game is built by ``construction``).

``experiments/train.py`` is a thin command-line wrapper around ``run``. The
config is checked by ``plan`` before anything is read or compiled.

The loop runs the library's data-parallel driver, ``parallel.make_pmap_train_loop``,
over all devices of all processes (one device and one process are fine).
Device d holds shard d of the training set and the replicated state
(``datasets.Shards``), draws its m/D examples of every minibatch on device
(``datasets.make_minibatch_sampler``), and ``steps_per_call`` iterations run in
one compiled ``lax.scan``, after which every iteration's losses and the
parameters are checked for NaN/Inf on device. Between calls the loop logs,
saves sample pictures and checkpoints, and stops cleanly on SIGTERM; it
resumes from the latest checkpoint in ``workdir``. In a multi-process run
(``distributed.initialize`` first) every process runs ``run`` with the same
config and workdir; process 0 alone writes logs, pictures and summaries.
"""

import dataclasses
import json
import math
import pathlib
import time
from collections.abc import Callable
from typing import TextIO

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from gan_jax import parallel, train
from gan_jax.data import datasets
from gan_jax.evaluation import measures, viz
from gan_jax.training import checkpoint, construction, distributed, files, plan, preemption, run_log
from gan_jax.configs import base


class TrainingDiverged(RuntimeError):
  """A loss or a parameter became NaN or infinite; nothing from that chunk was checkpointed."""


class WorkdirInUse(plan.ConfigError):
  """Another process (pid ``holder``) is training in ``workdir`` (``claim_workdir``); nothing was touched."""

  def __init__(self, workdir: pathlib.Path, holder: str):
    super().__init__(f'--workdir={workdir} is in use: process {holder} is training there; wait for it to end '
                     'or stop it (SIGTERM checkpoints), or use another --workdir')
    self.workdir, self.holder = workdir, holder


def samples_picture(samples: np.ndarray, dataset: datasets.Dataset) -> np.ndarray:
  """A picture of generator samples: a grid of images, or a plot of toy samples over data."""
  if dataset.is_image:
    return viz.image_grid(samples, dataset.example_shape, columns=math.ceil(math.sqrt(len(samples))))
  shown_data = dataset.train[:len(samples)]
  if dataset.dim == 1:
    low, high = float(shown_data.min()), float(shown_data.max())
    margin = 0.5 * (high - low)
    return viz.histogram_image(samples, shown_data, low - margin, high + margin)
  return viz.scatter_image(samples, shown_data, extent=1.25 * float(np.abs(shown_data).max()))


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


# ---------------------------------------------------------------- the loop

def check_resume_compatible(config, workdir: pathlib.Path) -> None:
  """Raises ConfigError if ``workdir`` holds a run whose run-defining fields differ from ``config``'s."""
  saved_path = workdir / 'config.json'
  if not saved_path.exists():
    return
  saved = base.from_saved(json.loads(saved_path.read_text()))
  for name in plan.RUN_DEFINING_FIELDS:
    if saved[name] != config[name]:
      raise plan.ConfigError(
          f'config.{name}={config[name]!r} differs from {saved[name]!r} of the run in {workdir}; '
          f'resume with the same value or use a new --workdir')


def note_device_count(workdir: pathlib.Path, num_devices: int, print_fn) -> None:
  """Records the device count; warns when a resumed run has another (its data order changes)."""
  path = workdir / 'devices.json'
  if path.exists():
    before = json.loads(path.read_text())['num_devices']
    if before != num_devices:
      print_fn(f'note: this run used {before} devices and now has {num_devices}; its data order from here on '
               f'differs from an uninterrupted run on {before} (see gan_jax/data/datasets.py)')
  files.write_text_atomically(path, json.dumps({'num_devices': num_devices}) + '\n')


def save_config(config, workdir: pathlib.Path) -> None:
  """Writes ``config`` to ``workdir``/config.json (atomically)."""
  files.write_text_atomically(workdir / 'config.json', json.dumps(config.to_dict(), indent=2, default=list) + '\n')


def print_now(line: str) -> None:
  """Prints ``line`` and flushes."""
  print(line, flush=True)  # console lines must show up at once in a redirected log too


def divergence(metrics_finite: dict[str, np.ndarray], params_finite: dict[str, bool], first_step: int) -> str | None:
  """Where a chunk went non-finite ('at step 22: d_loss, g_loss'), or None if it did not.

  ``metrics_finite``: per metric, [num_steps] bools; ``params_finite``: per
  player, after the chunk. A non-finite parameter shows in the next
  iteration's losses, so the first bad metric dates it; bad parameters with
  finite losses went bad in the chunk's last iteration.
  """
  table = np.stack(list(metrics_finite.values()))  # [num_metrics, num_steps]
  bad_params = [name for name, ok in params_finite.items() if not ok]
  bad_steps = np.flatnonzero(~table.all(axis=0))
  if bad_steps.size:
    names = [name for name, ok in zip(metrics_finite, table[:, bad_steps[0]]) if not ok]
    return f'at step {first_step + bad_steps[0] + 1}: {", ".join(names + bad_params)} became NaN or Inf'
  if bad_params:
    return f'at step {first_step + table.shape[1]}: {", ".join(bad_params)} became NaN or Inf'
  return None


def crossed(before: int, after: int, interval: int) -> bool:
  """True if a multiple of ``interval`` lies in (before, after]: a chunk ending at ``after`` passed one."""
  return after // interval > before // interval


def _ignore(line: str) -> None:
  del line


@dataclasses.dataclass(frozen=True)
class Setup:
  """What the loop starts from: the game, the (restored) state and keys, the data, the checkpoints."""
  gan: train.GAN
  state: train.GANState
  train_key: jax.Array
  data_key: jax.Array
  sample_key: jax.Array
  dataset: datasets.Dataset
  shards: datasets.Shards
  manager: ocp.CheckpointManager
  monitor: measures.ParzenMonitor | None
  best_managers: dict[str, ocp.CheckpointManager]  # 'g_params' / 'g_params_ema' → its best checkpoint
  lock: TextIO | None  # the primary process's ``claim_workdir``

  def close(self) -> None:
    """``_close_run_files`` of this run's checkpoint managers and lock."""
    _close_run_files([self.manager, *self.best_managers.values()], self.lock)


def set_up(config: ml_collections.ConfigDict, workdir: pathlib.Path, print_fn: Callable[[str], None]) -> Setup:
  """Validates, loads this process's data, builds the game, claims ``workdir`` (``claim_workdir``) and restores
  the latest checkpoint. The caller closes the Setup (``Setup.close``); if this raises, nothing stays open."""
  num_devices = jax.device_count()
  plan.validate(config, num_devices)
  train_key, data_key, sample_key = jax.random.split(jax.random.key(config.seed), 3)
  shards = datasets.Shards(distributed.first_local_shard(), jax.local_device_count(), num_devices)
  dataset = datasets.load(config.dataset, data_key, datasets.source_options(config), shards)
  plan.check_against_data(config, dataset, shards)
  check_resume_compatible(config, workdir)
  pixel_means = global_pixel_means(dataset) if dataset.is_image else None
  gan, state = construction.build(config, dataset, shards, pixel_means)
  memory_bytes = int(config.device_memory_mib * 2**20) or datasets.device_memory_bytes(jax.local_devices()[0])
  datasets.check_fits_on_device(dataset, shards, _device_bytes_besides_data(config, state, dataset.dim), memory_bytes)
  if config.eval_every_steps:
    validation_images = datasets.load_validation(config.dataset, data_key, datasets.source_options(config),
                                             config.eval_num_validation)
    if not validation_images.shape[0]:
      raise plan.ConfigError(f'config.eval_every_steps={config.eval_every_steps}: dataset={config.dataset!r} '
                                   'has no validation examples for the monitor; use 0, or a larger dataset')

  if distributed.is_primary():
    workdir.mkdir(parents=True, exist_ok=True)
  distributed.barrier('workdir')
  lock, in_use = None, None
  if distributed.is_primary():
    try:
      lock = claim_workdir(workdir)
    except WorkdirInUse as error:
      in_use = error
  if distributed.any_process(in_use is not None):  # every process stops, not only process 0 (which claims)
    raise in_use or WorkdirInUse(workdir, 'unknown')
  manager, monitor, best_managers = None, None, {}
  try:
    manager = checkpoint.make_manager(workdir / 'checkpoints', config.keep_checkpoints)
    restored = checkpoint.restore_latest(manager, state, train_key, data_key, warn=print_fn)
    if restored is not None:
      state, train_key, data_key = restored
      print_fn(f'resumed from step {int(state.step)} of {workdir / "checkpoints"}')
    if distributed.is_primary():
      save_config(config, workdir)
      note_device_count(workdir, num_devices, print_fn)
    if config.eval_every_steps:
      monitor = measures.ParzenMonitor(gan.generator, gan.prior, np.asarray(datasets.to_float(validation_images)),
                                         jax.random.fold_in(sample_key, measures.MONITOR_KEY),
                                         config.eval_num_samples)
      best_managers = {name: checkpoint.make_best_manager(workdir / checkpoint.BEST_DIRECTORIES[name])
                       for name in _generator_params(gan, state)}
  except BaseException:
    _close_run_files([manager, *best_managers.values()], lock)  # the run ends here: nothing of it stays open
    raise
  return Setup(gan, state, train_key, data_key, sample_key, dataset, shards, manager, monitor, best_managers, lock)


RUN_LOCK = 'train.lock'  # in a workdir: held by the process training there (its pid inside)


def claim_workdir(workdir: pathlib.Path) -> TextIO:
  """The lock on ``workdir``/``RUN_LOCK`` for this process; WorkdirInUse naming the holder if another process
  trains there (two runs in one workdir would delete and overwrite each other's checkpoints)."""
  lock = files.lock_exclusively(workdir / RUN_LOCK)
  if lock is None:
    holder = (workdir / RUN_LOCK).read_text(encoding='utf-8').strip() or 'unknown'
    raise WorkdirInUse(workdir, holder)
  return lock


def _close_run_files(managers: list[ocp.CheckpointManager | None], lock: TextIO | None) -> None:
  """Closes the checkpoint managers (after their saves in flight are written), then frees the workdir."""
  for manager in managers:
    if manager is not None:
      manager.close()
  if lock is not None:
    lock.close()


def _device_bytes_besides_data(config: ml_collections.ConfigDict, state: train.GANState, dim: int) -> int:
  """An estimate of a device's memory for all but the training set: the state four times over (itself,
  gradients, updates, the donated copy) and, with the monitor, its float32 images, samples and distances."""
  state_bytes = sum(leaf.nbytes for leaf in jax.tree.leaves(state) if hasattr(leaf, 'nbytes'))
  monitor_bytes = 0
  if config.eval_every_steps:
    monitor_bytes = 4 * (dim * (config.eval_num_validation + config.eval_num_samples)
                         + config.eval_num_validation * config.eval_num_samples)
  return 4 * state_bytes + monitor_bytes


# Where each generator's sample pictures go: the raw generator's and its weight average's.
PICTURE_DIRS = {'g_params': 'samples', 'g_params_ema': 'samples_ema'}


def _generator_params(gan: train.GAN, state: train.GANState) -> dict[str, train.Params]:
  """The generators a state holds, as ``gan.generator`` takes them: {'g_params': …} and, with a weight
  average, {'g_params_ema': …} (each with G's state, for a generator with state)."""
  kept = {'g_params': state.g_params, 'g_params_ema': state.g_params_ema}
  return {name: train.generator_variables(gan, params, state.g_state)
          for name, params in kept.items() if params is not None}


def _evaluate(setup: Setup, state: train.GANState, print_fn: Callable[[str], None]) -> dict[str, float]:
  """The monitor's estimate for each generator of ``state``; a new best is checkpointed.

  Returns ``validation_ll``, ``validation_sigma`` and ``best_validation_ll``
  (suffixed ``_ema`` for the weight average; the score of the best checkpoint
  kept). Only validation data is used. A better score at a step below the
  kept best's (a resume that does not retrace the run bit for bit, e.g. on
  other devices) cannot be checkpointed: a note says so.
  """
  scores = {}
  for name, g_params in _generator_params(setup.gan, state).items():
    suffix = name.removeprefix('g_params')
    result = setup.monitor(g_params)
    manager = setup.best_managers[name]
    best = checkpoint.best_value(manager)
    if best is None or result['validation_ll'] > best:  # a resumed rerun of a step scores the same: no save
      if checkpoint.save(manager, state, setup.train_key, setup.data_key,
                         {checkpoint.BEST_METRIC: result['validation_ll']}):
        best = result['validation_ll']
      else:
        print_fn(f'note: step {int(state.step)} scores {result["validation_ll"]:.2f} nats ({name}), above the best '
                 f'checkpoint\'s {best:.2f}, but that is of step {manager.best_step()}, not below this one, written '
                 f'before this run resumed; orbax writes steps in increasing order, so {manager.directory} keeps it')
    scores.update({f'validation_ll{suffix}': result['validation_ll'],
                   f'validation_sigma{suffix}': result['validation_sigma'], f'best_validation_ll{suffix}': best})
  return scores


def _device_shards(dataset: datasets.Dataset, devices) -> jax.Array:
  """This process's training examples as [n_local_devices, n div D, dim], row d on ``devices[d]``."""
  shard_size = dataset.train.shape[0] // len(devices)
  stacked = dataset.train[:shard_size * len(devices)].reshape(len(devices), shard_size, -1)
  return parallel.put_shards(stacked, devices)


def run(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
        print_fn: Callable[[str], None] = print_now) -> dict:
  """Trains per ``config`` in ``workdir``, resuming from its latest checkpoint; returns a summary.

  Raises ConfigError / datasets.DataError / checkpoint.CheckpointError before any
  compute for bad input, TrainingDiverged (after no checkpoint of the bad
  chunk) if a loss or parameter stops being finite. On SIGTERM it finishes
  the running chunk, checkpoints it and returns a summary with
  ``'stopped': 'SIGTERM'`` (unless that chunk was the last: then the run
  ends as if no signal had come). The summary holds the final step and the
  last chunk's mean metrics, plus the mean and std of 10,000 samples for 1-D data;
  a run already trained to ``config.num_steps`` returns (and keeps) the
  summary.json of the call that trained it.
  Only process 0 prints and writes logs; every process returns the summary.
  While it runs, it holds ``workdir`` (``claim_workdir``): a second process
  that would train there gets WorkdirInUse (a ConfigError) before it touches
  anything.
  """
  print_fn = print_fn if distributed.is_primary() else _ignore
  workdir = pathlib.Path(workdir)
  setup = set_up(config, workdir, print_fn)
  try:
    return _train(config, workdir, setup, print_fn)
  finally:
    setup.close()


def _saved_summary(workdir: pathlib.Path, step: int) -> dict | None:
  """The summary.json in ``workdir`` if it is of ``step``, else None (none written, or of another step)."""
  try:
    saved = json.loads((workdir / 'summary.json').read_text())
  except (FileNotFoundError, json.JSONDecodeError):
    return None
  return saved if saved.get('step') == step else None


def _train(config: ml_collections.ConfigDict, workdir: pathlib.Path, setup: Setup,
           print_fn: Callable[[str], None]) -> dict:
  """``run``'s loop from ``setup``: trains, checkpoints and logs to ``config.num_steps`` or SIGTERM."""
  primary = distributed.is_primary()
  gan, dataset, manager = setup.gan, setup.dataset, setup.manager
  minibatches_per_epoch = datasets.minibatches_per_epoch(dataset, setup.shards, config.batch_size)
  shard_batch_size = config.batch_size // jax.device_count()
  train_loop = parallel.make_pmap_train_loop(
      gan, datasets.make_minibatch_sampler(setup.data_key, config.d_steps, shard_batch_size))
  replicated_state = parallel.replicate(setup.state, jax.local_devices())
  local_shards = _device_shards(dataset, jax.local_devices())
  shown_noise = gan.prior.sample(setup.sample_key, config.num_shown_samples)
  generate = jax.jit(gan.generator)
  first_step = step = int(setup.state.step)
  log = run_log.RunLog(workdir, start_step=step) if primary else run_log.NoLog()
  run_start = time.perf_counter()
  last_console_step, last_console_time = step, run_start
  summary = {'step': step}
  try:
    with preemption.StopRequests() as stop:
      while step < config.num_steps:
        num_steps = min(config.steps_per_call - step % config.steps_per_call, config.num_steps - step)
        chunk_start = time.perf_counter()
        replicated_state, metrics, finite = train_loop(replicated_state, local_shards, setup.train_key, step,
                                                       num_steps)
        finite = jax.device_get(finite)
        state_checks = {name: bool(finite[name]) for name in train.STATE_CHECKS if name in finite}
        problem = divergence({name: finite[name] for name in metrics}, state_checks, step)
        if problem:
          last = manager.latest_step()
          kept = 'no checkpoint was written' if last is None else f'the last checkpoint is step {last}'
          raise TrainingDiverged(f'training diverged {problem}; nothing of steps {step + 1}..{step + num_steps} '
                                 f'was checkpointed, {kept} in {manager.directory}')
        step += num_steps
        means = {name: float(np.mean(values)) for name, values in metrics.items()}
        now = time.perf_counter()
        epoch = step * config.d_steps / minibatches_per_epoch
        summary = {'step': step, 'epoch': epoch, **means, 'it_per_s': num_steps / (now - chunk_start)}
        if setup.monitor and crossed(step - num_steps, step, config.eval_every_steps):
          eval_start = time.perf_counter()
          scores = _evaluate(setup, parallel.unreplicate(replicated_state), print_fn)
          summary.update(scores, eval_seconds=time.perf_counter() - eval_start)
          print_fn(run_log.evaluation_line(step, epoch, scores))
        log.scalars(step, {k: v for k, v in summary.items() if k != 'step'},
                    wall_time=time.perf_counter() - run_start)
        if now - last_console_time >= config.log_every_seconds or step == config.num_steps:
          window_rate = (step - last_console_step) / (now - last_console_time)
          print_fn(run_log.console_line(step, config.num_steps, epoch, means, window_rate))
          last_console_step, last_console_time = step, now
        if primary and (step % config.sample_every_steps == 0 or step == config.num_steps):
          for name, g_variables in _generator_params(gan, parallel.unreplicate(replicated_state)).items():
            log.picture(step, samples_picture(np.asarray(generate(g_variables, shown_noise)), dataset),
                        PICTURE_DIRS[name])
        stopping = distributed.any_process(stop.requested)
        if stopping or step % config.checkpoint_every_steps == 0 or step == config.num_steps:
          checkpoint.save(manager, parallel.unreplicate(replicated_state), setup.train_key, setup.data_key)
        if stopping and step < config.num_steps:  # (a stop in the last chunk ends the run as finished)
          print_fn(f'SIGTERM: stopped at step {step} with a checkpoint in {manager.directory}; '
                   f'run the same command to resume')
          return {**summary, 'stopped': 'SIGTERM'}
  finally:
    for each_manager in (manager, *setup.best_managers.values()):
      each_manager.wait_until_finished()
    log.close()
  if step == first_step:  # trained to the end before this call: keep that call's summary
    saved = _saved_summary(workdir, step)
    if saved is not None:
      return saved
  if dataset.dim == 1:
    g_variables = _generator_params(gan, parallel.unreplicate(replicated_state))['g_params']
    samples = np.asarray(train.sample(gan, g_variables, jax.random.fold_in(setup.sample_key, 1), 10_000))
    summary.update(sample_mean=float(samples.mean()), sample_std=float(samples.std()))
  if primary:
    files.write_text_atomically(workdir / 'summary.json', json.dumps(summary, indent=2) + '\n')
  return summary
