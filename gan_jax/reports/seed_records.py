"""Seeds of one toy-mixture config: their workdirs, their mode-coverage records, and training them together.

A sweep directory holds one run per seed, ``DIR/seed_i``, each an ordinary
workdir of ``loop.run`` (config.json, checkpoints/, metrics.jsonl,
samples): ``experiments.evaluate`` reads any of them, and a seed can be
continued by either driver.

* One by one (``experiments.sweep``): ``loop.run`` per seed, then every
  kept checkpoint is scored (``stored_runs.evaluate_run``).
* Together (``experiments.sweep --together``, ``train_together``): the S runs
  start from the same step and train in one compiled program,
  ``parallel.make_pmap_seeds_train_loop`` (the chunk ``vmap``-ped over a seed
  axis inside the pmap); at every checkpoint each seed is saved and scored in
  memory (``mode_record``, the same samples and metrics as
  ``stored_runs.evaluate_run``). On an accelerator S small runs then cost about
  as much as one; on a CPU the step is compute-bound and it saves nothing.

A record is ``{'seed', 'step', 'modes_covered', 'high_quality_frac',
'reverse_kl'}`` of one generator of the checkpoint: the one trained
(``params='raw'``) or, for runs with ``g_ema_decay`` > 0, the average of
its weights (``params='ema'``); ``measures.mode_metrics_over_seeds``
makes the table. The records of a sweep are one JSON line each in a file
that the processes of the sweep share (``merge_records``).
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
import orbax.checkpoint as ocp

from gan_jax import parallel, train
from gan_jax.data import datasets
from gan_jax.evaluation import measures
from gan_jax.reports import stored_runs
from gan_jax.training import checkpoint, files, loop, plan, preemption, run_log

RECORDS_LOCK = 'records.lock'  # beside the records: the sweep's processes take turns at updating them


def seed_config(config: ml_collections.ConfigDict, seed: int) -> ml_collections.ConfigDict:
  """``config`` for one seed, keeping every checkpoint (for the curves).

  Every one, not the number of ``checkpoint_every_steps`` in the run: each
  SIGTERM adds a checkpoint between them, which would push the earliest out.
  """
  seeded = config.copy_and_resolve_references()
  seeded.seed = seed
  seeded.keep_checkpoints = 0
  return seeded


def seed_workdir(sweep_dir: pathlib.Path, seed: int) -> pathlib.Path:
  return sweep_dir / f'seed_{seed}'


def mode_record(gan: train.GAN, state: train.GANState, sample_key: jax.Array, dataset: str, seed: int,
                params: str = 'raw') -> dict:
  """The record of one seed's state: ``stored_runs.evaluate_run``'s mode metrics (the same samples of its evaluation noise).

  ``params``: which generator of the state, 'raw' or 'ema' (``stored_runs.PARAMS``).
  """
  samples = train.sample(gan, stored_runs.generator_params(gan, state, params),
                         jax.random.fold_in(sample_key, measures.MONITOR_KEY), stored_runs.TOY_EVAL_SAMPLES)
  metrics = measures.mode_metrics(np.asarray(samples), *datasets.mixture_modes(dataset))
  return {'seed': seed, 'step': int(state.step), **{name: metrics[name] for name in measures.MODE_METRICS}}


def read_records(path: pathlib.Path) -> list[dict]:
  """The records in ``path`` (JSON lines; none if absent); a reverse KL written as null (no high-quality
  samples, so infinite: ``files.to_json``) reads as inf again."""
  if not path.exists():
    return []
  records = [json.loads(line) for line in path.read_text().splitlines()]
  return [{**r, 'reverse_kl': math.inf if r['reverse_kl'] is None else r['reverse_kl']} for r in records]


def merge_records(path: pathlib.Path, records: list[dict]) -> None:
  """Writes ``records`` into ``path``, keeping those already there of other (seed, step)s (another
  process's), ordered by seed and step; processes take turns (``RECORDS_LOCK``), so none loses another's."""
  with files.taking_turns(path.parent / RECORDS_LOCK):
    new_keys = {(r['seed'], r['step']) for r in records}
    merged = [r for r in read_records(path) if (r['seed'], r['step']) not in new_keys] + records
    merged.sort(key=lambda r: (r['seed'], r['step']))
    files.write_text_atomically(path, ''.join(files.to_json(r) + '\n' for r in merged))


def checkpoint_steps(workdir: pathlib.Path) -> list[int]:
  """The steps of the finished checkpoints in a run's checkpoints/ directory, ascending."""
  directory = workdir / 'checkpoints'
  return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit()) if directory.is_dir() else []


def score_checkpoints(workdir: pathlib.Path, seed: int, done: dict[int, dict], params: str = 'raw') -> list[dict]:
  """The records of every checkpoint of one seed's run for the generator ``params`` names ('raw' or 'ema').

  Those in ``done`` (step → record) are not scored again; ``done`` gains the new ones.
  """
  records = []
  for step in checkpoint_steps(workdir):
    if step not in done:
      metrics, _ = stored_runs.evaluate_run(workdir, which=str(step), params=params)
      done[step] = {'seed': seed, 'step': step, **{name: metrics[name] for name in measures.MODE_METRICS}}
    records.append(done[step])
  return records


def score_seeds(sweep_dir: pathlib.Path, seeds: list[int], known: list[dict], params: str = 'raw') -> list[dict]:
  """The records of every checkpoint of each seed's run in ``sweep_dir``, by (seed, step); ``known`` ones are kept.

  A finished sweep scored for the other generator (``params``) trains nothing:
  its checkpoints are scored here.
  """
  records = []
  for seed in seeds:
    done = {r['step']: r for r in known if r['seed'] == seed}
    records += score_checkpoints(seed_workdir(sweep_dir, seed), seed, done, params)
  return records


# ---------------------------------------------------------------- together

@dataclasses.dataclass(frozen=True)
class _Seed:
  """One seed's run as ``loop.run`` would set it up: its (restored) state, keys, data and files."""
  seed: int
  workdir: pathlib.Path
  state: train.GANState
  train_key: jax.Array
  data_key: jax.Array
  sample_key: jax.Array
  dataset: datasets.Dataset
  manager: ocp.CheckpointManager
  close: Callable[[], None]  # its ``loop.Setup.close``: the managers closed, the workdir freed


def _set_up_seed(config: ml_collections.ConfigDict, workdir: pathlib.Path,
                 print_fn: Callable[[str], None]) -> tuple[train.GAN, _Seed]:
  """``loop.set_up`` for one seed: validated, its training set drawn, its game built, its checkpoint restored."""
  setup = loop.set_up(config, workdir, print_fn)
  return setup.gan, _Seed(config.seed, workdir, setup.state, setup.train_key, setup.data_key, setup.sample_key,
                          setup.dataset, setup.manager, setup.close)


def _stack(trees):
  """Trees of one structure → one tree whose leaves have a new leading axis [S, ...]."""
  return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def _seed_data(seed_runs: list[_Seed], devices) -> tuple[jax.Array, jax.Array]:
  """(data keys, training shards) laid out for ``make_pmap_seeds_train_loop``: [n_dev, S] and [n_dev, S, n div D, dim]."""
  n = len(devices)
  shard_size = seed_runs[0].dataset.train.shape[0] // n
  shards = np.stack([r.dataset.train[:shard_size * n].reshape(n, shard_size, -1) for r in seed_runs], axis=1)
  keys = jnp.stack([jnp.stack([r.data_key] * n) for r in seed_runs], axis=1)
  return parallel.put_shards(keys, devices), parallel.put_shards(shards, devices)


def _unstack(tree, num_seeds: int) -> list:
  """A tree whose leaves are [S, ...] → S trees, one per seed."""
  return [jax.tree.map(lambda leaf, i=i: leaf[i], tree) for i in range(num_seeds)]


def _raise_if_diverged(seed_runs: list[_Seed], finite: dict, metric_names: list[str], first_step: int,
                       num_steps: int) -> None:
  """Raises ``loop.TrainingDiverged`` naming the first seed whose chunk went non-finite.

  ``finite``: the seed loop's checks, [S, num_steps] per metric and [S] per player.
  """
  for i, seed_run in enumerate(seed_runs):
    state_checks = {name: bool(finite[name][i]) for name in train.STATE_CHECKS if name in finite}
    problem = loop.divergence({name: finite[name][i] for name in metric_names}, state_checks, first_step)
    if problem:
      raise loop.TrainingDiverged(f'seed {seed_run.seed} diverged {problem}; nothing of steps '
                                        f'{first_step + 1}..{first_step + num_steps} was checkpointed')


def _save_and_score(gan: train.GAN, seed_run: _Seed, state: train.GANState, params: str) -> dict:
  """Checkpoints one seed's state in its workdir and returns the record of its generator ``params``."""
  checkpoint.save(seed_run.manager, state, seed_run.train_key, seed_run.data_key)
  return mode_record(gan, state, seed_run.sample_key, seed_run.dataset.name, seed_run.seed, params)


def _check_same_step(seed_runs: list[_Seed]) -> int:
  steps = {r.seed: int(r.state.step) for r in seed_runs}
  if len(set(steps.values())) != 1:
    raise plan.ConfigError(f'the seeds are at different steps {steps}; seeds train together only from one '
                                 f'step: run experiments.sweep without --together to continue them one by one')
  return next(iter(steps.values()))


def train_together(config: ml_collections.ConfigDict, seeds: list[int], sweep_dir: pathlib.Path,
                   print_fn: Callable[[str], None] = loop.print_now,
                   params: str = 'raw', records_path: pathlib.Path | None = None) -> tuple[list[dict], bool]:
  """Trains ``config`` for each of ``seeds`` in one compiled program; returns (new records, stopped by SIGTERM).

  Each seed's workdir ``sweep_dir``/seed_i gets what ``loop.run`` writes
  there (checkpoints every ``config.checkpoint_every_steps``, all kept;
  metrics.jsonl with that seed's losses; sample pictures), except the pictures
  of G's average (``samples_ema/``) and summary.json; the records are
  those of the checkpoints written in this call, of the generator ``params``
  names ('raw' or 'ema'), merged into ``records_path`` (``merge_records``) as
  each checkpoint is written if one is given, so that a crash keeps them
  too. Raises ConfigError before any compute for a config
  that is not a toy mixture, a bad config, no seeds or a seed twice, or seeds
  at different steps, and ``loop.TrainingDiverged`` (naming the seed,
  with nothing of that chunk checkpointed) if one goes non-finite.
  Single-process only.
  """
  if config.dataset not in datasets.MIXTURES:
    raise plan.ConfigError(f'config.dataset={config.dataset!r} has no mode metrics; allowed: '
                                 f'{list(datasets.MIXTURES)}')
  if jax.process_count() != 1:
    raise plan.ConfigError('train_together runs in one process; run experiments.sweep without --together')
  if not seeds or len(set(seeds)) != len(seeds):
    raise plan.ConfigError(f'seeds={list(seeds)} must be one or more distinct seeds')
  stored_runs.check_checkpoint_choice('latest', params)
  stored_runs.check_generator_kept(config, params, 'this config')
  configs = [seed_config(config, seed) for seed in seeds]
  seed_runs = []
  try:
    for each in configs:
      gan, seed_run = _set_up_seed(each, seed_workdir(sweep_dir, each.seed), print_fn)
      seed_runs.append(seed_run)
    return _train_seed_runs(gan, seed_runs, configs[0], print_fn, params, records_path)
  finally:
    for seed_run in seed_runs:
      seed_run.close()


def _train_seed_runs(gan: train.GAN, seed_runs: list[_Seed], config: ml_collections.ConfigDict,
                     print_fn: Callable[[str], None], params: str,
                     records_path: pathlib.Path | None) -> tuple[list[dict], bool]:
  """``train_together``'s loop over the set-up seeds (``config``: seed 0's), from their common step."""
  step = _check_same_step(seed_runs)
  devices = jax.local_devices()
  seeds_loop = parallel.make_pmap_seeds_train_loop(
      gan, datasets.make_keyed_minibatch_sampler(config.d_steps, config.batch_size // len(devices)), devices)
  states = parallel.replicate(_stack([r.state for r in seed_runs]), devices)
  device_data = _seed_data(seed_runs, devices)
  train_keys = _stack([r.train_key for r in seed_runs])
  logs = [run_log.RunLog(r.workdir, start_step=step) for r in seed_runs]
  minibatches_per_epoch = datasets.minibatches_per_epoch(seed_runs[0].dataset, datasets.Shards(0, len(devices), len(devices)),
                                                     config.batch_size)
  generate = jax.jit(gan.generator)
  records, run_start = [], time.perf_counter()
  last_console_time = run_start
  try:
    with preemption.StopRequests() as stop:
      while step < config.num_steps:
        num_steps = min(config.steps_per_call - step % config.steps_per_call, config.num_steps - step)
        chunk_start = time.perf_counter()
        states, metrics, finite = seeds_loop(states, device_data, train_keys, step, num_steps)
        _raise_if_diverged(seed_runs, jax.device_get(finite), list(metrics), step, num_steps)
        step += num_steps
        metrics = jax.device_get(metrics)
        now = time.perf_counter()
        epoch = step * config.d_steps / minibatches_per_epoch
        it_per_s = num_steps / (now - chunk_start)  # of each seed's run; all S advance together
        for i, log in enumerate(logs):
          means = {name: float(np.mean(values[i])) for name, values in metrics.items()}
          log.scalars(step, {'epoch': epoch, **means, 'it_per_s': it_per_s}, wall_time=time.perf_counter() - run_start)
        if now - last_console_time >= config.log_every_seconds or step == config.num_steps:
          means = {name: float(np.mean(values)) for name, values in metrics.items()}
          print_fn(run_log.console_line(step, config.num_steps, epoch, means, it_per_s)
                   + f'  (mean of {len(seed_runs)} seeds, {len(seed_runs) * it_per_s:.0f} seed-it/s)')
          last_console_time = now
        stopping = stop.requested
        saving = stopping or step % config.checkpoint_every_steps == 0 or step == config.num_steps
        picturing = step % config.sample_every_steps == 0 or step == config.num_steps
        if saving or picturing:
          seed_states = _unstack(parallel.unreplicate(states), len(seed_runs))
        if picturing:
          for seed_run, seed_state, log in zip(seed_runs, seed_states, logs):
            noise = gan.prior.sample(seed_run.sample_key, config.num_shown_samples)
            samples = generate(stored_runs.generator_params(gan, seed_state), noise)
            log.picture(step, loop.samples_picture(np.asarray(samples), seed_run.dataset))
        if saving:
          new = [_save_and_score(gan, seed_run, seed_state, params)
                 for seed_run, seed_state in zip(seed_runs, seed_states)]
          records += new
          if records_path is not None:
            merge_records(records_path, new)
          print_fn(f'step {step}: ' + ', '.join(f"seed {r['seed']} {r['modes_covered']:g} modes "
                                                  f"{100 * r['high_quality_frac']:.1f} %" for r in new))
        if stopping:
          print_fn(f'SIGTERM: stopped at step {step} with a checkpoint of every seed; run the same command to resume')
          return records, True
  finally:
    for log in logs:
      log.close()
  return records, False
