"""Train one toy-mixture config over N seeds and write one table of mode coverage (mean ± s.e. over seeds).

  python -m experiments.sweep --config gan_jax/configs/toy_ring_pacgan.py --workdir DIR --seeds 10 \
      [--config.FIELD=VALUE ...]

Seed i trains in DIR/seed_i (``experiments.train``'s loop: it resumes from
its latest checkpoint, so a stopped sweep continues where it was). Every
checkpoint is kept and scored with ``experiments.evaluate``'s metrics (2,500
samples from the run's fixed noise: modes covered, high-quality fraction,
reverse KL), so the curves show where training flattens. With --together the
seeds train at once in one compiled program (``gan_jax.sweep.train_together``:
on a GPU ten seeds cost about what one does; on a CPU nothing is gained), each
checkpoint scored as it is written; the seeds must be at the same step.
SIGTERM stops either way with a checkpoint, and the same command continues.
Written in DIR:
  sweep.jsonl   one line per seed and checkpoint: seed, step and the metrics
  sweep.json    per step: mean and standard error over the seeds that reached it
and the last step's row printed as a table. Only toy_ring and toy_grid runs
have these metrics; anything else is refused before any compute, as are bad
flags (one line, exit status 2).
"""

import json
import pathlib

from absl import app, flags

from experiments import cli
from gan_jax import data, evaluation, experiment, files, sweep, validation

_CONFIG = cli.define_config_file('config', 'A toy_ring or toy_grid preset in gan_jax/configs/.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'The sweep directory: DIR/seed_i per seed, the tables.')
_SEEDS = flags.DEFINE_integer('seeds', 10, 'Seeds 0 … N − 1.')
_TOGETHER = flags.DEFINE_boolean('together', False, 'Train the seeds together in one compiled program (a seed '
                                 'axis; pays off on an accelerator), scoring each checkpoint as it is written.')
flags.mark_flags_as_required(['config', 'workdir'])


def table_row(step: int, row: dict) -> str:
  """'step 400000  seeds 10  modes 6.30 ± 0.50  high quality 98.2 ± 0.2 %  reverse KL 0.450 ± 0.090'."""
  modes, quality, kl = (row[name] for name in evaluation.MODE_METRICS)
  return (f"step {step}  seeds {modes['n']}  modes {modes['mean']:.2f} ± {modes['se']:.2f}  "
          f"high quality {100 * quality['mean']:.1f} ± {100 * quality['se']:.1f} %  "
          f"reverse KL {kl['mean']:.3f} ± {kl['se']:.3f}")


def _one_by_one(config, seeds: list[int], sweep_dir: pathlib.Path, earlier: list[dict]) -> list[dict] | None:
  """Every seed's run with ``experiment.run`` and the records of all its checkpoints; None if stopped by SIGTERM."""
  records = []
  for seed in seeds:
    workdir = sweep.seed_workdir(sweep_dir, seed)
    print(f'seed {seed}: {workdir}', flush=True)
    summary = experiment.run(sweep.seed_config(config, seed), workdir)
    if summary.get('stopped'):
      print(f'seed {seed} stopped by SIGTERM; run the same command to continue the sweep', flush=True)
      return None
    done = {r['step']: r for r in earlier if r['seed'] == seed}
    records += sweep.score_checkpoints(workdir, seed, done)
    _write_records(sweep_dir, records + [r for r in earlier if r['seed'] > seed])
  return records


def _together(config, seeds: list[int], sweep_dir: pathlib.Path, earlier: list[dict]) -> list[dict] | None:
  """``sweep.train_together``'s records after the earlier ones; None if stopped by SIGTERM (records kept)."""
  new, stopped = sweep.train_together(config, seeds, sweep_dir)
  new_keys = {(r['seed'], r['step']) for r in new}
  records = sorted([r for r in earlier if (r['seed'], r['step']) not in new_keys] + new,
                   key=lambda r: (r['seed'], r['step']))
  _write_records(sweep_dir, records)
  if stopped:
    print('stopped by SIGTERM; run the same command to continue the sweep', flush=True)
    return None
  return records


def _write_records(sweep_dir: pathlib.Path, records: list[dict]) -> None:
  files.write_text_atomically(sweep_dir / 'sweep.jsonl', ''.join(json.dumps(r) + '\n' for r in records))


def main(argv):
  cli.start(argv, hint='; pass settings as --config.FIELD=VALUE')
  config = _CONFIG.value
  if config.dataset not in data.MIXTURES:
    cli.fail(f'--config: dataset={config.dataset!r} has no mode metrics; allowed: {list(data.MIXTURES)}')
  if _SEEDS.value < 1:
    cli.fail(f'--seeds={_SEEDS.value} must be at least 1')
  sweep_dir = cli.check_output_dir('workdir', _WORKDIR.value, 'a directory (new or of this sweep)')
  seeds = list(range(_SEEDS.value))
  try:
    for seed in seeds:
      validation.validate(sweep.seed_config(config, seed))
  except cli.BAD_INPUT as error:
    cli.fail(str(error))
  sweep_dir.mkdir(parents=True, exist_ok=True)
  jsonl = sweep_dir / 'sweep.jsonl'
  earlier = [json.loads(line) for line in jsonl.read_text().splitlines()] if jsonl.exists() else []
  train_seeds = _together if _TOGETHER.value else _one_by_one
  try:
    records = train_seeds(config, seeds, sweep_dir, earlier)
  except cli.BAD_INPUT as error:
    cli.fail(str(error))
  except experiment.TrainingDiverged as error:
    cli.fail(str(error), status=1)
  if records is None:
    return
  table = evaluation.mode_metrics_over_seeds(records)
  files.write_text_atomically(sweep_dir / 'sweep.json', json.dumps({str(k): v for k, v in table.items()}, indent=2)
                              + '\n')
  last = max(table)
  print(table_row(last, table[last]))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
