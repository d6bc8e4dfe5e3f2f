"""The records of a sweep of seeds of one toy-mixture config: mode coverage per seed and checkpoint.

A sweep directory (``rundir.SweepDirectory``) holds one ordinary run
directory per seed: ``experiments.evaluate`` reads any of them, and a seed
can be continued one by one or together.

* One by one (``experiments.sweep``): ``loop.run`` per seed, then every
  kept checkpoint is scored (``stored_runs.evaluate_run``).
* Together (``experiments.sweep --together``, ``train_together``): the same
  loop, ``loop.train_seeds``, trains the S runs from one step in one compiled
  program (a seed axis); at every checkpoint each seed is scored in memory
  (``mode_record``, the same samples and metrics as
  ``stored_runs.evaluate_run``). On an accelerator S small runs then cost
  about as much as one; on a CPU the step is compute-bound and it saves nothing.

A record is ``{'seed', 'step', 'modes_covered', 'high_quality_frac',
'reverse_kl'}`` of one generator of the checkpoint: the one trained
(``params='raw'``) or, for runs with ``g_ema_decay`` > 0, the average of
its weights (``params='ema'``); ``measures.mode_metrics_over_seeds``
makes the table. The records of a sweep are one JSON line each in a file
that the processes of the sweep share (``merge_records``).
"""

import json
import math
import pathlib
from collections.abc import Callable

import ml_collections
import numpy as np

from gan_jax import train
from gan_jax.data import datasets
from gan_jax.evaluation import measures
from gan_jax.reports import stored_runs
from gan_jax.training import files, loop, plan, rundir, seed_runs


def seed_config(config: ml_collections.ConfigDict, seed: int) -> ml_collections.ConfigDict:
  """``config`` for one seed, keeping every checkpoint (for the curves).

  Every one, not the number of ``checkpoint_every_steps`` in the run: each
  SIGTERM adds a checkpoint between them, which would push the earliest out.
  """
  seeded = config.copy_and_resolve_references()
  seeded.seed = seed
  seeded.keep_checkpoints = 0
  return seeded


def mode_record(gan: train.GAN, state: train.GANState, keys: rundir.RunKeys, dataset: str, seed: int,
                params: str = 'raw') -> dict:
  """The record of one seed's state: ``stored_runs.evaluate_run``'s mode metrics (the same samples: the run's
  evaluation noise). ``params``: which generator of the state, 'raw' or 'ema' (``train.generators``)."""
  samples = train.sample(gan, train.generators(gan, state)[params], keys.evaluation_samples,
                         stored_runs.TOY_EVAL_SAMPLES)
  metrics = measures.mode_metrics(np.asarray(samples), *datasets.mixture_modes(dataset))
  return {'seed': seed, 'step': int(state.step), **{name: metrics[name] for name in measures.MODE_METRICS}}


def read_records(path: pathlib.Path) -> list[dict]:
  """The records in ``path`` (JSON lines; none if absent); a reverse KL written as null (no high-quality
  samples, so infinite: ``files.to_json``) reads as inf again."""
  if not path.exists():
    return []
  records = [json.loads(line) for line in path.read_text().splitlines()]
  return [{**r, 'reverse_kl': math.inf if r['reverse_kl'] is None else r['reverse_kl']} for r in records]


def merge_records(sweep: rundir.SweepDirectory, params: str, records: list[dict]) -> None:
  """Writes ``records`` into the records of generator ``params``, keeping those already there of other (seed,
  step)s (another process's), ordered by seed and step; processes take turns (``records_lock``), so none loses
  another's."""
  path = sweep.records(params)
  with files.taking_turns(sweep.records_lock):
    new_keys = {(r['seed'], r['step']) for r in records}
    merged = [r for r in read_records(path) if (r['seed'], r['step']) not in new_keys] + records
    merged.sort(key=lambda r: (r['seed'], r['step']))
    files.write_text_atomically(path, ''.join(files.to_json(r) + '\n' for r in merged))


def checkpoint_steps(directory: rundir.RunDirectory) -> list[int]:
  """The steps of the finished checkpoints in a run's checkpoints directory, ascending."""
  found = directory.checkpoints
  return sorted(int(p.name) for p in found.iterdir() if p.name.isdigit()) if found.is_dir() else []


def score_checkpoints(directory: rundir.RunDirectory, seed: int, done: dict[int, dict],
                      params: str = 'raw') -> list[dict]:
  """The records of every checkpoint of one seed's run for the generator ``params`` names ('raw' or 'ema').

  Those in ``done`` (step → record) are not scored again; ``done`` gains the new ones.
  """
  records = []
  for step in checkpoint_steps(directory):
    if step not in done:
      metrics, _ = stored_runs.evaluate_run(directory.root, which=str(step), params=params)
      done[step] = {'seed': seed, 'step': step, **{name: metrics[name] for name in measures.MODE_METRICS}}
    records.append(done[step])
  return records


def score_seeds(sweep: rundir.SweepDirectory, seeds: list[int], known: list[dict], params: str = 'raw') -> list[dict]:
  """The records of every checkpoint of each seed's run in ``sweep``, by (seed, step); ``known`` ones are kept.

  A finished sweep scored for the other generator (``params``) trains nothing:
  its checkpoints are scored here.
  """
  records = []
  for seed in seeds:
    done = {r['step']: r for r in known if r['seed'] == seed}
    records += score_checkpoints(sweep.seed(seed), seed, done, params)
  return records


def check_sweep_config(config: ml_collections.ConfigDict, params: str, named: str = 'this config') -> None:
  """Raises ConfigError unless ``config`` (``named`` so in the message) trains a toy mixture (the records' mode
  metrics) keeping generator ``params``."""
  if config.dataset not in datasets.MIXTURES:
    raise plan.ConfigError(f'config.dataset={config.dataset!r} has no mode metrics; allowed: '
                           f'{list(datasets.MIXTURES)}')
  stored_runs.check_checkpoint_choice('latest', params)
  stored_runs.check_generator_kept(config, params, named)


def train_together(config: ml_collections.ConfigDict, seeds: list[int], sweep: rundir.SweepDirectory,
                   print_fn: Callable[[str], None] = loop.print_now, params: str = 'raw',
                   keep_records: bool = False) -> tuple[list[dict], bool]:
  """Trains ``config`` for each of ``seeds`` in one compiled program (``loop.train_seeds``); returns (the
  records of the checkpoints written in this call, stopped by SIGTERM).

  Each seed's run directory ``sweep.seed(i)`` gets what ``experiments.train``
  writes (every checkpoint kept: ``seed_config``). A record is of the
  generator ``params`` names ('raw' or 'ema'); with ``keep_records`` each is
  merged into the sweep's records as its checkpoint is written, so that a
  crash keeps them too. Raises ConfigError before any compute for a config
  that is not a toy mixture, a bad config, no seeds or a seed twice, or
  seeds at different steps, and ``loop.TrainingDiverged`` (naming the seed,
  with nothing of that chunk checkpointed) if one goes non-finite.
  """
  check_sweep_config(config, params)
  records = []

  def record(seed_run: seed_runs.SeedRun, gan: train.GAN, state: train.GANState) -> None:
    new = mode_record(gan, state, seed_run.keys, seed_run.dataset.name, seed_run.seed, params)
    records.append(new)
    if keep_records:
      merge_records(sweep, params, [new])
    print_fn(f"step {new['step']}: seed {new['seed']} {new['modes_covered']:g} modes "
             f"{100 * new['high_quality_frac']:.1f} %")

  summaries = loop.train_seeds(seed_config(config, seeds[0]) if seeds else config, seeds,
                               [sweep.seed(seed) for seed in seeds], print_fn, record)
  return records, any(summary.get('stopped') for summary in summaries)
