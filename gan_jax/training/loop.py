"""The training loop: one run, or S seeds of one config trained together, each in its own run directory.

``experiments.train`` runs one seed (``run``); ``experiments.sweep`` runs S
seeds, one by one (``run`` per seed) or together (``train_seeds``): it is
the same loop, and every seed gets what a run gets (the validation monitor,
best checkpoints, the weight average and its pictures, summary.json,
SIGTERM, the NaN guard, several processes). The config is read once, by
``plan``, into a ``RunPlan``; below that, nothing sees the config.

The loop runs the library's data-parallel driver over all devices of all
processes (one device and one process are fine). Device d holds shard d of
the training set and the replicated state (``datasets.Shards``), draws its
m/D examples of every minibatch on device
(``datasets.make_minibatch_sampler``), and ``steps_per_call`` iterations run
in one compiled ``lax.scan``, after which every iteration's losses and the
parameters are checked for NaN/Inf on device. One seed runs
``parallel.make_pmap_train_loop``; S > 1 seeds run
``parallel.make_pmap_seeds_train_loop``, the same chunk ``vmap``-ped over a
seed axis (on an accelerator S small runs cost about one). Between calls the
loop logs, saves sample pictures and checkpoints, and stops cleanly on
SIGTERM; it resumes from the latest checkpoint of each run directory. In a
multi-process run (``distributed.initialize`` first) every process runs the
loop with the same config and directories; process 0 alone writes logs,
pictures and summaries.
"""

import dataclasses
import json
import math
import time
import types
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax import parallel
from gan_jax.data import datasets
from gan_jax.evaluation import viz
from gan_jax.training import checkpoint, distributed, files, plan, preemption, run_log, rundir, seed_runs

ONE_D_SUMMARY_SAMPLES = 10_000  # a 1-D run's summary: the mean and std of this many samples


class TrainingDiverged(RuntimeError):
  """A loss or a parameter became NaN or infinite; nothing from that chunk was checkpointed."""


def samples_picture(samples: np.ndarray, dataset: datasets.Dataset, columns: int | None = None) -> np.ndarray:
  """A picture of generator samples: a grid of images (``columns`` wide, default: square), or a plot of toy
  samples over data."""
  if dataset.is_image:
    return viz.image_grid(samples, dataset.example_shape, columns=columns or math.ceil(math.sqrt(len(samples))))
  shown_data = dataset.train[:len(samples)]
  if dataset.dim == 1:
    low, high = float(shown_data.min()), float(shown_data.max())
    margin = 0.5 * (high - low)
    return viz.histogram_image(samples, shown_data, low - margin, high + margin)
  return viz.scatter_image(samples, shown_data, extent=1.25 * float(np.abs(shown_data).max()))


def shown_noise(prior, key: jax.Array, num_shown: int) -> tuple[jax.Array, int | None]:
  """The generator inputs of a run's sample pictures, and the pictures' columns (None: square): ``num_shown``
  draws of ``prior``; for a conditional G (``prior.num_classes`` C > 0) one row per class and num_shown div C
  columns (at least 1), each column one z (``priors.NoisePrior.class_rows``)."""
  if not prior.num_classes:
    return prior.sample(key, num_shown), None
  columns = max(1, num_shown // prior.num_classes)
  return prior.class_rows(key, columns), columns


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


# ---------------------------------------------------------------- the compiled chunks

@dataclasses.dataclass(frozen=True)
class _Chunks:
  """The seeds' compiled chunk, and what the host sees of it seed by seed.

  ``advance(states, first_step, num_steps) -> (states, metrics, finite)``:
  ``states`` as the driver holds them; ``metrics`` a list with, for each
  seed, [num_steps] per name (on device for one seed, as before seeds shared
  the loop, so its logged means are unchanged; on the host for several);
  ``finite`` a list with, for each
  seed, [num_steps] bools per metric and one per player (on the host).
  ``unstack(states)``: each seed's state, this process's copy.
  """
  states: parallel.State
  advance: Callable
  unstack: Callable[[parallel.State], list[parallel.State]]


def _device_shards(dataset: datasets.Dataset, devices, num_classes: int) -> np.ndarray:
  """This process's training examples as [n_local_devices, n div D, dim], row d for ``devices[d]``; for a
  conditional game (``num_classes`` C > 0) with their labels joined one-hot, [.., dim + C]."""
  shard_size = dataset.train.shape[0] // len(devices)
  examples = dataset.train[:shard_size * len(devices)]
  if num_classes:
    examples = datasets.join_labels(examples, dataset.train_labels[:shard_size * len(devices)], num_classes)
  return examples.reshape(len(devices), shard_size, -1)


def _one_seed_chunks(gan: parallel.Model, seed_run: seed_runs.SeedRun, d_steps: int,
                     shard_batch_size: int) -> _Chunks:
  """One seed: ``make_pmap_train_loop`` as it is (a single run computes what it did before seeds shared the loop)."""
  devices = jax.local_devices()
  shards = _device_shards(seed_run.dataset, devices, gan.prior.num_classes)
  sampler = datasets.make_minibatch_sampler(seed_run.keys.data, d_steps, shard_batch_size)
  train_loop = parallel.make_pmap_train_loop(gan, sampler)
  local_shards = parallel.put_shards(shards, devices)

  def advance(state, first_step: int, num_steps: int):
    state, metrics, finite = train_loop(state, local_shards, seed_run.keys.train, first_step, num_steps)
    return state, [metrics], [jax.device_get(finite)]

  return _Chunks(parallel.replicate(seed_run.state, devices), advance,
                 lambda state: [parallel.unreplicate(state)])


def _stack(trees):
  """Trees of one structure → one tree whose leaves have a new leading axis [S, ...]."""
  return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def _unstack_seeds(tree, num_seeds: int) -> list:
  """A tree whose leaves are [S, ...] → S trees, one per seed."""
  return [jax.tree.map(lambda leaf, i=i: leaf[i], tree) for i in range(num_seeds)]


def _seeds_chunks(gan: parallel.Model, runs: Sequence[seed_runs.SeedRun], d_steps: int,
                  shard_batch_size: int) -> _Chunks:
  """S > 1 seeds: ``make_pmap_seeds_train_loop``, the chunk vmapped over a seed axis inside the pmap."""
  devices = jax.local_devices()
  shards = np.stack([_device_shards(seed_run.dataset, devices, gan.prior.num_classes) for seed_run in runs], axis=1)
  sampler = datasets.make_keyed_minibatch_sampler(d_steps, shard_batch_size)
  seeds_loop = parallel.make_pmap_seeds_train_loop(gan, sampler)
  data_keys = jnp.stack([jnp.stack([seed_run.keys.data] * len(devices)) for seed_run in runs], axis=1)
  device_data = (parallel.put_shards(data_keys, devices), parallel.put_shards(shards, devices))
  train_keys = _stack([seed_run.keys.train for seed_run in runs])

  def advance(states, first_step: int, num_steps: int):
    states, metrics, finite = seeds_loop(states, device_data, train_keys, first_step, num_steps)
    metrics, finite = jax.device_get((metrics, finite))  # one transfer a chunk for all seeds
    return states, _unstack_seeds(metrics, len(runs)), _unstack_seeds(finite, len(runs))

  return _Chunks(parallel.replicate(_stack([seed_run.state for seed_run in runs]), devices), advance,
                 lambda states: _unstack_seeds(parallel.unreplicate(states), len(runs)))


def _common_step(runs: Sequence[seed_runs.SeedRun]) -> int:
  """The step every seed is at; ConfigError if they differ (seeds train together only from one step)."""
  steps = {seed_run.seed: int(seed_run.state.step) for seed_run in runs}
  if len(set(steps.values())) != 1:
    raise plan.ConfigError(f'the seeds are at different steps {steps}; seeds train together only from one step: '
                           f'run experiments.sweep without --together to continue them one by one')
  return next(iter(steps.values()))


# ---------------------------------------------------------------- the loop

# Called with a seed's run and its state each time that state is checkpointed (e.g. to score it).
OnCheckpoint = Callable[[seed_runs.SeedRun, parallel.Model, parallel.State], None]


def _evaluate(algorithm: types.ModuleType, gan: parallel.Model, seed_run: seed_runs.SeedRun, state: parallel.State,
              evaluation: plan.EvaluationSpec, print_fn: Callable[[str], None]) -> dict[str, float]:
  """The monitor's scores for each generator of ``state`` (``algorithm``: ``Setup.algorithm``); a new best is
  checkpointed.

  Returns the monitor's scores (``validation_ll``, ``validation_sigma``, and
  with a classifier ``validation_frechet_distance`` and the rest) and
  ``best_validation_ll``, the Parzen estimate of the best checkpoint kept
  (absent while none is), each suffixed ``_ema`` for the weight average. The
  best is the checkpoint ``evaluation.is_new_best`` ranks best; its scores are
  saved with it. Only validation data is used. A better score at a step below
  the kept best's (a resume that does not retrace the run bit for bit, e.g. on
  other devices) cannot be checkpointed: a note says so.
  """
  scores = {}
  for generator, g_variables in algorithm.generators(gan, state).items():
    suffix = rundir.suffix(generator)
    result = {name: float(score) for name, score in seed_run.monitor(g_variables).items()}
    manager = seed_run.best_managers[generator]
    best = checkpoint.best_scores(manager)
    # A resumed rerun of a step scores the same as before, so it saves nothing.
    if evaluation.is_new_best(result, best):
      if checkpoint.save(manager, state, seed_run.keys.train, seed_run.keys.data, result):
        best = result
      else:
        ranked = evaluation.best_by
        print_fn(f'note: step {int(state.step)} scores {ranked}={result[ranked]:.2f} ({generator}), better than the '
                 f'best checkpoint\'s {best[ranked]:.2f}, but that is of step {manager.best_step()}, not below this '
                 f'one, written before this run resumed; orbax writes steps in increasing order, so '
                 f'{manager.directory} keeps it')
    scores.update({f'{name}{suffix}': value for name, value in result.items()})
    if best is not None:
      scores[f'best_validation_ll{suffix}'] = best['validation_ll']
  return scores


def _saved_summary(directory: rundir.RunDirectory, step: int) -> dict | None:
  """The run's summary.json if it is of ``step``, else None (none written, or of another step)."""
  try:
    saved = json.loads(directory.summary.read_text())
  except (FileNotFoundError, json.JSONDecodeError):
    return None
  return saved if saved.get('step') == step else None


def _raise_if_diverged(runs: Sequence[seed_runs.SeedRun], finite: Sequence[Mapping], metric_names, first_step: int,
                       num_steps: int) -> None:
  """Raises TrainingDiverged for the first seed whose chunk went non-finite (naming it when there are several)."""
  for seed_run, seed_finite in zip(runs, finite):
    state_checks = {name: bool(ok) for name, ok in seed_finite.items() if name not in metric_names}
    problem = divergence({name: seed_finite[name] for name in metric_names}, state_checks, first_step)
    if problem:
      last = seed_run.manager.latest_step()
      kept = 'no checkpoint was written' if last is None else f'the last checkpoint is step {last}'
      which = f'seed {seed_run.seed} ' if len(runs) > 1 else ''
      raise TrainingDiverged(f'training {which}diverged {problem}; nothing of steps {first_step + 1}..'
                             f'{first_step + num_steps} was checkpointed, {kept} in {seed_run.manager.directory}')


def _final_summary(algorithm: types.ModuleType, gan: parallel.Model, seed_run: seed_runs.SeedRun,
                   state: parallel.State, summary: dict) -> dict:
  """``summary`` with, for 1-D data, the mean and std of ``ONE_D_SUMMARY_SAMPLES`` samples of G (``algorithm``:
  ``Setup.algorithm``)."""
  if seed_run.dataset.dim != 1:
    return summary
  samples = np.asarray(algorithm.sample(gan, algorithm.generators(gan, state)['raw'], seed_run.keys.summary_samples,
                                        ONE_D_SUMMARY_SAMPLES))
  return {**summary, 'sample_mean': float(samples.mean()), 'sample_std': float(samples.std())}


def train_runs(setup: seed_runs.Setup, print_fn: Callable[[str], None] = print_now,
               on_checkpoint: OnCheckpoint | None = None) -> list[dict]:
  """The loop over ``setup``'s seeds, from their common step to ``num_steps`` or SIGTERM; a summary per seed.

  Each summary holds the final step, the last chunk's mean metrics (and,
  for 1-D data, the mean and std of ``ONE_D_SUMMARY_SAMPLES`` samples),
  plus ``'stopped': 'SIGTERM'`` if a SIGTERM stopped the run before its
  last chunk (after checkpointing the chunk it was running). A run already
  trained to ``num_steps`` returns (and keeps) the summary.json of the call
  that trained it. Raises TrainingDiverged (nothing of the bad chunk
  checkpointed) if a loss or parameter stops being finite.
  """
  primary = distributed.is_primary()
  gan, algorithm, runs, loop_spec = setup.gan, setup.algorithm, setup.runs, setup.plan.loop
  step = first_step = _common_step(runs)
  d_steps = setup.plan.game.d_steps
  shard_batch_size = setup.plan.data.batch_size // jax.device_count()
  chunks = (_one_seed_chunks(gan, runs[0], d_steps, shard_batch_size) if len(runs) == 1
            else _seeds_chunks(gan, runs, d_steps, shard_batch_size))
  states = chunks.states
  shown = [shown_noise(gan.prior, seed_run.keys.sample, loop_spec.num_shown_samples) for seed_run in runs]
  generate = jax.jit(gan.generator)
  logs = [run_log.RunLog(seed_run.directory, start_step=step) if primary else run_log.NoLog() for seed_run in runs]
  run_start = time.perf_counter()
  last_console_step, last_console_time = step, run_start
  summaries = [{'step': step} for _ in runs]
  try:
    with preemption.StopRequests() as stop:
      while step < loop_spec.num_steps:
        num_steps = min(loop_spec.steps_per_call - step % loop_spec.steps_per_call, loop_spec.num_steps - step)
        chunk_start = time.perf_counter()
        states, metrics, finite = chunks.advance(states, step, num_steps)
        _raise_if_diverged(runs, finite, list(metrics[0]), step, num_steps)
        step += num_steps
        now = time.perf_counter()
        epoch = step * d_steps / loop_spec.minibatches_per_epoch
        it_per_s = num_steps / (now - chunk_start)  # of each seed's run: all S advance together
        evaluating = runs[0].monitor is not None and crossed(step - num_steps, step, setup.plan.evaluation.every_steps)
        picturing = primary and (step % loop_spec.sample_every_steps == 0 or step == loop_spec.num_steps)
        stopping = distributed.any_process(stop.requested)
        saving = stopping or step % loop_spec.checkpoint_every_steps == 0 or step == loop_spec.num_steps
        seed_states = chunks.unstack(states) if evaluating or picturing or saving else None
        for i, (seed_run, log) in enumerate(zip(runs, logs)):
          means = {name: float(jnp.mean(values)) for name, values in metrics[i].items()}
          summaries[i] = {'step': step, 'epoch': epoch, **means, 'it_per_s': it_per_s}
          if evaluating:
            eval_start = time.perf_counter()
            scores = _evaluate(algorithm, gan, seed_run, seed_states[i], setup.plan.evaluation, print_fn)
            summaries[i].update(scores, eval_seconds=time.perf_counter() - eval_start)
            print_fn((f'seed {seed_run.seed}: ' if len(runs) > 1 else '')
                     + run_log.evaluation_line(step, epoch, scores))
          log.scalars(step, {k: v for k, v in summaries[i].items() if k != 'step'},
                      wall_time=time.perf_counter() - run_start)
          if picturing:
            for generator, g_variables in algorithm.generators(gan, seed_states[i]).items():
              noise, columns = shown[i]
              samples = np.asarray(generate(g_variables, noise))
              log.picture(step, samples_picture(samples, seed_run.dataset, columns), generator)
          if saving:
            checkpoint.save(seed_run.manager, seed_states[i], seed_run.keys.train, seed_run.keys.data)
            if on_checkpoint is not None:
              on_checkpoint(seed_run, gan, seed_states[i])
        if now - last_console_time >= loop_spec.log_every_seconds or step == loop_spec.num_steps:
          window_rate = (step - last_console_step) / (now - last_console_time)
          means = {name: float(jnp.mean(jnp.stack([seed_metrics[name] for seed_metrics in metrics])))
                   for name in metrics[0]}
          print_fn(run_log.console_line(step, loop_spec.num_steps, epoch, means, window_rate)
                   + (f'  (mean of {len(runs)} seeds)' if len(runs) > 1 else ''))
          last_console_step, last_console_time = step, now
        if stopping and step < loop_spec.num_steps:  # (a stop in the last chunk ends the run as finished)
          where = runs[0].manager.directory if len(runs) == 1 else 'the directory of every seed'
          print_fn(f'SIGTERM: stopped at step {step} with a checkpoint in {where}; run the same command to resume')
          return [{**summary, 'stopped': 'SIGTERM'} for summary in summaries]
  finally:
    for seed_run in runs:
      for manager in (seed_run.manager, *seed_run.best_managers.values()):
        manager.wait_until_finished()
    for log in logs:
      log.close()
  if step == first_step:  # trained to the end before this call: keep that call's summaries
    saved = [_saved_summary(seed_run.directory, step) for seed_run in runs]
    if all(summary is not None for summary in saved):
      return saved
  final_states = chunks.unstack(states)
  summaries = [_final_summary(algorithm, gan, seed_run, state, summary)
               for seed_run, state, summary in zip(runs, final_states, summaries)]
  if primary:
    for seed_run, summary in zip(runs, summaries):
      files.write_text_atomically(seed_run.directory.summary, json.dumps(summary, indent=2) + '\n')
  return summaries


def train_seeds(config: ml_collections.ConfigDict, seeds: Sequence[int],
                directories: Sequence[rundir.RunDirectory], print_fn: Callable[[str], None] = print_now,
                on_checkpoint: OnCheckpoint | None = None) -> list[dict]:
  """Trains ``config`` for each of ``seeds`` (its ``seed`` field aside), seed i in ``directories[i]``; S > 1 seeds
  in one compiled program. Returns a summary per seed (``train_runs``).

  Raises ConfigError / datasets.DataError / checkpoint.CheckpointError
  before any compute for bad input (a seed given twice, seeds at different
  steps included), and TrainingDiverged as ``train_runs``. While it runs it
  holds every seed's directory (``claim_workdir``): a second process that
  would train there gets WorkdirInUse (a ConfigError) before it touches
  anything. Only process 0 prints and writes logs; every process returns
  the summaries.
  """
  print_fn = print_fn if distributed.is_primary() else _ignore
  setup = seed_runs.set_up(config, directories, seeds, print_fn)
  try:
    return train_runs(setup, print_fn, on_checkpoint)
  finally:
    setup.close()


def run(config: ml_collections.ConfigDict, directory, print_fn: Callable[[str], None] = print_now) -> dict:
  """Trains per ``config`` in the run directory ``directory`` (a path), resuming from its latest checkpoint;
  returns the summary (``train_seeds`` with the config's one seed)."""
  return train_seeds(config, [config.seed], [rundir.RunDirectory(directory)], print_fn)[0]
