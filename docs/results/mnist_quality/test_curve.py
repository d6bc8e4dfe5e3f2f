"""A run's test curve: ``experiments.evaluate``'s reports of its kept checkpoints, one line per step, as JSON lines.

For each step in RUN_DIR/checkpoints/ that ``experiments.evaluate --workdir RUN_DIR --checkpoint STEP --params P``
has scored, one line with ``epoch``, ``step`` and the report's scores as ``test_ll``, ``test_frechet_distance``,
``test_precision``, ``test_recall`` (``_ema`` after each name for G's average, P = ema), the keys
``first_goals.py`` reads. Written for the runs that kept every checkpoint (``--config.keep_checkpoints=0``).

  PYTHONPATH=. python docs/results/mnist_quality/test_curve.py RUN_DIR [STEPS_PER_EPOCH] > test_curve_NAME.jsonl
"""

import json
import sys

from first_goals import GENERATORS
from gan_jax.training import rundir

SCORES = {'parzen_ll': 'll', 'parzen_se': 'll_se', 'frechet_distance': 'frechet_distance', 'precision': 'precision',
          'recall': 'recall'}


def test_curve(directory: rundir.RunDirectory, steps_per_epoch: int) -> list[dict]:
  """One record per scored checkpoint, in step order."""
  steps = sorted(int(path.name) for path in directory.checkpoints.iterdir() if path.name.isdigit())
  records = []
  for step in steps:
    record = {}
    for generator, suffix in GENERATORS:
      report = directory.evaluation_report(str(step), generator)
      if report.exists():
        scores = json.loads(report.read_text())
        record.update({f'test_{name}{suffix}': scores[key] for key, name in SCORES.items() if key in scores})
    if record:
      records.append({'epoch': step / steps_per_epoch, 'step': step, **record})
  return records


if __name__ == '__main__':
  for line in test_curve(rundir.RunDirectory(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 500):
    print(json.dumps(line))
