"""Averages of G rebuilt from a run's dense checkpoints (``averages_from_snapshots.py``), scored on test.

As ``experiments.evaluate`` scores a checkpoint: 10,000 samples from the run's evaluation noise, the Parzen
protocol (σ chosen on the first 1,000 validation images, the mean log-likelihood of the 10,000 test images ± its
standard error), and each classifier's score, Fréchet distance, precision and recall against the first 10,000
test images. One record per average and classifier.

  python test_of_snapshot_averages.py RUN_DIR OUT.jsonl EPOCH:β:c[,…] CLASSIFIER_DIR[,…]
  e.g. ... 220:0.99996:0,250:0.99997:0 classifier_a,classifier_b
"""

import json
import pathlib
import sys

import jax
import numpy as np

from averages_from_snapshots import ITERATIONS_PER_EPOCH, snapshot_weights
from gan_jax.data import datasets
from gan_jax.evaluation import classifier, measures
from gan_jax.reports import stored_runs
from gan_jax.training import checkpoint, rundir


def main(run_dir: str, out_path: str, averages: str, classifier_dirs: str):
  config, dataset, gan, state, keys = stored_runs.restore_run(run_dir, 'latest', 'raw')
  validation = np.asarray(datasets.to_float(dataset.validation[:config.eval_num_validation]))
  test = np.asarray(datasets.to_float(dataset.test))
  metrics_of = {}
  for directory in classifier_dirs.split(','):
    loaded = classifier.load_for_data(directory, rundir.read_classifier_config(directory), dataset, 'CLASSIFIER_DIR')
    metrics_of[pathlib.Path(directory).name] = classifier.ClassifierMetrics(*loaded, test[:config.eval_num_samples])
  manager = checkpoint.make_reader(rundir.RunDirectory(run_dir).checkpoints)
  steps = sorted(manager.all_steps())
  noise = gan.prior.sample(keys.evaluation_samples, config.eval_num_samples)
  generate = jax.jit(gan.generator)
  with open(out_path, 'a', encoding='utf-8') as out:
    for epoch, beta_cap, c in (tuple(float(v) for v in text.split(':')) for text in averages.split(',')):
      kept, weights = snapshot_weights(steps, beta_cap, c, int(epoch * ITERATIONS_PER_EPOCH))
      used = weights > 1e-4 * weights.max()
      average = None
      for step, weight in zip(np.asarray(kept)[used], weights[used] / weights[used].sum()):
        g_params = jax.device_get(checkpoint.restore_step(manager, int(step), state, keys.train, keys.data)[0].g_params)
        scaled = jax.tree.map(lambda leaf, w=weight: w * leaf, g_params)
        average = scaled if average is None else jax.tree.map(np.add, average, scaled)
      samples = np.asarray(generate(average, noise))
      parzen = measures.parzen_evaluation(samples, validation, test)
      for name, classifier_metrics in metrics_of.items():
        record = {'run': pathlib.Path(run_dir).name, 'epoch': epoch, 'beta': beta_cap, 'c': c, 'split': 'test',
                  'classifier': name, 'checkpoints_used': int(used.sum()), **parzen, **classifier_metrics(samples)}
        out.write(json.dumps(record) + '\n')
        out.flush()


if __name__ == '__main__':
  main(*sys.argv[1:])
