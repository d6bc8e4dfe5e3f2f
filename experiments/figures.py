"""Regenerate the paper's figures as PNGs.

  python -m experiments.figures --out_dir docs/figures [--run DIR]

Always: figure1.png (1-D data: p_data, p_g, D and D* at several moments of
training of the gauss1d preset; D moves toward D* and ends near ½). With
--run DIR (a trained image run, e.g. mnist_paper): figure3_interpolation.png
(G along straight lines in z space), samples.png (100 samples) and
training_curves.png (losses and mean D(x), D(G(z)) from its metrics.jsonl).
"""

import json
import pathlib

import jax
import numpy as np
from absl import app, flags

from experiments import cli
from gan_jax import figures, runs, train, viz

_OUT_DIR = flags.DEFINE_string('out_dir', 'docs/figures', 'Where the PNGs go.')
_RUN = flags.DEFINE_string('run', None, 'A trained image run (its --workdir) for Figure 3, samples and curves.')


def main(argv):
  cli.start(argv)
  out = pathlib.Path(_OUT_DIR.value)
  out.mkdir(parents=True, exist_ok=True)
  written = []
  if _RUN.value:
    try:
      _, dataset, gan, state, sample_key = runs.restore_run(_RUN.value)
    except cli.BAD_INPUT as error:
      cli.fail(str(error))
    if not dataset.is_image:
      cli.fail(f'--run={_RUN.value} is a {dataset.name!r} run; Figure 3 needs images')
    viz.save_png(out / 'figure3_interpolation.png',
                 figures.interpolation_grid(gan, state.g_params, jax.random.fold_in(sample_key, 3),
                                            dataset.example_shape))
    samples = np.asarray(train.sample(gan, state.g_params, jax.random.fold_in(sample_key, 4), 100))
    viz.save_png(out / 'samples.png', viz.image_grid(samples, dataset.example_shape, columns=10))
    records = [json.loads(line) for line in (pathlib.Path(_RUN.value) / 'metrics.jsonl').read_text().splitlines()]
    figures.plot_training_curves(records).savefig(out / 'training_curves.png', dpi=100)
    written += ['figure3_interpolation.png', 'samples.png', 'training_curves.png']
  figures.plot_figure1(figures.figure1_snapshots()).savefig(out / 'figure1.png', dpi=100)
  written.append('figure1.png')
  print('wrote ' + ', '.join(str(out / name) for name in written))


if __name__ == '__main__':
  app.run(main)
