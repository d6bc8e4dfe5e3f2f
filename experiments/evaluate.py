"""Evaluate the latest checkpoint of a training run; writes DIR/eval.json and prints a table.

  python -m experiments.evaluate --workdir DIR [--num_samples N] [--save_samples PATH.npy]

Images: Parzen-window log-likelihood by the paper's protocol (parzen_ll ±
parzen_se, parzen_sigma). Toy ring/grid: modes_covered, high_quality_frac,
reverse_kl. With --classifier DIR, image runs also get classifier_score,
frechet_distance, precision and recall. See gan_jax/evaluation.py.
"""

import json
import pathlib

import numpy as np
from absl import app, flags

from experiments import cli
from gan_jax import runs

_WORKDIR = flags.DEFINE_string('workdir', None, 'The training run to evaluate.')
_NUM_SAMPLES = flags.DEFINE_integer('num_samples', None, 'Generator samples (default 10,000 images / 2,500 toy).')
_SAVE_SAMPLES = flags.DEFINE_string('save_samples', None, 'Also save the samples used here (.npy, [N, dim]).')
_REAL_CENTRES = flags.DEFINE_bool('real_centres', False, 'Use training examples instead of generator samples '
                                  '(the estimator for a perfect generator); writes eval_real_centres.json.')
_CLASSIFIER = flags.DEFINE_string('classifier', None, 'A classifier workdir (experiments.train_classifier) for '
                                  'classifier_score, frechet_distance, precision and recall.')
flags.mark_flags_as_required(['workdir'])


def main(argv):
  cli.start(argv)
  try:
    metrics, samples = runs.evaluate_run(_WORKDIR.value, _NUM_SAMPLES.value, _REAL_CENTRES.value,
                                               _CLASSIFIER.value)
  except cli.BAD_INPUT as error:
    cli.fail(str(error))
  name = 'eval_real_centres.json' if _REAL_CENTRES.value else 'eval.json'
  (pathlib.Path(_WORKDIR.value) / name).write_text(json.dumps(metrics, indent=2) + '\n')
  if _SAVE_SAMPLES.value:
    np.save(_SAVE_SAMPLES.value, samples)
  width = max(map(len, metrics))
  for name, value in metrics.items():
    print(f'{name:<{width}}  {value:.4g}' if isinstance(value, float) else f'{name:<{width}}  {value}')


if __name__ == '__main__':
  app.run(main)
