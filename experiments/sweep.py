"""Train one toy-mixture config over N seeds and write one table of mode coverage (mean ± s.e. over seeds).

  python -m experiments.sweep --config gan_jax/configs/toy_ring_pacgan.py --workdir DIR --seeds 10 \
      [--params raw|ema] [--config.FIELD=VALUE ...]

Seed i trains in DIR/seed_i (``experiments.train``'s loop: it resumes from
its latest checkpoint, so a stopped sweep continues where it was). Every
checkpoint is kept and scored with ``experiments.evaluate``'s metrics (2,500
samples from the run's fixed noise: modes covered, high-quality fraction,
reverse KL), so the curves show where training flattens. With --together the
seeds train at once in one compiled program (``gan_jax.reports.seed_records.train_together``, the same loop:
on a GPU ten seeds cost about what one does; on a CPU nothing is gained), each
checkpoint scored as it is written; the seeds must be at the same step.
SIGTERM stops either way with a checkpoint, and the same command continues.
Without --together, the same command may run in several processes (or on
several hosts sharing DIR): a seed that another of them is training is
skipped (each run holds its workdir), so they share the seeds out, and the
one that finishes last writes the table.
Written in DIR:
  seed_records.jsonl   one line per seed and checkpoint: seed, step and the metrics
  seed_records.json    per step: mean and standard error over the seeds that reached it
  records.lock  (empty) the processes' turns at updating seed_records.jsonl
and the last step's row printed as a table. JSON has no Infinity or NaN: a
reverse KL without high-quality samples (infinite), and a mean or standard
error over one, is written as null. These score the generator as
trained; with --params ema (runs with config.g_ema_decay > 0) they score the
average of its weights instead, in sweep_ema.jsonl and sweep_ema.json. The
same command with the other --params over a finished sweep trains nothing and
scores every checkpoint for the other generator. Only toy_ring and toy_grid runs
have these metrics; anything else is refused before any compute, as are bad
flags (one line, exit status 2).
"""

from absl import app, flags

from experiments import cli
from gan_jax.evaluation import measures
from gan_jax.reports import seed_records
from gan_jax.training import files, loop, plan, rundir, seed_runs

_CONFIG = cli.define_config_file('config', 'A toy_ring or toy_grid preset in gan_jax/configs/.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'The sweep directory: DIR/seed_i per seed, the tables.')
_SEEDS = flags.DEFINE_integer('seeds', 10, 'Seeds 0 … N − 1.')
_TOGETHER = flags.DEFINE_boolean('together', False, 'Train the seeds together in one compiled program (a seed '
                                 'axis; pays off on an accelerator), scoring each checkpoint as it is written.')
_PARAMS = flags.DEFINE_string('params', 'raw', 'Which generator to score: raw (as trained) or ema (the average of '
                              'its weights; needs config.g_ema_decay > 0).')
flags.mark_flags_as_required(['config', 'workdir'])


def table_row(step: int, row: dict) -> str:
  """'step 400000  seeds 10  modes 6.30 ± 0.50  high quality 98.2 ± 0.2 %  reverse KL 0.450 ± 0.090'."""
  modes, quality, kl = (row[name] for name in measures.MODE_METRICS)
  return (f"step {step}  seeds {modes['n']}  modes {modes['mean']:.2f} ± {modes['se']:.2f}  "
          f"high quality {100 * quality['mean']:.1f} ± {100 * quality['se']:.1f} %  "
          f"reverse KL {kl['mean']:.3f} ± {kl['se']:.3f}")


def _one_by_one(config, seeds: list[int], sweep: rundir.SweepDirectory, earlier: list[dict],
                params: str) -> list[dict] | None:
  """Every seed's run with ``loop.run`` and the records of all its checkpoints; None if stopped by SIGTERM
  or if another process is still training one of the seeds.

  A seed another process is training (the same command started twice) is
  skipped and tried once more after the others, so several processes share
  the seeds out; the one that finishes last writes the table.
  """
  records, pending = [], list(seeds)
  for _ in range(2):  # every seed in turn, then once more those another process was training
    in_use = []
    for seed in pending:
      directory = sweep.seed(seed)
      print(f'seed {seed}: {directory.root}', flush=True)
      try:
        summary = loop.run(seed_records.seed_config(config, seed), directory.root)
      except seed_runs.WorkdirInUse as error:
        print(f'seed {seed}: skipped (process {error.holder} is training in {error.workdir})', flush=True)
        in_use.append(seed)
        continue
      if summary.get('stopped'):
        print(f'seed {seed} stopped by SIGTERM; run the same command to continue the sweep', flush=True)
        return None
      done = {r['step']: r for r in earlier if r['seed'] == seed}
      records += seed_records.score_checkpoints(directory, seed, done, params)
      seed_records.merge_records(sweep, params, records)
    pending = in_use
    if not pending:
      return records
  print(f'seeds {pending} are being trained by another process; the table is written when the last of them '
        'ends (by that process, or by this command run again)', flush=True)
  return None


def _together(config, seeds: list[int], sweep: rundir.SweepDirectory, earlier: list[dict],
              params: str) -> list[dict] | None:
  """The records of every checkpoint after ``seed_records.train_together``; None if stopped by SIGTERM (records kept).

  Checkpoints without a record (a finished sweep scored for the other generator) are scored here.
  """
  new, stopped = seed_records.train_together(config, seeds, sweep, params=params, keep_records=True)
  new_keys = {(r['seed'], r['step']) for r in new}
  known = [r for r in earlier if (r['seed'], r['step']) not in new_keys] + new
  if stopped:  # its records are on file
    print('stopped by SIGTERM; run the same command to continue the sweep', flush=True)
    return None
  records = seed_records.score_seeds(sweep, seeds, known, params)  # the table's seeds: those of --seeds
  seed_records.merge_records(sweep, params, records)  # other seeds' records stay in the file
  return records


def check_flags(config, directory: str | None, num_seeds: int, params: str) -> rundir.SweepDirectory:
  """The sweep directory; exits with one line and status 2 if a flag is bad (nothing written)."""
  if num_seeds < 1:
    cli.fail(f'--seeds={num_seeds} must be at least 1')
  sweep_dir = cli.check_output_dir('workdir', directory, 'a directory (new or of this sweep)')
  try:
    plan.validate(seed_records.seed_config(config, num_seeds - 1))  # the config of every seed but its seed
    seed_records.check_sweep_config(config, params, '--config')
  except cli.BAD_INPUT as error:
    cli.fail(str(error))
  return rundir.SweepDirectory(sweep_dir)


def main(argv):
  cli.start(argv, hint='; pass settings as --config.FIELD=VALUE')
  config = _CONFIG.value
  sweep = check_flags(config, _WORKDIR.value, _SEEDS.value, _PARAMS.value)
  seeds = list(range(_SEEDS.value))
  sweep.root.mkdir(parents=True, exist_ok=True)
  earlier = seed_records.read_records(sweep.records(_PARAMS.value))
  train_seeds = _together if _TOGETHER.value else _one_by_one
  try:
    records = train_seeds(config, seeds, sweep, earlier, _PARAMS.value)
  except cli.BAD_INPUT as error:
    cli.fail(str(error))
  except loop.TrainingDiverged as error:
    cli.fail(str(error), status=1)
  if records is None:
    return
  table = measures.mode_metrics_over_seeds(records)
  rows = {str(step): row for step, row in table.items()}
  files.write_text_atomically(sweep.table(_PARAMS.value), files.to_json(rows, indent=2) + '\n')
  last = max(table)
  print(table_row(last, table[last]))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
