"""The per-seed table of ``mnist_quality`` (ε₀ = 0.15) from this directory's files, with mean ± std over seeds.

For each seed S with ``validation_curve_eps015_seedS.jsonl``: the first epoch (and run time) at which G's
average met all three bars on validation (``first_goals.py``), the first epoch at which it met them on test
where ``test_curve_eps015_seedS.jsonl`` holds the test scores of its checkpoints (``test_curve.py``), the
checkpoint the preset's rule keeps (``replay_rules.py``'s ``sharpest_within``, replayed over the curve) and its
test scores from the
``eps015_seedS_eval_*_ema_{a,b}.json`` file of the same step (``experiments.evaluate``, classifiers A and B); where
the rule kept none (no evaluation met the bars), the last checkpoint's, as this directory's README says to score.
Runs trained before the rule changed kept another best checkpoint; the rule's pick is then scored through whichever
evaluated checkpoint (``best`` or ``latest``) is of its step, and said to be missing if none is.

  PYTHONPATH=. python docs/results/mnist_quality/seed_table.py
"""

import json
import pathlib
import statistics

from first_goals import first_met
from replay_rules import RULES, kept

HERE = pathlib.Path(__file__).parent
STEPS_PER_EPOCH = 500
SCORES = (('parzen_ll', 'Parzen', '.1f'), ('frechet_distance', 'FD', '.2f'), ('precision', 'precision', '.2f'),
          ('recall', 'recall', '.2f'))


def seed_row(seed: int) -> dict:
  """The seed's first all-three epoch, the rule's epoch (None: the rule kept nothing) and the test scores of that
  checkpoint, or of the last where the rule kept nothing (absent if that checkpoint was not evaluated)."""
  name = f'eps015_seed{seed}'
  records = [json.loads(line) for line in (HERE / f'validation_curve_{name}.jsonl').read_text().splitlines()]
  pick = kept(records, RULES['sharpest_within'], '_ema')
  scored_epoch = records[-1]['epoch'] if pick is None else pick['epoch']
  test_curve = HERE / f'test_curve_{name}.jsonl'
  first_on_test = (first_met([json.loads(line) for line in test_curve.read_text().splitlines()], '_ema', 'test')['all']
                   if test_curve.exists() else 'not measured')
  row = {'seed': seed, 'first_all_three': first_met(records, '_ema')['all'], 'first_on_test': first_on_test,
         'rule_epoch': None if pick is None else pick['epoch'], 'scored_epoch': scored_epoch, 'test': {}}
  for classifier in 'ab':
    for which in ('best', 'latest'):
      path = HERE / f'{name}_eval_{which}_ema_{classifier}.json'
      if path.exists() and json.loads(path.read_text())['step'] == scored_epoch * STEPS_PER_EPOCH:
        row['test'][classifier] = json.loads(path.read_text())
  return row


def main() -> None:
  seeds = sorted(int(path.stem.rsplit('seed', 1)[1]) for path in HERE.glob('validation_curve_eps015_seed*.jsonl'))
  rows = [seed_row(seed) for seed in seeds]
  print('| seed | all three on validation first | on test first | the rule keeps | test A: Parzen / FD / precision / '
        'recall | B: FD / precision / recall |')
  print('|---|---|---|---|---|---|')
  for row in rows:
    a, b = row['test'].get('a'), row['test'].get('b')
    test_a = ' / '.join(f'{a[key]:{spec}}' for key, _, spec in SCORES) if a else 'not evaluated'
    test_b = ' / '.join(f'{b[key]:{spec}}' for key, _, spec in SCORES[1:]) if b else '–'
    kept_epoch = (f"epoch {row['rule_epoch']:g}" if row['rule_epoch'] is not None
                  else f"none (the last, epoch {row['scored_epoch']:g}, scored)")
    print(f"| {row['seed']} | {row['first_all_three']} | {row['first_on_test']} | {kept_epoch} | {test_a} | {test_b} |")
  for label, chosen in (('the scored checkpoints', rows), ('the seeds where the rule kept one',
                                                          [row for row in rows if row['rule_epoch'] is not None])):
    scored = [row['test']['a'] for row in chosen if 'a' in row['test']]
    if len(scored) > 1:
      spread = '; '.join(f"{name} {statistics.mean(s[key] for s in scored):{spec}} ± "
                         f"{statistics.stdev(s[key] for s in scored):{spec}}" for key, name, spec in SCORES)
      print(f'\nmean ± std over {label}, {len(scored)} seeds (test, classifier A): {spread}')


if __name__ == '__main__':
  main()
