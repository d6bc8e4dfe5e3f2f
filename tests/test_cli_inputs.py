"""Bad paths and config files given to the mains in experiments/: one line 'error: …', exit status 2, nothing written.

Most cases call experiments/cli.py's checks and the mains' ``check_flags``
in-process; the few marked slow run a main as a subprocess.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from absl import flags

from conftest import experiment_main, xla_flags
from experiments import cli
from gan_jax.configs import gauss1d, mnist_paper, toy_ring
from image_files import write_folder
from tiny_runs import tiny_overrides, train_cli


REPO = pathlib.Path(__file__).resolve().parents[1]
needs_proc = pytest.mark.skipif(not os.path.isdir('/proc'), reason='needs /proc (Linux)')


evaluate, figures, sweep = experiment_main('evaluate'), experiment_main('figures'), experiment_main('sweep')


def _error(capsys, check, *args, **kwargs) -> str:
  """The message of ``check(*args, **kwargs)``, which must exit with status 2 after one line on stderr."""
  with pytest.raises(SystemExit) as exit_:
    check(*args, **kwargs)
  assert exit_.value.code == 2
  out, err = capsys.readouterr()
  assert out == '' and err.startswith('error: ') and err.count('\n') == 1, err
  return err.removeprefix('error: ').removesuffix('\n')


def _listing(directory: pathlib.Path) -> list[str]:
  return sorted(str(path.relative_to(directory)) for path in directory.rglob('*'))


# ---------------------------------------------------------------- cli.check_*

def test_output_dir_that_exists_or_can_be_created_is_accepted_and_nothing_is_written(tmp_path):
  assert cli.check_output_dir('workdir', str(tmp_path)) == tmp_path
  assert cli.check_output_dir('workdir', str(tmp_path / 'a' / 'b')) == tmp_path / 'a' / 'b'
  assert _listing(tmp_path) == []


def test_output_dir_problems(tmp_path, capsys):
  (tmp_path / 'file').write_text('')
  check = lambda path: _error(capsys, cli.check_output_dir, 'workdir', path, 'a directory (new or of this run)')
  assert check('') == '--workdir is empty; it must name a directory (new or of this run)'
  assert check(None) == '--workdir is empty; it must name a directory (new or of this run)'
  assert check(f'{tmp_path}/file') == (f'--workdir={tmp_path}/file is a file; it must be a directory (new or of '
                                      'this run)')
  assert check(f'{tmp_path}/file/x/y') == (f'--workdir={tmp_path}/file/x/y: cannot create it '
                                           f'({tmp_path}/file is not a directory)')
  assert _listing(tmp_path) == ['file']


@needs_proc
def test_output_dir_and_file_where_nothing_can_be_created(capsys):
  assert _error(capsys, cli.check_output_dir, 'workdir', '/proc/x/y') == \
      '--workdir=/proc/x/y: cannot create it (/proc is not writable)'
  assert _error(capsys, cli.check_output_dir, 'out_dir', '/proc') == '--out_dir=/proc is not writable'
  assert _error(capsys, cli.check_output_file, 'save_samples', '/proc/x/s.npy', '.npy') == \
      '--save_samples=/proc/x/s.npy: cannot write it (/proc is not writable)'


def test_output_file_problems(tmp_path, capsys):
  (tmp_path / 'file').write_text('')
  (tmp_path / 'dir.npy').mkdir()
  check = lambda path: _error(capsys, cli.check_output_file, 'save_samples', path, '.npy')
  assert check('') == '--save_samples is empty; it must name a .npy file'
  assert check(f'{tmp_path}/s.txt') == f'--save_samples={tmp_path}/s.txt must end in .npy'
  assert check(f'{tmp_path}/dir.npy') == (f'--save_samples={tmp_path}/dir.npy: cannot write it '
                                          f'({tmp_path}/dir.npy is a directory)')
  assert check(f'{tmp_path}/file/s.npy') == (f'--save_samples={tmp_path}/file/s.npy: cannot write it '
                                             f'({tmp_path}/file is not a directory)')
  assert cli.check_output_file('save_samples', f'{tmp_path}/new/s.npy', '.npy') == tmp_path / 'new' / 's.npy'
  assert _listing(tmp_path) == ['dir.npy', 'file']


def test_input_dir_problems(tmp_path, capsys):
  (tmp_path / 'file').write_text('')
  (tmp_path / 'run').mkdir()
  (tmp_path / 'run' / 'config.json').write_text('{}')
  check = lambda path, *args: _error(capsys, cli.check_input_dir, 'run', path, *args)
  assert check('') == '--run is empty; it must name a directory'
  assert check(f'{tmp_path}/nowhere') == f'--run={tmp_path}/nowhere does not exist'
  assert check(f'{tmp_path}/file') == f'--run={tmp_path}/file is not a directory'
  assert check(f'{tmp_path}/run', ['config.json', 'metrics.jsonl'], 'training run') == \
      f'--run={tmp_path}/run holds no training run (no metrics.jsonl)'
  assert check(f'{tmp_path}/run', ['metrics.jsonl']) == f'--run={tmp_path}/run holds no metrics.jsonl'
  assert cli.check_input_dir('run', str(tmp_path / 'run'), ['config.json']) == tmp_path / 'run'


# ---------------------------------------------------------------- config files

@pytest.fixture
def load_config(capsys):
  """Parses --config=PATH with cli.define_config_file into fresh FlagValues; returns (config, None) or (None, error)."""
  def load(path):
    sys.modules.pop('config_config', None)  # config_flags loads every file as this module, into the old one if any
    flag_values = flags.FlagValues()
    holder = cli.define_config_file('config', 'A config file.', flag_values=flag_values)
    try:
      flag_values(['main', f'--config={path}'])
    except SystemExit as exit_:
      assert exit_.code == 2
      err = capsys.readouterr().err
      assert err.startswith('error: ') and err.count('\n') == 1, err
      return None, err.removeprefix('error: ').removesuffix('\n')
    return holder.value, None
  return load


@pytest.mark.parametrize('source, reason', [
    ('def get_config():\n  return ml_collections.ConfigDict(dict(a=1)\n', "3: SyntaxError: '(' was never closed"),
    ('def get_config():\n  x = 1\n  return x +\n', '4: SyntaxError: invalid syntax'),
    ('def get_config():\n  config = ml_collections.ConfigDict()\n  return confg\n',
     "4: NameError: name 'confg' is not defined"),
    ('def get_config():\n  return ml_collections.ConfigDict(dict(a=int("x")))\n',
     "3: ValueError: invalid literal for int() with base 10: 'x'"),
    ('def get_config():\n  return open("/nonexistent/x.json")\n',
     "3: FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/x.json'"),
    ('import nonexistent_module_x\n', "2: ModuleNotFoundError: No module named 'nonexistent_module_x'"),
])
def test_config_file_that_does_not_load_names_the_file_the_line_and_the_reason(tmp_path, load_config, source,
                                                                                  reason):
  path = tmp_path / 'config.py'
  path.write_text('import ml_collections\n' + source)
  assert load_config(path) == (None, f'--config={path} could not be loaded: {path}:{reason}')


def test_config_file_missing_or_without_a_config(tmp_path, load_config):
  assert load_config(tmp_path / 'nope.py') == (
      None, f"--config could not be loaded: [Errno 2] No such file or directory: '{tmp_path / 'nope.py'}'")
  (tmp_path / 'empty.py').write_text('x = 1\n')
  assert load_config(tmp_path / 'empty.py') == (
      None, f'--config={tmp_path / "empty.py"} could not be loaded: {tmp_path / "empty.py"} defines no get_config()')
  (tmp_path / 'none.py').write_text('def get_config():\n  pass\n')
  assert load_config(tmp_path / 'none.py') == (
      None, f'--config={tmp_path / "none.py"} could not be loaded: get_config() returned None, not a ConfigDict')


def test_config_file_that_loads_is_the_locked_config(load_config):
  config, error = load_config(REPO / 'gan_jax' / 'configs' / 'gauss1d.py')
  assert error is None and config.to_dict() == gauss1d.get_config().to_dict() and config.is_locked


# ---------------------------------------------------------------- experiments.evaluate

@pytest.fixture
def run_dir(tmp_path) -> pathlib.Path:
  """A directory that passes for a training run before anything is loaded: it has a config.json."""
  (tmp_path / 'run').mkdir()
  (tmp_path / 'run' / 'config.json').write_text(json.dumps(gauss1d.get_config().to_dict()))
  return tmp_path / 'run'


def _evaluate_flags(workdir, checkpoint='latest', params='raw', num_samples=None, save_samples=None, classifier=None,
                    real_centres=False):
  return evaluate.check_flags(str(workdir), checkpoint, params, num_samples, save_samples, classifier, real_centres)


def test_evaluate_writes_to_a_file_named_by_checkpoint_and_params(run_dir):
  assert _evaluate_flags(run_dir) == run_dir / 'eval.json'
  assert _evaluate_flags(run_dir, 'best', 'ema') == run_dir / 'eval_best_ema.json'
  assert _evaluate_flags(run_dir, '12500', 'raw') == run_dir / 'eval_12500_raw.json'
  assert _evaluate_flags(run_dir, 'latest', 'ema') == run_dir / 'eval_latest_ema.json'
  assert _evaluate_flags(run_dir, 'best', 'ema', real_centres=True) == run_dir / 'eval_real_centres.json'
  assert _listing(run_dir) == ['config.json']


def test_evaluate_bad_flags(tmp_path, run_dir, capsys):
  classifier = tmp_path / 'classifier'
  classifier.mkdir()
  check = lambda *args, **kwargs: _error(capsys, _evaluate_flags, *args, **kwargs)
  assert check(tmp_path) == f'--workdir={tmp_path} holds no training run (no config.json)'
  assert check(tmp_path / 'nowhere') == f'--workdir={tmp_path / "nowhere"} does not exist'
  assert check(run_dir, checkpoint='last') == "--checkpoint='last' must be latest, best or a step number"
  assert check(run_dir, checkpoint='-5') == "--checkpoint='-5' must be latest, best or a step number"
  assert check(run_dir, params='average') == "--params='average' is not allowed; allowed: ['raw', 'ema']"
  for count in (1, 0, -3):
    assert check(run_dir, num_samples=count) == f'--num_samples={count} must be at least 2'
  assert check(run_dir, num_samples=3, classifier=str(classifier)) == (
      '--num_samples=3 must be at least 4 with --classifier (precision and recall use k = 3 nearest neighbours)')
  assert check(run_dir, classifier=str(classifier)) == (f'--classifier={classifier} holds no classifier '
                                                       '(no classifier.json)')
  assert check(run_dir, classifier='') == '--classifier is empty; it must name a directory'
  assert check(run_dir, save_samples=str(tmp_path / 'samples')) == (f'--save_samples={tmp_path / "samples"} must '
                                                                   'end in .npy')
  (run_dir / 'eval_best_raw.json').mkdir()
  assert check(run_dir, 'best') == (f'--workdir={run_dir}: cannot write eval_best_raw.json there '
                                    f'({run_dir / "eval_best_raw.json"} is a directory)')
  (classifier / 'classifier.json').write_text('{}')
  assert _evaluate_flags(run_dir, num_samples=4, classifier=str(classifier),
                         save_samples=str(tmp_path / 's.npy')) == run_dir / 'eval.json'
  assert _evaluate_flags(run_dir, num_samples=2) == run_dir / 'eval.json'
  assert _listing(run_dir) == ['config.json', 'eval_best_raw.json']


# ---------------------------------------------------------------- experiments.figures

def test_figures_bad_flags(tmp_path, run_dir, capsys):
  (tmp_path / 'file').write_text('')
  check = lambda *args: _error(capsys, figures.check_flags, *args)
  assert check(str(tmp_path / 'file'), None, 'latest', 'raw') == (f'--out_dir={tmp_path / "file"} is a file; it must '
                                                                 'be a directory')
  assert check(str(tmp_path / 'out'), str(run_dir), 'latest', 'raw') == (
      f'--run={run_dir} holds no training run (no metrics.jsonl)')
  (run_dir / 'metrics.jsonl').write_text('')
  assert check(str(tmp_path / 'out'), str(run_dir), 'latest', 'raw') == (
      f"--run={run_dir} is a 'gauss1d' run; Figure 3 needs images")
  assert check(str(tmp_path / 'out'), None, 'newest', 'raw') == (
      "--checkpoint='newest' must be latest, best or a step number")
  assert check(str(tmp_path / 'out'), None, 'best', 'both') == "--params='both' is not allowed; allowed: ['raw', 'ema']"
  (run_dir / 'config.json').write_text(json.dumps(mnist_paper.get_config().to_dict()))
  assert figures.check_flags(str(tmp_path / 'out'), str(run_dir), 'best', 'ema') == tmp_path / 'out'
  assert not (tmp_path / 'out').exists()


# ---------------------------------------------------------------- experiments.sweep

def test_sweep_bad_flags(tmp_path, capsys):
  check = lambda *args: _error(capsys, sweep.check_flags, *args)
  ring = toy_ring.get_config()
  assert check(gauss1d.get_config(), str(tmp_path / 's'), 2, 'raw') == (
      "config.dataset='gauss1d' has no mode metrics; allowed: ['toy_ring', 'toy_grid']")
  assert check(ring, str(tmp_path / 's'), 0, 'raw') == '--seeds=0 must be at least 1'
  assert check(ring, '', 2, 'raw') == '--workdir is empty; it must name a directory (new or of this sweep)'
  assert check(ring, str(tmp_path / 's'), 2, 'mean') == "--params='mean' is not allowed; allowed: ['raw', 'ema']"
  assert ring.g_ema_decay > 0 and sweep.check_flags(ring, str(tmp_path / 's'), 2, 'ema').root == tmp_path / 's'
  ring.g_ema_decay = 0.0
  assert check(ring, str(tmp_path / 's'), 2, 'ema') == ('--params=ema needs a run trained with config.g_ema_decay '
                                                       '> 0; --config keeps no weight average')
  assert _listing(tmp_path) == []


# ---------------------------------------------------------------- the mains as commands

def _command(module: str, *args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
  env = {**os.environ, 'JAX_PLATFORMS': 'cpu', 'XLA_FLAGS': xla_flags(),
         'PYTHONPATH': os.pathsep.join(filter(None, [str(REPO), os.environ.get('PYTHONPATH')]))}
  return subprocess.run([sys.executable, '-m', f'experiments.{module}', *args], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_train_with_an_empty_workdir_writes_nothing_in_the_current_directory(tmp_path):
  result = _command('train', '--config', str(REPO / 'gan_jax/configs/gauss1d.py'), '--workdir=', cwd=tmp_path)
  assert (result.returncode, result.stderr) == (2, 'error: --workdir is empty; it must name a directory (new or of '
                                                   'this run)\n')
  assert _listing(tmp_path) == []


@pytest.mark.slow
def test_train_with_a_config_file_that_does_not_parse(tmp_path):
  (tmp_path / 'broken.py').write_text('import ml_collections\n\ndef get_config(:\n  pass\n')
  result = _command('train', '--config', 'broken.py', '--workdir', 'run', cwd=tmp_path)
  assert (result.returncode, result.stderr) == (
      2, 'error: --config=broken.py could not be loaded: broken.py:3: SyntaxError: invalid syntax\n')
  assert _listing(tmp_path) == ['broken.py']


@pytest.mark.slow
def test_train_on_an_npz_file_of_ragged_rows_fails_with_one_line_before_any_compute(tmp_path):
  rows = np.empty(2, object)
  rows[:] = [np.zeros(3, np.uint8), np.zeros(5, np.uint8)]
  np.savez(tmp_path / 'ragged.npz', rows)
  result = _command('train', '--config', str(REPO / 'gan_jax/configs/mnist_paper.py'),
                    '--config.dataset=npz:ragged.npz', '--workdir', 'run', cwd=tmp_path)
  assert result.returncode == 2, result.stderr[-2000:]
  assert result.stderr.startswith("error: dataset='npz:ragged.npz': cannot read ragged.npz as a .npz file "
                                  '(ValueError: Object arrays cannot be loaded'), result.stderr
  assert result.stderr.count('\n') == 1, result.stderr
  assert _listing(tmp_path) == ['ragged.npz']


@pytest.mark.slow
def test_evaluate_with_too_few_samples(tmp_path, run_dir):
  result = _command('evaluate', f'--workdir={run_dir}', '--num_samples=1', cwd=tmp_path)
  assert (result.returncode, result.stderr) == (2, 'error: --num_samples=1 must be at least 2\n')
  assert _listing(run_dir) == ['config.json']


def test_validation_curves_keep_only_the_monitor_records_and_reject_bad_curves(tmp_path, capsys):
  from experiments import validation_curves
  run = tmp_path / 'run'
  run.mkdir()
  records = [{'step': 100, 'epoch': 0.2, 'd_loss': 0.7, 'wall_time': 3.0, 'run_time': 3.0},
             {'step': 200, 'epoch': 0.4, 'd_loss': 0.6, 'validation_ll': 12.5, 'validation_sigma': 0.2,
              'best_validation_ll': 12.5, 'eval_seconds': 1.0, 'wall_time': 6.0, 'run_time': 6.0}]
  (run / 'metrics.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in records))
  assert validation_curves.evaluations(run) == [{'step': 200, 'epoch': 0.4, 'validation_ll': 12.5,
                                                 'validation_sigma': 0.2, 'run_time': 6.0}]
  assert validation_curves.parse_curves([f'faithful={run}']) == {'faithful': run}
  for spec, message in (('nameless', "--curve='nameless' must be NAME=RUN_DIR"),
                        (f'a b={run}', f"--curve='a b={run}' must be NAME=RUN_DIR"),
                        (f'x={tmp_path / "nowhere"}', f'--curve={tmp_path / "nowhere"} does not exist')):
    with pytest.raises(SystemExit) as exit_:
      validation_curves.parse_curves([spec])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith(f'error: {message}')
  validation_curves.check_figure_name('h200_priors.png')
  for name in ('figure.pdf', 'sub/figure.png'):
    with pytest.raises(SystemExit) as exit_:
      validation_curves.check_figure_name(name)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: --figure='{name}' must be a file name ending in .png")


def _cluster(address, processes, process):
  return [f'--coordinator_address={address}', f'--num_processes={processes}', f'--process_id={process}']


@pytest.mark.parametrize('distributed, cluster, message', [
    (False, (None, 2, None), '--num_processes is only used with --distributed'),
    (True, (None, 2, None), '--coordinator_address, --num_processes and --process_id go together: give all '
                            'three, or none to let JAX detect the cluster'),
    (True, ('localhost', 2, 0), "--coordinator_address='localhost' must be host:port with a port in 1..65535"),
    (True, ('10.0.0.2:99999', 2, 0), "--coordinator_address='10.0.0.2:99999' must be host:port with a port in "
                                     "1..65535"),
    (True, ('10.0.0.2:8476', 0, 0), '--num_processes=0 must be at least 1'),
    (True, ('10.0.0.2:8476', 2, 2), '--process_id=2 must be in 0..1 (--num_processes=2)'),
])
def test_multi_host_flags_that_do_not_fit_together_are_one_line_and_status_2(distributed, cluster, message,
                                                                           capsys):
  from experiments import train as train_main  # defines the command's flags
  with pytest.raises(SystemExit) as exit_:
    train_main.check_distributed_flags(distributed, *cluster)
  assert exit_.value.code == 2
  assert capsys.readouterr().err == f'error: {message}\n'


def _flag_cases(tmp: pathlib.Path):
  a_file = tmp / 'a_file'
  a_file.write_text('')
  return [
      (['--config.batch_sise=3'], '--config.batch_sise is not a config field; did you mean --config.batch_size?'),
      (['--config.batch_size=abc'], "flag --config.batch_size=abc: invalid literal for int() with base 10: 'abc'"),
      (['--bogus_flag=1'], "Unknown command line flag 'bogus_flag'"),
      (['leftover'], "unexpected arguments ['leftover']; pass settings as --config.FIELD=VALUE"),
      ([f'--workdir={a_file}'], f'--workdir={a_file} is a file; it must be a directory (new or of this run)'),
      (['--distributed', *_cluster('10.0.0.2:8476', 2, 0), '--config.batch_size=0'],  # validated before joining
       'config.batch_size=0 must be a positive integer'),
  ]


@pytest.mark.slow
def test_bad_flags_fail_through_the_cli_with_one_line_and_status_2(tmp_path):
  """The command line itself (flag parsing, exit codes); the config and data cases run in-process above."""
  for extra, message in _flag_cases(tmp_path):
    workdir = tmp_path / 'run'
    result = train_cli('--config', 'gan_jax/configs/gauss1d.py', '--workdir', str(workdir), *extra)
    assert result.returncode == 2, (extra, result.stderr)
    assert result.stderr.startswith(f'error: {message}'), (extra, result.stderr)
    assert result.stderr.count('\n') == 1 and 'Traceback' not in result.stderr, result.stderr
    assert not (workdir / 'checkpoints').exists(), extra


@pytest.mark.slow
def test_missing_config_file_is_bad_input(tmp_path):
  result = train_cli('--config', 'gan_jax/configs/nope.py', '--workdir', str(tmp_path))
  assert result.returncode == 2
  assert result.stderr == ("error: --config could not be loaded: [Errno 2] No such file or directory: "
                           "'gan_jax/configs/nope.py'\n")


@pytest.mark.slow
def test_the_cli_trains_on_a_folder_and_refuses_an_empty_one_with_status_2(tmp_path):
  folder = write_folder(tmp_path / 'faces', count=40)
  command = [sys.executable, '-m', 'experiments.train', '--config', 'gan_jax/configs/mnist_paper.py',
             f'--config.dataset=images:{folder}', '--config.image_size=8', f'--config.cache_dir={tmp_path / "c"}',
             *[f'--config.{k}={v}' for k, v in tiny_overrides().items()]]
  done = subprocess.run([*command, '--workdir', str(tmp_path / 'run')], cwd=REPO, capture_output=True, text=True)
  assert done.returncode == 0, done.stderr[-2000:]
  assert (tmp_path / 'run' / 'checkpoints' / '6').is_dir()
  (tmp_path / 'empty').mkdir()
  command[command.index(f'--config.dataset=images:{folder}')] = f'--config.dataset=images:{tmp_path / "empty"}'
  refused = subprocess.run([*command, '--workdir', str(tmp_path / 'no_run')], cwd=REPO, capture_output=True,
                           text=True)
  assert refused.returncode == 2
  assert refused.stderr == f"error: dataset='images:{tmp_path / 'empty'}': no image files (.png, .jpg, .jpeg) " \
                           f"under {tmp_path / 'empty'}\n"
  assert not (tmp_path / 'no_run').exists()


@pytest.mark.parametrize('bound_flags, message', [
    (dict(importance_samples=0), '--importance_samples=0 must be at least 1'),
    (dict(bound_examples=-1), '--bound_examples=-1 must be 0 (all test images) or more')])
def test_evaluate_refuses_a_likelihood_bound_without_draws_or_images(tmp_path, capsys, bound_flags, message):
  from experiments import evaluate
  with pytest.raises(SystemExit) as exit_info:
    evaluate.check_flags(str(tmp_path), 'latest', 'raw', None, None, None, False, **bound_flags)
  assert exit_info.value.code == 2 and capsys.readouterr().err == f'error: {message}\n'
  assert not list(tmp_path.iterdir())
