"""Regenerate the paper's figures as PNGs.

  python -m experiments.figures --out_dir docs/figures [--run DIR [--checkpoint latest|best|STEP]
      [--params raw|ema]]

Always: figure1.png (1-D data: p_data, p_g, D and D* at several moments of
training of the gauss1d preset; D moves toward D* and ends near ½). With
--run DIR (a trained image run, e.g. mnist_paper): figure3_interpolation.png
(G along straight lines in z space), samples.png (100 samples) and
training_curves.png (losses and mean D(x), D(G(z)) from its metrics.jsonl).
--checkpoint and --params pick the generator as in experiments.evaluate: the
latest (default), best or a step's checkpoint; raw (default) or ema weights.

A --out_dir that cannot be written, a --run that is not a training run or a
--checkpoint/--params that is not allowed stops it before any compute with
one line, and exit status 2.
"""

import json
import pathlib

import numpy as np
from absl import app, flags

from experiments import cli
from gan_jax import parallel
from gan_jax.data import datasets
from gan_jax.evaluation import viz
from gan_jax.reports import paper_figures, stored_runs
from gan_jax.training import rundir

_OUT_DIR = flags.DEFINE_string('out_dir', 'docs/figures', 'Where the PNGs go.')
_RUN = flags.DEFINE_string('run', None, 'A trained image run (its --workdir) for Figure 3, samples and curves.')
_CHECKPOINT = flags.DEFINE_string('checkpoint', 'latest', 'With --run, which checkpoint: latest, best (by the '
                                  'validation monitor of the training loop) or a step number.')
_PARAMS = flags.DEFINE_string('params', 'raw', 'With --run, which generator: raw (as trained) or ema (its weight '
                              'average).')


def check_flags(out_dir: str, run: str | None, checkpoint: str, params: str) -> pathlib.Path:
  """The directory the PNGs go to; exits with one line and status 2 if a flag is bad."""
  out = cli.check_output_dir('out_dir', out_dir)
  try:
    stored_runs.check_checkpoint_choice(checkpoint, params)
    if run is not None:
      cli.check_input_dir('run', run, [rundir.CONFIG, rundir.METRICS], holding='training run')
      dataset = stored_runs.load_run_config(run).dataset
      if dataset in datasets.TOY_DATASETS:
        cli.fail(f'--run={run} is a {dataset!r} run; Figure 3 needs images')
  except cli.BAD_INPUT as error:
    cli.fail(str(error))
  return out


def main(argv):
  cli.start(argv)
  out = check_flags(_OUT_DIR.value, _RUN.value, _CHECKPOINT.value, _PARAMS.value)
  out.mkdir(parents=True, exist_ok=True)
  written = []
  if _RUN.value:
    try:
      _, dataset, gan, state, keys = stored_runs.restore_run(_RUN.value, _CHECKPOINT.value, _PARAMS.value)
    except cli.BAD_INPUT as error:
      cli.fail(str(error))
    steps = parallel.algorithm(gan)
    g_params = steps.generators(gan, state)[_PARAMS.value]
    viz.save_png(out / 'figure3_interpolation.png',
                 paper_figures.interpolation_grid(gan, g_params, keys.interpolation, dataset.example_shape))
    samples = np.asarray(steps.sample(gan, g_params, keys.figure_samples, 100))
    viz.save_png(out / 'samples.png', viz.image_grid(samples, dataset.example_shape, columns=10))
    records = [json.loads(line) for line in rundir.RunDirectory(_RUN.value).metrics.read_text().splitlines()]
    paper_figures.plot_training_curves(records).savefig(out / 'training_curves.png', dpi=100)
    written += ['figure3_interpolation.png', 'samples.png', 'training_curves.png']
  paper_figures.plot_figure1(paper_figures.figure1_snapshots()).savefig(out / 'figure1.png', dpi=100)
  written.append('figure1.png')
  print('wrote ' + ', '.join(str(out / name) for name in written))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
