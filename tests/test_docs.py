"""The docs are tested like code: their commands, links and result paths point at things that exist.

Nothing is run: modules and flags are read from the sources, config fields
from the configs' get_config(). See doc_checks.py for what counts as a
command, a link or a result path.
"""

import pytest

import doc_checks

DOCS = doc_checks.doc_files()
IDS = [doc_checks.relative(path) for path in DOCS]


def _report(problems: list[str]) -> str:
  """One problem a line, below pytest's assertion line."""
  return '\n'.join(['', *problems])


def test_the_docs_hold_the_commands_a_newcomer_needs():
  modules = {command.module for command in doc_checks.commands(doc_checks.REPO / 'README.md')}
  assert {'experiments.train', 'experiments.evaluate', 'pytest'} <= modules
  assert len(DOCS) > 1


@pytest.mark.parametrize('path', DOCS, ids=IDS)
def test_doc_commands_name_existing_modules_flags_and_config_fields(path):
  problems = [problem for command in doc_checks.commands(path) for problem in doc_checks.command_problems(command)]
  assert not problems, _report(problems)


@pytest.mark.parametrize('path', DOCS, ids=IDS)
def test_doc_links_and_images_resolve(path):
  problems = doc_checks.link_problems(path)
  assert not problems, _report(problems)


@pytest.mark.parametrize('path', DOCS, ids=IDS)
def test_doc_result_paths_exist(path):
  problems = doc_checks.result_path_problems(path)
  assert not problems, _report(problems)


def test_the_checks_name_a_missing_module_flag_field_config_and_link(tmp_path):
  page = tmp_path / 'page.md'
  page.write_text('Run `python -m experiments.nope --x`, then:\n\n```text\n'
                  'python -m experiments.train --config gan_jax/configs/gauss1d.py --workdir W \\\n'
                  '    --config.num_step=5 --wrokdir=W [--config.FIELD=VALUE ...]\n'
                  'python -m experiments.train --config gan_jax/configs/nope.py --config.seed=1 --noshout\n'
                  'python -m experiments.sweep --config gan_jax/configs/toy_ring.py --workdir S --notogether\n'
                  '```\n\n![a figure](figures/none.png) and [a page](https://example.org/x.md), [here](#nowhere)\n')
  problems = [problem for command in doc_checks.commands(page) for problem in doc_checks.command_problems(command)]
  where = str(page)
  assert problems == [
      f'{where}:1: `python -m experiments.nope`: no module experiments.nope in the repository',
      f"{where}:4: `--config.num_step=5`: the config has no field 'num_step'",
      f'{where}:4: `--wrokdir=W`: experiments.train defines no flag --wrokdir',
      f'{where}:6: `--config gan_jax/configs/nope.py`: no such config file',
      f'{where}:6: `--noshout`: experiments.train defines no flag --noshout',
  ]
  assert doc_checks.link_problems(page) == [
      f'{where}:10: link `figures/none.png` does not resolve ({tmp_path}/figures/none.png is missing)',
      f'{where}:10: link `#nowhere`: {where} has no heading #nowhere']
