"""Keep runs' validation curves as small result files and draw them against epoch, 225 marked.

  python -m experiments.validation_curves --out_dir docs/results/validation_curves \
      --curve faithful_uniform=RUN_DIR [--curve NAME=RUN_DIR ...]

For each run: NAME.jsonl, one line per evaluation of the training loop's
Parzen monitor (step, epoch, validation_ll, validation_sigma, the
classifier metrics where the monitor had a classifier, the *_ema values
where the run kept a weight average, run_time in seconds); and one
figure of them all, validation_curves.png (``--figure`` names another). Bad flags stop it before any work
with one line and exit status 2.
"""

import json
import pathlib
import re

from absl import app, flags

from experiments import cli
from gan_jax.reports import paper_figures
from gan_jax.training import rundir

_OUT_DIR = flags.DEFINE_string('out_dir', 'docs/results/validation_curves',
                               'Where NAME.jsonl and validation_curves.png go (a folder of its own).')
_FIGURE = flags.DEFINE_string('figure', 'validation_curves.png', 'The figure\'s file name in --out_dir (.png).')
_CURVES = flags.DEFINE_multi_string('curve', [], 'NAME=RUN_DIR: a training run with the Parzen monitor on.')
KEPT = ('step', 'epoch', 'run_time')  # and every score of the monitor, whose names all start with 'validation_'


def parse_curves(specs: list[str]) -> dict[str, pathlib.Path]:
  """NAME → run directory; exits with one line and status 2 for a malformed or missing one."""
  if not specs:
    cli.fail('give at least one --curve=NAME=RUN_DIR')
  curves = {}
  for spec in specs:
    name, _, run = spec.partition('=')
    if not re.fullmatch(r'[\w.-]+', name) or not run:
      cli.fail(f'--curve={spec!r} must be NAME=RUN_DIR with NAME of letters, digits, _ . -')
    cli.check_input_dir('curve', run, [rundir.METRICS], holding='training run')
    curves[name] = pathlib.Path(run)
  return curves


def check_figure_name(name: str) -> None:
  """Exits with one line and status 2 unless ``name`` is a .png file name without a directory."""
  if not re.fullmatch(r'[\w.-]+\.png', name):
    cli.fail(f'--figure={name!r} must be a file name ending in .png, without a directory')


def evaluations(run: pathlib.Path) -> list[dict]:
  """The metrics.jsonl records of ``run`` that hold a monitor estimate, cut to ``KEPT`` and the monitor's scores."""
  records = [json.loads(line) for line in rundir.RunDirectory(run).metrics.read_text().splitlines() if line.strip()]
  return [{key: value for key, value in r.items() if key in KEPT or key.startswith('validation_')}
          for r in records if 'validation_ll' in r]


def main(argv):
  cli.start(argv)
  curves = parse_curves(_CURVES.value)
  check_figure_name(_FIGURE.value)
  out = cli.check_output_dir('out_dir', _OUT_DIR.value)
  out.mkdir(parents=True, exist_ok=True)
  kept = {name: evaluations(run) for name, run in curves.items()}
  for name, records in kept.items():
    (out / f'{name}.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in records))
  paper_figures.plot_validation_curves(kept).savefig(out / _FIGURE.value, dpi=100)
  print(f'wrote {", ".join(f"{name}.jsonl" for name in kept)} and {_FIGURE.value} in {out}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
