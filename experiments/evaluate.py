"""Evaluate a checkpoint of a training run; writes its metrics as JSON into the run's directory and prints a table.

  python -m experiments.evaluate --workdir DIR [--checkpoint latest|best|STEP] [--params raw|ema]
      [--num_samples N] [--save_samples PATH.npy] [--classifier DIR] [--real_centres]
      [--importance_samples K] [--bound_examples N]

--checkpoint: the latest (default), the best by the training loop's validation
monitor, or a step; --params: the generator as trained (raw, default) or its
weight average (ema, runs with config.g_ema_decay > 0). The metrics go to
DIR/eval.json for the latest raw generator, else to
DIR/eval_<checkpoint>_<params>.json (eval_best_ema.json, eval_12500_raw.json);
with --real_centres to DIR/eval_real_centres.json.

Images: Parzen-window log-likelihood by the paper's protocol (parzen_ll ±
parzen_se, parzen_sigma). Toy ring/grid: modes_covered, high_quality_frac,
reverse_kl, and where the samples sit: near_miss_frac (3 to 6 mode stds
from their mode), between_modes_frac (farther), and per mode the offset and
spread of its samples in mode stds (mode_offsets, mode_spreads). With
--classifier DIR, image runs also get classifier_score, frechet_distance,
precision and recall. A VAE's run (config.objective='vae')
also gets test_elbo and the importance-weighted bound test_log_likelihood_bound
(k = --importance_samples, on the first --bound_examples test images, 0 = all),
nats per binarised test image, each with its standard error. See gan_jax/evaluation/measures.py. It only
reads the run's checkpoints, so the run may be training meanwhile.

Bad input (a flag value that is not allowed, a directory that is not a run
or a classifier, a file that cannot be written) stops it before any compute
with one line naming the flag, and exit status 2.
"""

import io
import pathlib

import numpy as np
from absl import app, flags

from experiments import cli
from gan_jax.reports import stored_runs
from gan_jax.training import files, rundir

_WORKDIR = flags.DEFINE_string('workdir', None, 'The training run to evaluate.')
_CHECKPOINT = flags.DEFINE_string('checkpoint', 'latest', 'Which checkpoint: latest, best (by the validation '
                                  'monitor of the training loop) or a step number.')
_PARAMS = flags.DEFINE_string('params', 'raw', 'Which generator: raw (as trained) or ema (its weight average).')
_NUM_SAMPLES = flags.DEFINE_integer('num_samples', None, "Generator samples, at least 2, with --classifier at least 4 "
                                    "(default: the run's config.eval_num_samples for images, 2,500 otherwise).")
_SAVE_SAMPLES = flags.DEFINE_string('save_samples', None, 'Also save the samples used here (.npy, [N, dim]).')
_REAL_CENTRES = flags.DEFINE_bool('real_centres', False, 'Use training examples instead of generator samples '
                                  '(the estimator for a perfect generator); writes eval_real_centres.json.')
_CLASSIFIER = flags.DEFINE_string('classifier', None, 'A classifier workdir (experiments.train_classifier) for '
                                  'classifier_score, frechet_distance, precision and recall.')
_IMPORTANCE_SAMPLES = flags.DEFINE_integer('importance_samples', 5000, "A VAE's run: k of the importance-weighted "
                                           'bound on log p(x) (k = 1 is the ELBO).')
_BOUND_EXAMPLES = flags.DEFINE_integer('bound_examples', 0, "A VAE's run: the bound on the first N test images "
                                       '(0: all; each costs about k decoder passes).')
flags.mark_flags_as_required(['workdir'])

# Every metric needs 2 samples; precision and recall (k = 3) need each sample's 3rd nearest other sample.
_MIN_SAMPLES, _MIN_SAMPLES_WITH_CLASSIFIER = 2, 4


def check_flags(run: str | None, checkpoint: str, params: str, num_samples: int | None,
                save_samples: str | None, classifier: str | None, real_centres: bool,
                importance_samples: int = 5000, bound_examples: int = 0) -> pathlib.Path:
  """The file the metrics go to; exits with one line and status 2 if a flag is bad."""
  if importance_samples < 1:
    cli.fail(f'--importance_samples={importance_samples} must be at least 1')
  if bound_examples < 0:
    cli.fail(f'--bound_examples={bound_examples} must be 0 (all test images) or more')
  directory = rundir.RunDirectory(cli.check_input_dir('workdir', run, [rundir.CONFIG], holding='training run'))
  try:
    stored_runs.check_checkpoint_choice(checkpoint, params)
  except cli.BAD_INPUT as error:
    cli.fail(str(error))
  minimum = _MIN_SAMPLES_WITH_CLASSIFIER if classifier else _MIN_SAMPLES
  if num_samples is not None and num_samples < minimum:
    why = ' with --classifier (precision and recall use k = 3 nearest neighbours)' if classifier else ''
    cli.fail(f'--num_samples={num_samples} must be at least {minimum}{why}')
  if classifier is not None:
    cli.check_input_dir('classifier', classifier, [rundir.CLASSIFIER_CONFIG], holding='classifier')
  if save_samples is not None:
    cli.check_output_file('save_samples', save_samples, '.npy')
  output = directory.evaluation_report(checkpoint, params, real_centres)
  if problem := cli.write_problem(output):
    cli.fail(f'--workdir={run}: cannot write {output.name} there ({problem})')
  return output


def main(argv):
  cli.start(argv)
  output = check_flags(_WORKDIR.value, _CHECKPOINT.value, _PARAMS.value, _NUM_SAMPLES.value, _SAVE_SAMPLES.value,
                       _CLASSIFIER.value, _REAL_CENTRES.value, _IMPORTANCE_SAMPLES.value, _BOUND_EXAMPLES.value)
  try:
    metrics, samples = stored_runs.evaluate_run(_WORKDIR.value, _NUM_SAMPLES.value, _REAL_CENTRES.value,
                                                _CLASSIFIER.value, which=_CHECKPOINT.value, params=_PARAMS.value,
                                                importance_samples=_IMPORTANCE_SAMPLES.value,
                                                bound_examples=_BOUND_EXAMPLES.value)
  except cli.BAD_INPUT as error:
    cli.fail(str(error))
  files.write_text_atomically(output, files.to_json(metrics, indent=2) + '\n')
  if _SAVE_SAMPLES.value:
    path = pathlib.Path(_SAVE_SAMPLES.value)
    path.parent.mkdir(parents=True, exist_ok=True)
    npy = io.BytesIO()
    np.save(npy, samples)
    files.write_bytes_atomically(path, npy.getvalue())
  width = max(map(len, metrics))
  for name, value in metrics.items():
    print(f'{name:<{width}}  {shown(value)}')


def shown(value) -> str:
  """A metric for the table: floats to 4 significant digits, also inside lists (None as '-')."""
  if isinstance(value, float):
    return f'{value:.4g}'
  if isinstance(value, list):
    return '[' + ', '.join('-' if item is None else shown(item) for item in value) + ']'
  return str(value)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
