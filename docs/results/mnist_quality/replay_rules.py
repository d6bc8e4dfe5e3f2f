"""Which checkpoint each best rule keeps, replayed over a run's validation curve with the monitor's own rule.

Reads curve files of ``experiments.validation_curves`` and feeds their evaluations, in order, to
``EvaluationSpec.is_new_best`` (what the training loop's monitor calls), for G as trained ('raw') and its average
('ema'), under the two rules issue 29 compares:

* ``parzen_within``: the best validation Parzen estimate among checkpoints with Fréchet distance ≤ 2.5 and recall
  ≥ 0.80 (``mnist_quality`` until 2026-12-07);
* ``sharpest_within``: the lowest Fréchet distance among checkpoints with Parzen ≥ 225 as well (since).

Prints the epoch each rule keeps and its validation scores (Parzen / Fréchet distance / recall), or '–'.

  python replay_rules.py CURVE.jsonl [CURVE.jsonl ...]
"""

import json
import pathlib
import sys

from gan_jax.training import plan

BARS = dict(every_steps=1, num_samples=10_000, num_validation=1_000, classifier_dir='C', best_max_frechet=2.5,
            best_min_recall=0.8)
RULES = {'parzen_within': plan.EvaluationSpec(best_by='validation_ll', best_min_ll=0.0, **BARS),
         'sharpest_within': plan.EvaluationSpec(best_by='validation_frechet_distance', best_min_ll=225.0, **BARS)}
SCORES = ('validation_ll', 'validation_frechet_distance', 'validation_recall')


def kept(records: list[dict], rule: plan.EvaluationSpec, suffix: str) -> dict | None:
  """The record (its scores without ``suffix``, and its epoch) the rule keeps as best at the end, or None."""
  best = None
  for record in records:
    scores = {name: record[f'{name}{suffix}'] for name in SCORES}
    if rule.is_new_best(scores, best):
      best = {**scores, 'epoch': record['epoch']}
  return best


def main(paths: list[str]) -> None:
  for path in paths:
    records = [json.loads(line) for line in pathlib.Path(path).read_text().splitlines() if line.strip()]
    for generator, suffix in (('raw', ''), ('ema', '_ema')):
      for name, rule in RULES.items():
        best = kept(records, rule, suffix)
        said = '–' if best is None else (f"epoch {best['epoch']:g}: {best['validation_ll']:.1f} / "
                                         f"{best['validation_frechet_distance']:.2f} / {best['validation_recall']:.2f}")
        print(f'{pathlib.Path(path).stem} {generator} {name}: {said}')


if __name__ == '__main__':
  main(sys.argv[1:])
