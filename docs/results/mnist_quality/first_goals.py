"""The first monitor evaluation at which each of issue 29's goals holds on validation, per run and generator.

Reads curve files of ``experiments.validation_curves`` (one line per evaluation of the loop's monitor) and
prints, for G as trained ('raw') and its average ('ema'): the first epoch (and run time, minutes) with
validation Parzen ≥ 225, with Fréchet distance ≤ 2.5, with recall ≥ 0.80, and with all three at once.

  python first_goals.py CURVE.jsonl [CURVE.jsonl ...]
"""

import json
import pathlib
import sys

GOALS = {'parzen': lambda r, s: r[f'validation_ll{s}'] >= 225,
         'frechet': lambda r, s: r[f'validation_frechet_distance{s}'] <= 2.5,
         'recall': lambda r, s: r[f'validation_recall{s}'] >= 0.8}


def first_met(records: list[dict], suffix: str) -> dict[str, str]:
  """Goal → 'epoch E (M min)' of the first record that meets it (and 'all' for the three at once), or '–'."""
  met = {}
  for goal, holds in [*GOALS.items(), ('all', lambda r, s: all(check(r, s) for check in GOALS.values()))]:
    first = next((r for r in records if holds(r, suffix)), None)
    met[goal] = f"epoch {first['epoch']:g} ({first['run_time'] / 60:.1f} min)" if first else '–'
  return met


def main(paths: list[str]) -> None:
  for path in paths:
    records = [json.loads(line) for line in pathlib.Path(path).read_text().splitlines() if line.strip()]
    for generator, suffix in (('raw', ''), ('ema', '_ema')):
      print(pathlib.Path(path).stem, generator, json.dumps(first_met(records, suffix), ensure_ascii=False))


if __name__ == '__main__':
  main(sys.argv[1:])
