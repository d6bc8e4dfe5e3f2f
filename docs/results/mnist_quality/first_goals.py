"""The first evaluation at which each of issue 29's goals holds, per run and generator, on validation or on test.

Reads curve files: those of ``experiments.validation_curves`` (one line per evaluation of the loop's monitor,
``validation_*`` scores) or of ``test_curve.py`` (``test_*`` scores of kept checkpoints), and prints, for G as
trained ('raw') and its average ('ema') where the file has them: the first epoch (and run time, minutes, where
recorded) with Parzen ≥ 225, with Fréchet distance ≤ 2.5, with recall ≥ 0.80, and with all three at once.

  python first_goals.py CURVE.jsonl [CURVE.jsonl ...]
"""

import json
import pathlib
import sys

GOALS = {'parzen': lambda score: score('ll') >= 225,
         'frechet': lambda score: score('frechet_distance') <= 2.5,
         'recall': lambda score: score('recall') >= 0.8}
GENERATORS = (('raw', ''), ('ema', '_ema'))


def split_of(records: list[dict]) -> str:
  """'test' for a curve of test scores, else 'validation'."""
  return 'test' if any(key.startswith('test_') for key in records[0]) else 'validation'


def first_met(records: list[dict], suffix: str, split: str = 'validation') -> dict[str, str]:
  """Goal → 'epoch E (M min)' of the first record that meets it (and 'all' for the three at once), or '–'."""
  met = {}
  for goal, holds in [*GOALS.items(), ('all', lambda score: all(check(score) for check in GOALS.values()))]:
    first = next((r for r in records if holds(lambda name, r=r: r[f'{split}_{name}{suffix}'])), None)
    run_time = f" ({first['run_time'] / 60:.1f} min)" if first and 'run_time' in first else ''
    met[goal] = f"epoch {first['epoch']:g}{run_time}" if first else '–'
  return met


def main(paths: list[str]) -> None:
  for path in paths:
    records = [json.loads(line) for line in pathlib.Path(path).read_text().splitlines() if line.strip()]
    split = split_of(records)
    for generator, suffix in GENERATORS:
      if f'{split}_ll{suffix}' in records[0]:
        print(pathlib.Path(path).stem, split, generator,
              json.dumps(first_met(records, suffix, split), ensure_ascii=False))


if __name__ == '__main__':
  main(sys.argv[1:])
