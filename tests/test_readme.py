"""The README's promises: its snippet runs, CI runs its test command verbatim, and it stays a front door."""

import pathlib
import re

import jax
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
README = (REPO / 'README.md').read_text()


def _code_blocks(language):
  return re.findall(rf'```{language}\n(.*?)```', README, flags=re.S)


@pytest.mark.slow
def test_own_loop_snippet_runs_and_learns_the_gaussian(capsys):
  snippet = _code_blocks('python')[0]
  namespace = {}
  exec(compile(snippet, 'README.md', 'exec'), namespace)  # noqa: S102 (our own README)
  assert int(namespace['state'].step) == 1000
  samples = namespace['samples']
  assert abs(float(samples.mean()) - 3.0) < 0.25
  assert 'p_g mean' in capsys.readouterr().out
  assert isinstance(namespace['metrics']['d_real'], jax.Array)


def test_ci_runs_the_readme_test_command_verbatim():
  install_and_run, install_and_test, fast_lane = [block.strip() for block in _code_blocks('bash')]
  assert 'experiments.train' in install_and_run
  assert install_and_test in (REPO / '.ci' / 'run').read_text().splitlines()
  assert fast_lane == '.venv/bin/python -m pytest -q -n 2 tests -m "not slow"'


def test_readme_is_a_short_front_door_with_the_results_after_the_how_to():
  assert len(README.splitlines()) <= 250
  results = README.index('\n## Results')
  for how_to in ('pip install -e .', 'python -m experiments.train', 'python -m experiments.evaluate',
                 'gan_jax.train_step'):
    assert README.index(how_to) < results, f'{how_to!r} comes after the results'
