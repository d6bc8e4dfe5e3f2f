"""From a config to a trained GAN: construction and the training loop.

``experiments/train.py`` is a thin command-line wrapper around ``run``. The
config is checked by ``validation`` before anything is read or compiled.

The loop always runs the pmap driver over all devices of all processes (one
device and one process are fine). Device d holds shard d of the training set
and the replicated state (``data.Shards``), draws its m/D examples of every
minibatch on device (``data.minibatch_indices``), and ``steps_per_call``
iterations run in one compiled ``lax.scan``, which also checks every
iteration's losses and parameters for NaN/Inf. Between calls the loop logs,
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

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import nnx
from jax import lax

from gan_jax import (checkpoint, data, distributed, evaluation, models, monitoring, optim, parallel, preemption,
                     priors, train, validation, viz)
from gan_jax.configs import base


class TrainingDiverged(RuntimeError):
  """A loss or a parameter became NaN or infinite; nothing from that chunk was checkpointed."""


# ---------------------------------------------------------------- construction

def _learning_rate(config, scale: float, updates_per_decay: int) -> optax.ScalarOrSchedule:
  initial = config.learning_rate * scale
  if config.lr_schedule == 'cosine':
    return optax.cosine_decay_schedule(initial, updates_per_decay, alpha=0.05)
  if config.lr_schedule == 'paper':
    return optim.paper_learning_rate(initial)
  return initial


def _optimizer(config, scale: float, updates_per_iteration: int,
               minibatches_per_epoch: int) -> optax.GradientTransformation:
  learning_rate = _learning_rate(config, scale, config.lr_decay_steps * updates_per_iteration)
  if config.optimizer == 'adam':
    return optim.adam(learning_rate)
  if config.lr_schedule == 'paper':
    # An epoch is n/m minibatches; a player updated u times per iteration of
    # k minibatches makes u·(n/m)/k updates per epoch.
    updates_per_epoch = max(1, minibatches_per_epoch * updates_per_iteration // config.d_steps)
    return optim.sgd_momentum(learning_rate, optim.paper_momentum(updates_per_epoch))
  return optim.sgd_momentum(learning_rate, config.momentum)


def _init_range(value: float) -> float | None:
  return value if value > 0 else None


def _generator(config, dataset: data.Dataset, pixel_means: np.ndarray | None, rngs: nnx.Rngs) -> nnx.Module:
  activations = tuple(config.g_hidden_activations) or None
  if config.g_output == 'deconv':
    return models.DeconvGenerator(config.latent_dim, tuple(config.g_hidden_dims), dataset.example_shape,
                                  hidden_activations=activations, init_range=_init_range(config.g_init_range),
                                  rngs=rngs)
  output_bias = None
  if dataset.is_image and config.g_output_bias_from_data:
    if pixel_means is None:
      pixel_means = dataset.train.mean(axis=0, dtype=np.float64) / 255.0
    output_bias = models.sigmoid_bias_from_marginals(pixel_means)
  return models.MLPGenerator(
      config.latent_dim, tuple(config.g_hidden_dims), dataset.dim, hidden_activations=activations,
      output_activation='sigmoid' if dataset.is_image else 'identity',
      init_range=_init_range(config.g_init_range), output_bias=output_bias, rngs=rngs)


def build(config: ml_collections.ConfigDict, dataset: data.Dataset, shards: data.Shards = data.Shards(),
          pixel_means: np.ndarray | None = None) -> tuple[train.GAN, train.GANState]:
  """The game and its initial state for a validated ``config`` and its dataset.

  Args:
    config: a validated config.
    dataset: the training examples of ``shards`` (all of them by default).
    shards: which shards ``dataset`` holds; the epoch length (for the
      paper's momentum schedule) counts all ``shards.total`` of them.
    pixel_means: [dim] mean pixel values in [0, 1] over the whole training
      set, for ``g_output_bias_from_data``; default: the means over ``dataset``.
  """
  validation.check_model_fits_data(config, dataset)
  rngs = nnx.Rngs(config.seed)
  generator = _generator(config, dataset, pixel_means, rngs)
  if config.model == 'conv_maxout':
    discriminator = models.ConvMaxoutDiscriminator(
        dataset.example_shape, tuple(config.d_conv_channels), tuple(config.d_conv_kernels),
        tuple(config.d_conv_pads), tuple(zip(config.d_pool_shapes, config.d_pool_strides)),
        config.d_conv_pieces, tuple(config.d_hidden_dims), config.maxout_pieces,
        input_keep=config.d_input_keep, hidden_keep=config.d_hidden_keep,
        init_range=_init_range(config.d_init_range), rngs=rngs)
  elif config.model == 'maxout':
    discriminator = models.MaxoutDiscriminator(
        dataset.dim, tuple(config.d_hidden_dims), config.maxout_pieces, input_keep=config.d_input_keep,
        hidden_keep=config.d_hidden_keep, init_range=_init_range(config.d_init_range), rngs=rngs)
  else:
    discriminator = models.MLPDiscriminator(dataset.dim, tuple(config.d_hidden_dims),
                                            init_range=_init_range(config.d_init_range), rngs=rngs)
  g_apply, g_params = models.as_pure_function(generator)
  d_apply, d_params = models.as_pure_function(discriminator)
  minibatches_per_epoch = data.minibatches_per_epoch(dataset, shards, config.batch_size)
  gan = train.GAN(
      g_apply, d_apply, priors.NoisePrior(config.prior, config.latent_dim),
      g_optimizer=_optimizer(config, 1.0, 1, minibatches_per_epoch),
      d_optimizer=_optimizer(config, config.d_learning_rate_scale, config.d_steps, minibatches_per_epoch),
      g_loss=config.g_loss, d_steps=config.d_steps, update_rule=config.update_rule, g_ema_decay=config.g_ema_decay)
  return gan, train.init_state(gan, g_params, d_params)


def make_chunk_fn(gan: train.GAN, config: ml_collections.ConfigDict) -> Callable:
  """pmapped ``(state, shard_data, first_epoch, first_step, data_key, train_key, num_steps)``.

  Runs iterations first_step … first_step + num_steps − 1 in one lax.scan on
  every device of every process. Arguments: the replicated state and this
  process's shards of the training set [n_local_devices, n div D, dim], the
  epoch of iteration first_step, that iteration, the run's data and train
  keys, and the static chunk length (its iterations must lie in two epochs).
  Returns the replicated state; metrics [n_local_devices, num_steps]; and
  finiteness checks: of each metric at every iteration [n_local_devices,
  num_steps], and of each player's parameters after the last one
  [n_local_devices] (``train.finite_checks``; all equal on every device).
  The state is donated.
  """
  gan = parallel.data_parallel(gan)
  k, shard_batch = config.d_steps, config.batch_size // jax.device_count()

  def per_device(state, shard_data, first_epoch, first_step, data_key, train_key, num_steps):
    shard = lax.axis_index(parallel.BATCH_AXIS)
    permutations = data.epoch_permutations(data_key, shard, first_epoch, shard_data.shape[0])

    def iteration(state, step):
      indices_of = lambda b: data.minibatch_indices(permutations, first_epoch, b, shard_batch)
      indices = jax.vmap(indices_of)(step * k + jnp.arange(k))  # [k, m / D]
      state, metrics = train.train_step(gan, state, data.to_float(shard_data[indices]), train_key)
      return state, (metrics, {name: train.all_finite(value) for name, value in metrics.items()})

    state, (metrics, metrics_finite) = lax.scan(iteration, state, first_step + jnp.arange(num_steps))
    return state, metrics, (metrics_finite, train.finite_checks(state, {}))

  return jax.pmap(per_device, axis_name=parallel.BATCH_AXIS, in_axes=(0, 0, None, None, None, None),
                  static_broadcasted_argnums=6, donate_argnums=0)


def samples_picture(samples: np.ndarray, dataset: data.Dataset) -> np.ndarray:
  """A picture of generator samples: a grid of images, or a plot of toy samples over data."""
  if dataset.is_image:
    return viz.image_grid(samples, dataset.example_shape, columns=math.ceil(math.sqrt(len(samples))))
  shown_data = dataset.train[:len(samples)]
  if dataset.dim == 1:
    low, high = float(shown_data.min()), float(shown_data.max())
    margin = 0.5 * (high - low)
    return viz.histogram_image(samples, shown_data, low - margin, high + margin)
  return viz.scatter_image(samples, shown_data, extent=1.25 * float(np.abs(shown_data).max()))


def global_pixel_means(dataset: data.Dataset) -> np.ndarray:
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

def _check_resume_compatible(config, workdir: pathlib.Path) -> None:
  saved_path = workdir / 'config.json'
  if not saved_path.exists():
    return
  saved = json.loads(saved_path.read_text())
  defaults = base.get_config()  # for fields the project added after that run was written
  for name in validation.RUN_DEFINING_FIELDS:
    current = list(config[name]) if isinstance(config[name], (tuple, list)) else config[name]
    default = list(defaults[name]) if isinstance(defaults[name], (tuple, list)) else defaults[name]
    if saved.get(name, default) != current:
      raise validation.ConfigError(
          f'config.{name}={config[name]!r} differs from {saved.get(name)!r} of the run in {workdir}; '
          f'resume with the same value or use a new --workdir')


def _note_device_count(workdir: pathlib.Path, num_devices: int, print_fn) -> None:
  """Records the device count; warns when a resumed run has another (its data order changes)."""
  path = workdir / 'devices.json'
  if path.exists():
    before = json.loads(path.read_text())['num_devices']
    if before != num_devices:
      print_fn(f'note: this run used {before} devices and now has {num_devices}; its data order from here on '
               f'differs from an uninterrupted run on {before} (see gan_jax/data.py)')
  path.write_text(json.dumps({'num_devices': num_devices}) + '\n')


def _save_config(config, workdir: pathlib.Path) -> None:
  (workdir / 'config.json').write_text(json.dumps(config.to_dict(), indent=2, default=list) + '\n')


def _print_now(line: str) -> None:
  print(line, flush=True)  # console lines must show up at once in a redirected log too


def _divergence(metrics_finite: dict[str, np.ndarray], params_finite: dict[str, bool], first_step: int) -> str | None:
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


def _ignore(line: str) -> None:
  del line


@dataclasses.dataclass(frozen=True)
class _Setup:
  """What the loop starts from: the game, the (restored) state and keys, the data, the checkpoints."""
  gan: train.GAN
  state: train.GANState
  train_key: jax.Array
  data_key: jax.Array
  sample_key: jax.Array
  dataset: data.Dataset
  shards: data.Shards
  manager: ocp.CheckpointManager
  monitor: evaluation.ParzenMonitor | None
  best_managers: dict[str, ocp.CheckpointManager]  # 'g_params' / 'g_params_ema' → its best checkpoint


MONITOR_KEY = 2  # fold_in(sample_key, MONITOR_KEY): the monitor's noise, the same that runs.evaluate_run draws
def _set_up(config: ml_collections.ConfigDict, workdir: pathlib.Path, print_fn: Callable[[str], None]) -> _Setup:
  """Validates, loads this process's data, builds the game and restores the latest checkpoint."""
  num_devices = jax.device_count()
  validation.validate(config, num_devices)
  train_key, data_key, sample_key = jax.random.split(jax.random.key(config.seed), 3)
  shards = data.Shards(distributed.first_local_shard(), jax.local_device_count(), num_devices)
  dataset = data.load(config.dataset, data_key, config.data_dir, shards)
  validation.check_against_data(config, dataset, shards)
  validation.check_model_fits_data(config, dataset)
  _check_resume_compatible(config, workdir)
  pixel_means = global_pixel_means(dataset) if dataset.is_image else None
  gan, state = build(config, dataset, shards, pixel_means)

  if distributed.is_primary():
    workdir.mkdir(parents=True, exist_ok=True)
  distributed.barrier('workdir')
  manager = checkpoint.make_manager(workdir / 'checkpoints', config.keep_checkpoints)
  restored = checkpoint.restore_latest(manager, state, train_key, data_key, warn=print_fn)
  if restored is not None:
    state, train_key, data_key = restored
    print_fn(f'resumed from step {int(state.step)} of {workdir / "checkpoints"}')
  if distributed.is_primary():
    _save_config(config, workdir)
    _note_device_count(workdir, num_devices, print_fn)
  monitor, best_managers = None, {}
  if config.eval_every_steps:
    validation_images = data.load_validation(config.dataset, data_key, config.data_dir, config.eval_num_validation)
    monitor = evaluation.ParzenMonitor(gan.generator, gan.prior, np.asarray(data.to_float(validation_images)),
                                       jax.random.fold_in(sample_key, MONITOR_KEY), config.eval_num_samples)
    best_managers = {name: checkpoint.make_best_manager(workdir / BEST_DIRECTORIES[name])
                     for name in _generator_params(state)}
  return _Setup(gan, state, train_key, data_key, sample_key, dataset, shards, manager, monitor, best_managers)


BEST_DIRECTORIES = {'g_params': 'checkpoints_best', 'g_params_ema': 'checkpoints_best_ema'}


def _generator_params(state: train.GANState) -> dict[str, train.Params]:
  """The generators a state holds: {'g_params': …} and, with a weight average, {'g_params_ema': …}."""
  kept = {'g_params': state.g_params, 'g_params_ema': state.g_params_ema}
  return {name: params for name, params in kept.items() if params is not None}


def _evaluate(setup: _Setup, state: train.GANState) -> dict[str, float]:
  """The monitor's estimate for each generator of ``state``; a new best is checkpointed.

  Returns ``validation_ll``, ``validation_sigma`` and ``best_validation_ll``
  (suffixed ``_ema`` for the weight average). Only validation data is used.
  """
  scores = {}
  for name, g_params in _generator_params(state).items():
    suffix = name.removeprefix('g_params')
    result = setup.monitor(g_params)
    manager = setup.best_managers[name]
    best = checkpoint.best_value(manager)
    if best is None or result['validation_ll'] > best:  # a resumed rerun of a step scores the same: no save
      checkpoint.save(manager, state, setup.train_key, setup.data_key,
                      {checkpoint.BEST_METRIC: result['validation_ll']})
      best = result['validation_ll']
    scores.update({f'validation_ll{suffix}': result['validation_ll'],
                   f'validation_sigma{suffix}': result['validation_sigma'], f'best_validation_ll{suffix}': best})
  return scores


def _device_shards(dataset: data.Dataset, devices) -> jax.Array:
  """This process's training examples as [n_local_devices, n div D, dim], row d on ``devices[d]``."""
  shard_size = dataset.train.shape[0] // len(devices)
  stacked = dataset.train[:shard_size * len(devices)].reshape(len(devices), shard_size, -1)
  return parallel.put_shards(stacked, devices)


def run(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
        print_fn: Callable[[str], None] = _print_now) -> dict:
  """Trains per ``config`` in ``workdir``, resuming from its latest checkpoint; returns a summary.

  Raises ConfigError / data.DataError / checkpoint.CheckpointError before any
  compute for bad input, TrainingDiverged (after no checkpoint of the bad
  chunk) if a loss or parameter stops being finite. On SIGTERM it finishes
  the running chunk, checkpoints it and returns a summary with
  ``'stopped': 'SIGTERM'``. The summary holds the final step and the last
  chunk's mean metrics, plus the mean and std of 10,000 samples for 1-D data.
  Only process 0 prints and writes logs; every process returns the summary.
  """
  primary = distributed.is_primary()
  print_fn = print_fn if primary else _ignore
  workdir = pathlib.Path(workdir)
  setup = _set_up(config, workdir, print_fn)
  gan, dataset, manager = setup.gan, setup.dataset, setup.manager
  minibatches_per_epoch = data.minibatches_per_epoch(dataset, setup.shards, config.batch_size)
  chunk_fn = make_chunk_fn(gan, config)
  replicated_state = parallel.replicate(setup.state, jax.local_devices())
  local_shards = _device_shards(dataset, jax.local_devices())
  shown_noise = gan.prior.sample(setup.sample_key, config.num_shown_samples)
  generate = jax.jit(gan.generator)
  step = int(setup.state.step)
  log = monitoring.RunLog(workdir, start_step=step) if primary else monitoring.NoLog()
  run_start = time.perf_counter()
  last_console_step, last_console_time = step, run_start
  summary = {'step': step}
  try:
    with preemption.StopRequests() as stop:
      while step < config.num_steps:
        num_steps = min(config.steps_per_call - step % config.steps_per_call, config.num_steps - step)
        first_epoch = step * config.d_steps // minibatches_per_epoch
        chunk_start = time.perf_counter()
        replicated_state, metrics, (metrics_finite, params_finite) = chunk_fn(
            replicated_state, local_shards, first_epoch, step, setup.data_key, setup.train_key, num_steps)
        problem = _divergence({name: np.asarray(flags[0]) for name, flags in metrics_finite.items()},
                              {name: bool(flags[0]) for name, flags in params_finite.items()}, step)
        if problem:
          last = manager.latest_step()
          kept = 'no checkpoint was written' if last is None else f'the last checkpoint is step {last}'
          raise TrainingDiverged(f'training diverged {problem}; nothing of steps {step + 1}..{step + num_steps} '
                                 f'was checkpointed, {kept} in {manager.directory}')
        step += num_steps
        means = {name: float(np.mean(values[0])) for name, values in metrics.items()}
        now = time.perf_counter()
        epoch = step * config.d_steps / minibatches_per_epoch
        summary = {'step': step, 'epoch': epoch, **means, 'it_per_s': num_steps / (now - chunk_start)}
        if setup.monitor and (step % config.eval_every_steps == 0 or step == config.num_steps):
          eval_start = time.perf_counter()
          scores = _evaluate(setup, parallel.unreplicate(replicated_state))
          summary.update(scores, eval_seconds=time.perf_counter() - eval_start)
          print_fn(monitoring.evaluation_line(step, epoch, scores))
        log.scalars(step, {k: v for k, v in summary.items() if k != 'step'},
                    wall_time=time.perf_counter() - run_start)
        if now - last_console_time >= config.log_every_seconds or step == config.num_steps:
          window_rate = (step - last_console_step) / (now - last_console_time)
          print_fn(monitoring.console_line(step, config.num_steps, epoch, means, window_rate))
          last_console_step, last_console_time = step, now
        if primary and (step % config.sample_every_steps == 0 or step == config.num_steps):
          g_params = parallel.unreplicate(replicated_state.g_params)
          log.picture(step, samples_picture(np.asarray(generate(g_params, shown_noise)), dataset))
        stopping = distributed.any_process(stop.requested)
        if stopping or step % config.checkpoint_every_steps == 0 or step == config.num_steps:
          checkpoint.save(manager, parallel.unreplicate(replicated_state), setup.train_key, setup.data_key)
        if stopping:
          print_fn(f'SIGTERM: stopped at step {step} with a checkpoint in {manager.directory}; '
                   f'run the same command to resume')
          return {**summary, 'stopped': 'SIGTERM'}
  finally:
    for each_manager in (manager, *setup.best_managers.values()):
      each_manager.wait_until_finished()
    log.close()
  if dataset.dim == 1:
    g_params = parallel.unreplicate(replicated_state.g_params)
    samples = np.asarray(train.sample(gan, g_params, jax.random.fold_in(setup.sample_key, 1), 10_000))
    summary.update(sample_mean=float(samples.mean()), sample_std=float(samples.std()))
  if primary:
    (workdir / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
  return summary
