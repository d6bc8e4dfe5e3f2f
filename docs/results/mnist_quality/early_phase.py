"""The first epochs of runs, one JSON line each: D's mean output on G's samples, epoch by epoch.

Reads each run directory's metrics.jsonl (written every 500 iterations, one epoch of MNIST at batch 100) and
prints one line per run: its name (``recipe_sSEED``), the seed, D(G(z)) at the end of epochs 1, 2, … (the mean
over that epoch's iterations, as the console prints it), and ``d_won``: whether D(G(z)) is below 0.005 in each
of the last three epochs read (D rejects G's samples outright; where such a run was scored or pictured, G drew
one near-black image for every z).

  python early_phase.py RUN_DIRECTORY [RUN_DIRECTORY ...] > early_phase.jsonl
"""

import json
import pathlib
import sys

D_WON_BELOW = 0.005  # D(G(z)) under this in each of the last D_WON_EPOCHS epochs read: D rejects G's samples
D_WON_EPOCHS = 3


def early_record(run: pathlib.Path) -> dict:
  """{run, seed, d_fake_by_epoch, d_won} of one run directory."""
  config = json.loads((run / 'config.json').read_text())
  rows = [json.loads(line) for line in (run / 'metrics.jsonl').read_text().splitlines() if line.strip()]
  by_epoch = [row['d_fake'] for row in rows if 'd_fake' in row and float(row['epoch']).is_integer()]
  return {'run': run.name, 'seed': config['seed'], 'd_fake_by_epoch': [round(value, 4) for value in by_epoch],
          'd_won': all(value < D_WON_BELOW for value in by_epoch[-D_WON_EPOCHS:])}


def main(paths: list[str]) -> None:
  for path in paths:
    print(json.dumps(early_record(pathlib.Path(path))))


if __name__ == '__main__':
  main(sys.argv[1:])
