"""Weight averages of G rebuilt from one run's dense checkpoints, scored as the validation monitor scores.

One training run with a checkpoint every S iterations (``--config.checkpoint_every_steps=200
--config.keep_checkpoints=0``) holds G's raw weights g_S, g_2S, …; the average the loop would keep,
ḡ_t = β_t ḡ_{t−1} + (1 − β_t) g_t with β_t = min(β, (1 + t)/(c + t)) (``train.average_decay``), is rebuilt
from them by running the same recursion on the scalar weights, iteration by iteration, with g_t taken as the
checkpoint that ends t's block of S iterations (an approximation: within a block the weights move little). So
many averages of one trajectory can be compared without training once per average.

Each record: the run, the epoch (500 iterations of batch 100 on MNIST's 50,000 training images), β and c, and
the monitor's validation numbers (Parzen estimate on the first 1,000 validation images; classifier score,
Fréchet distance, precision and recall against the first 10,000 validation images).

  python averages_from_snapshots.py RUN_DIR CLASSIFIER_DIR OUT.jsonl EPOCHS SCHEMES [PICTURE_DIR]
  e.g. ... 20,40,60 0.999:0,0.9998:0,0.99999:2    (β:c; c = 0 is a plain exponential average)

With PICTURE_DIR, each average's 100 samples from the run's picture noise are saved there as a PNG.
"""

import functools
import json
import pathlib
import sys

import jax
import numpy as np
from PIL import Image

from gan_jax.data import datasets
from gan_jax.evaluation import classifier, measures, viz
from gan_jax.reports import stored_runs
from gan_jax.training import checkpoint, rundir

ITERATIONS_PER_EPOCH = 500


def snapshot_weights(steps: list[int], beta_cap: float, c: float, last_step: int) -> tuple[list[int], np.ndarray]:
  """The checkpoints up to ``last_step`` and the weight of each in ḡ at ``last_step`` (they sum to 1)."""
  kept = [step for step in steps if step <= last_step]
  block = kept[1] - kept[0]
  weights = np.zeros(len(kept))
  for i, end in enumerate(kept):
    for t in range(end - block, end):
      beta = min(beta_cap, (1 + t) / (c + t)) if c else beta_cap
      weights *= beta
      weights[i] += 1 - beta
  weights[0] += 1 - weights.sum()  # the initial weights' share, and the first block's, onto the first checkpoint
  return kept, weights


def main(run_dir: str, classifier_dir: str, out_path: str, epochs: str, schemes: str, picture_dir: str = ''):
  config, dataset, gan, state, keys = stored_runs.restore_run(run_dir, 'latest', 'raw')
  images = np.asarray(datasets.to_float(dataset.validation[:10_000]))
  loaded = classifier.load_for_data(classifier_dir, rundir.read_classifier_config(classifier_dir), dataset,
                                    'CLASSIFIER_DIR')
  monitor = measures.ValidationMonitor(gan.generator, gan.prior, images[:config.eval_num_validation],
                                       keys.evaluation_samples, config.eval_num_samples,
                                       classifier.ClassifierMetrics(*loaded, images))
  manager = checkpoint.make_reader(rundir.RunDirectory(run_dir).checkpoints)
  steps = sorted(manager.all_steps())
  @functools.cache  # each checkpoint's G is read once for all epochs and schemes (~10 MB each for the paper's G)
  def restore(step: int):
    return jax.device_get(checkpoint.restore_step(manager, step, state, keys.train, keys.data)[0].g_params)

  shown_noise = gan.prior.sample(keys.sample, 100)
  with open(out_path, 'a', encoding='utf-8') as out:
    for epoch in (float(text) for text in epochs.split(',')):
      for beta_cap, c in (tuple(float(v) for v in text.split(':')) for text in schemes.split(',')):
        kept, weights = snapshot_weights(steps, beta_cap, c, int(epoch * ITERATIONS_PER_EPOCH))
        used = weights > 1e-4 * weights.max()
        weights = weights[used] / weights[used].sum()
        average = None
        for step, weight in zip(np.asarray(kept)[used], weights):
          scaled = jax.tree.map(lambda leaf, w=weight: w * leaf, restore(int(step)))
          average = scaled if average is None else jax.tree.map(np.add, average, scaled)
        record = {'run': pathlib.Path(run_dir).name, 'epoch': epoch, 'beta': beta_cap, 'c': c,
                  'checkpoints_used': int(used.sum()), **monitor(average)}
        out.write(json.dumps(record) + '\n')
        out.flush()
        if picture_dir:
          samples = np.asarray(jax.jit(gan.generator)(average, shown_noise))
          name = f'{record["run"]}_epoch{int(epoch)}_beta{beta_cap}_c{int(c)}.png'
          Image.fromarray(viz.image_grid(samples, dataset.example_shape, columns=10)).save(
              pathlib.Path(picture_dir) / name)


if __name__ == '__main__':
  main(*sys.argv[1:])
