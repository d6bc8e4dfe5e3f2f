"""The training loop in-process: exact resume, stopping, the validation monitor, several seeds, divergence."""

import dataclasses
import json
import os
import shutil
import signal
import types

import jax
import numpy as np
import pytest

from conftest import trees_equal
from gan_jax import train
from gan_jax.configs import gauss1d, mnist_paper
from gan_jax.data import datasets
from gan_jax.evaluation import measures
from gan_jax.reports import stored_runs
from gan_jax.training import checkpoint, construction, loop, plan, rundir, seed_runs
from tiny_runs import kept_best, monitor_records, monitored_config, random_classifier, SAME_SAMPLES_NATS, tiny_config


TIMINGS = ('it_per_s', 'wall_time', 'run_time', 'eval_seconds')  # metrics.jsonl fields that are clock readings


def _final_state(config, workdir):
  dataset = datasets.load(config.dataset, jax.random.split(jax.random.key(config.seed), 3)[1])
  _, initial = construction.build_on_one_device(plan.game_spec(config), dataset, config.seed)
  manager = checkpoint.make_manager(workdir / 'checkpoints', config.keep_checkpoints)
  key = jax.random.key(0)
  return checkpoint.restore_latest(manager, initial, key, key)[0]


def test_stop_and_resume_ends_bit_identical_to_an_uninterrupted_run(tmp_path, idx_dir):
  config = tiny_config(mnist_paper.get_config(), dataset=f'idx:{idx_dir}', num_steps=12, keep_checkpoints=10)
  loop.run(config, tmp_path / 'straight', print_fn=lambda _: None)

  stopped = tiny_config(mnist_paper.get_config(), dataset=f'idx:{idx_dir}', num_steps=6, keep_checkpoints=10)
  loop.run(stopped, tmp_path / 'resumed', print_fn=lambda _: None)
  with open(tmp_path / 'resumed' / 'metrics.jsonl', 'a') as log:  # as if killed after logging step 9
    log.write(json.dumps({'step': 9, 'd_loss': 123.0}) + '\n')
  lines = []
  loop.run(config, tmp_path / 'resumed', print_fn=lines.append)
  assert lines[0] == f'resumed from step 6 of {tmp_path / "resumed" / "checkpoints"}'

  straight, resumed = _final_state(config, tmp_path / 'straight'), _final_state(config, tmp_path / 'resumed')
  assert int(resumed.step) == 12
  assert trees_equal(straight, resumed)
  strip = lambda path: [{k: v for k, v in json.loads(line).items() if k not in TIMINGS}
                        for line in path.read_text().splitlines()]
  assert strip(tmp_path / 'straight' / 'metrics.jsonl') == strip(tmp_path / 'resumed' / 'metrics.jsonl')

  finished = {name: (tmp_path / 'straight' / name).read_bytes() for name in ('summary.json', 'metrics.jsonl')}
  assert loop.run(config, tmp_path / 'straight', print_fn=lambda _: None) == json.loads(
      finished['summary.json'])  # a rerun of a finished run trains nothing and keeps its summary
  assert {name: (tmp_path / 'straight' / name).read_bytes() for name in finished} == finished
  assert 'd_loss' in json.loads(finished['summary.json'])


def test_a_sigterm_in_the_last_chunk_ends_the_run_as_finished_with_its_summary(tmp_path):
  config = tiny_config(gauss1d.get_config())
  last_line = f'{config.num_steps}/{config.num_steps}'

  def terminate_in_the_last_chunk(line):  # its console line comes before the stop check
    if line.startswith('step') and line.split()[1] == last_line:
      os.kill(os.getpid(), signal.SIGTERM)

  summary = loop.run(config, tmp_path, print_fn=terminate_in_the_last_chunk)
  assert 'stopped' not in summary and summary['step'] == config.num_steps and 'sample_mean' in summary
  assert json.loads((tmp_path / 'summary.json').read_text()) == summary


@pytest.mark.slow
def test_same_config_and_seed_give_identical_metrics(tmp_path):
  config = tiny_config(gauss1d.get_config())
  for name in ('a', 'b'):
    loop.run(config, tmp_path / name, print_fn=lambda _: None)
  config.seed = 1
  loop.run(config, tmp_path / 'c', print_fn=lambda _: None)
  metrics = {name: [{k: v for k, v in json.loads(line).items() if k not in TIMINGS}
                    for line in (tmp_path / name / 'metrics.jsonl').read_text().splitlines()]
             for name in 'abc'}
  assert metrics['a'] == metrics['b'] != metrics['c']


@pytest.mark.slow
def test_the_monitor_logs_each_generator_and_keeps_the_best_checkpoint_of_each(straight_run):
  records = monitor_records(straight_run)
  assert [r['step'] for r in records] == [3, 6, 9, 12]
  for suffix, generator in (('', 'raw'), ('_ema', 'ema')):
    scores = [r[f'validation_ll{suffix}'] for r in records]
    best_step = records[int(np.argmax(scores))]['step']
    assert [r[f'best_validation_ll{suffix}'] for r in records] == list(np.maximum.accumulate(scores))
    assert kept_best(straight_run, generator) == ([best_step], best_step, max(scores))
    assert all(r[f'validation_sigma{suffix}'] in measures.SIGMAS for r in records)
  assert all(r['eval_seconds'] > 0 for r in records)


@pytest.mark.slow
def test_the_monitor_equals_evaluate_on_the_same_samples_and_sigma_grid(straight_run):
  last = monitor_records(straight_run)[-1]
  for params, suffix in (('raw', ''), ('ema', '_ema')):
    report, samples = stored_runs.evaluate_run(straight_run, which='latest', params=params)
    assert report['step'] == 12 and samples.shape == (64, 784)
    assert report['parzen_sigma'] == last[f'validation_sigma{suffix}']
    assert abs(report['validation_ll'] - last[f'validation_ll{suffix}']) <= SAME_SAMPLES_NATS


@pytest.mark.slow
def test_best_checkpoints_and_the_average_resume_exactly(idx_dir, straight_run, tmp_path):
  loop.run(monitored_config(idx_dir, num_steps=6), tmp_path, print_fn=lambda _: None)
  loop.run(monitored_config(idx_dir), tmp_path, print_fn=lambda _: None)  # resumes at 6
  strip = lambda records: [{k: v for k, v in r.items() if k not in ('it_per_s', 'wall_time', 'run_time',
                                                                    'eval_seconds')} for r in records]
  assert strip(monitor_records(tmp_path)) == strip(monitor_records(straight_run))
  for generator in rundir.GENERATORS:
    assert kept_best(tmp_path, generator) == kept_best(straight_run, generator)
    resumed, straight = (stored_runs.restore_run(w, 'best', generator)[3] for w in (tmp_path, straight_run))
    assert trees_equal(resumed, straight)  # g_params_ema included
  latest = [stored_runs.restore_run(w)[3] for w in (tmp_path, straight_run)]
  assert latest[0].g_params_ema is not None and trees_equal(*latest)


def test_a_better_score_below_the_kept_best_step_is_reported_and_the_best_kept(idx_dir, tmp_path):
  """After a resume that does not retrace the run (other devices), a better score may come at a step below the
  kept best's, which orbax cannot write: the log keeps the kept best's score and a note says why."""
  config = monitored_config(idx_dir, g_ema_decay=0.0)
  setup = seed_runs.set_up(config, [rundir.RunDirectory(tmp_path)], [config.seed], print_fn=lambda _: None)
  try:
    scores = iter([-100.0, -50.0])
    seed_run = dataclasses.replace(setup.runs[0], monitor=lambda _: {'validation_ll': next(scores),
                                                                      'validation_sigma': 0.2})
    lines = []
    evaluate = lambda step: loop._evaluate(train, setup.gan, seed_run, seed_run.state.replace(step=step),
                                           setup.plan.evaluation, lines.append)
    assert evaluate(12)['best_validation_ll'] == -100.0
    assert lines == []
    assert evaluate(6)['best_validation_ll'] == -100.0
    assert len(lines) == 1 and lines[0].startswith('note: step 6 scores validation_ll=-50.00 (raw), better than '
                                                   "the best checkpoint's -100.00, but that is of step 12, not below "
                                                   'this one')
    assert kept_best(tmp_path, 'raw') == ([12], 12, -100.0)
  finally:
    setup.close()


def test_the_best_rules_keep_the_best_parzen_or_the_sharpest_within_the_bars(idx_dir, tmp_path):
  """A stub monitor scores steps 3..15: the Parzen-best step (9) misses the recall bar, so the both-rule keeps
  step 6, the best Parzen among the steps within the classifier bars; the sharpest-rule keeps step 15, the lowest
  Fréchet distance among the steps within those bars and a Parzen bar of 15 nats (step 3 is below it). Until a
  step meets the bars no best is kept; evaluate's reader of the run finds the same best step."""
  random_classifier(tmp_path / 'classifier', 784)
  scripted = {3: dict(validation_ll=10.0, validation_frechet_distance=1.2, validation_recall=0.9),
              6: dict(validation_ll=20.0, validation_frechet_distance=2.0, validation_recall=0.85),
              9: dict(validation_ll=40.0, validation_frechet_distance=1.0, validation_recall=0.5),
              12: dict(validation_ll=30.0, validation_frechet_distance=9.0, validation_recall=0.9),
              15: dict(validation_ll=16.0, validation_frechet_distance=1.5, validation_recall=0.9)}
  bars = dict(eval_classifier_dir=str(tmp_path / 'classifier'), eval_best_max_frechet=2.5, eval_best_min_recall=0.8)
  rules = {'parzen': {}, 'both': bars,
           'sharpest': dict(bars, eval_best_by='validation_frechet_distance', eval_best_min_ll=15.0)}
  kept = {}
  for rule, fields in rules.items():
    config = monitored_config(idx_dir, g_ema_decay=0.0, **fields)
    setup = seed_runs.set_up(config, [rundir.RunDirectory(tmp_path / rule)], [config.seed], print_fn=lambda _: None)
    try:
      step_scored = []
      seed_run = dataclasses.replace(setup.runs[0], monitor=lambda _: {**scripted[step_scored[-1]],
                                                                        'validation_sigma': 0.2})
      best = []
      for step in scripted:
        step_scored.append(step)
        scores = loop._evaluate(train, setup.gan, seed_run, seed_run.state.replace(step=step),
                                setup.plan.evaluation, lambda line: pytest.fail(line))
        best.append(scores.get('best_validation_ll'))
    finally:
      setup.close()
    kept[rule] = int(stored_runs.restore_run(tmp_path / rule, 'best')[3].step), best
  assert kept['parzen'] == (9, [10.0, 20.0, 40.0, 40.0, 40.0])
  assert kept['both'] == (6, [10.0, 20.0, 20.0, 20.0, 20.0])
  assert kept['sharpest'] == (15, [None, 20.0, 20.0, 20.0, 16.0])


def test_a_resume_with_another_classifier_is_refused_and_the_same_one_moved_elsewhere_is_not(idx_dir, tmp_path):
  """The run records its monitor's classifier by its weights: a copy in another directory resumes, a classifier
  trained again (another seed) is refused with one line, and the record is kept; a broken record is refused too."""
  random_classifier(tmp_path / 'classifier', 784, seed=0)
  random_classifier(tmp_path / 'retrained', 784, seed=1)
  shutil.copytree(tmp_path / 'classifier', tmp_path / 'moved')
  directory = rundir.RunDirectory(tmp_path / 'run')

  def open_and_close(classifier_dir):
    config = monitored_config(idx_dir, eval_classifier_dir=str(classifier_dir))
    seed_runs.set_up(config, [directory], [config.seed], print_fn=lambda _: None).close()

  open_and_close(tmp_path / 'classifier')
  record = directory.monitor_classifier.read_text()
  assert json.loads(record)['classifier_dir'] == str(tmp_path / 'classifier')
  open_and_close(tmp_path / 'moved')
  with pytest.raises(plan.ConfigError) as error:
    open_and_close(tmp_path / 'retrained')
  assert str(error.value) == (
      f"config.eval_classifier_dir={tmp_path / 'retrained'} holds another classifier than the one this run's "
      f"monitor scored with ({tmp_path / 'classifier'}, recorded in {directory.monitor_classifier}): its Fréchet "
      'distances are in another feature space; resume with that classifier, or use a new --workdir')
  assert directory.monitor_classifier.read_text() == record
  directory.monitor_classifier.write_text('{"fingerprint": ')
  with pytest.raises(plan.ConfigError, match=r'monitor_classifier.json is not the record of a classifier'):
    open_and_close(tmp_path / 'classifier')


@pytest.mark.slow
def test_the_monitors_classifier_metrics_equal_evaluates_on_the_same_samples(idx_dir, tmp_path):
  from gan_jax.evaluation import classifier  # pylint: disable=g-import-not-at-top
  loaded = random_classifier(tmp_path / 'classifier', 784)
  config = monitored_config(idx_dir, num_steps=6, eval_classifier_dir=str(tmp_path / 'classifier'))
  loop.run(config, tmp_path / 'run', print_fn=lambda _: None)
  last = monitor_records(tmp_path / 'run')[-1]
  dataset = datasets.load(config.dataset, rundir.RunKeys.of_seed(config.seed).data)
  validation = datasets.to_float(dataset.validation[:config.eval_num_samples])  # all 40 of them
  for params, suffix in (('raw', ''), ('ema', '_ema')):
    _, samples = stored_runs.evaluate_run(tmp_path / 'run', which='latest', params=params)
    expected = classifier.ClassifierMetrics(*loaded, validation)(samples)
    assert {name: last[f'validation_{name}{suffix}'] for name in expected} == expected
    assert 0 <= expected['precision'] <= 1 and expected['frechet_distance'] > 0
  # The curve files of experiments.validation_curves keep them, for both generators.
  from experiments import validation_curves  # pylint: disable=g-import-not-at-top
  curve = validation_curves.evaluations(tmp_path / 'run')[-1]
  assert curve == {key: last[key] for key in curve} and {'validation_recall', 'validation_recall_ema'} <= set(curve)


def test_seeds_at_different_steps_are_refused_together():
  at_step = lambda seed, step: types.SimpleNamespace(seed=seed, state=types.SimpleNamespace(step=np.int32(step)))
  assert loop._common_step([at_step(0, 10), at_step(1, 10)]) == 10  # pylint: disable=protected-access
  with pytest.raises(plan.ConfigError, match=r'different steps \{0: 10, 1: 0\}.*without --together'):
    loop._common_step([at_step(0, 10), at_step(1, 0)])  # pylint: disable=protected-access


def test_finite_checks_name_the_quantity_that_went_bad():
  jnp = jax.numpy
  state = train.GANState(step=jnp.zeros((), jnp.int32), g_params={'w': jnp.array([1.0, jnp.inf])},
                         d_params={'w': jnp.array([1.0])}, g_opt_state=(), d_opt_state=())
  checks = train.finite_checks(state, {'d_loss': jnp.array(jnp.nan), 'g_loss': jnp.array(0.3)})
  assert {name: bool(ok) for name, ok in checks.items()} == {
      'd_loss': False, 'g_loss': True, 'g_params': False, 'd_params': True}
  # A generator's state (batch-norm running averages) is checked too: no loss depends on it.
  with_state = state.replace(g_params={'w': jnp.ones(2)}, g_state={'mean': jnp.array([0.0, jnp.nan])})
  checks = train.finite_checks(with_state, {'g_loss': jnp.array(0.3)})
  assert {name: bool(ok) for name, ok in checks.items()} == {
      'g_loss': True, 'g_params': True, 'd_params': True, 'g_state': False}
  assert loop.divergence({'g_loss': np.array([True, True])},
                               {name: bool(ok) for name, ok in checks.items() if name != 'g_loss'},
                               10) == 'at step 12: g_state became NaN or Inf'


def test_divergence_is_dated_by_the_first_bad_loss_or_else_the_chunks_last_step():
  metrics_finite = {'d_loss': np.array([True, True, False, False]), 'g_loss': np.array([True, True, True, False])}
  assert loop.divergence(metrics_finite, {'g_params': False, 'd_params': True}, 20) == (
      'at step 23: d_loss, g_params became NaN or Inf')
  all_fine = {'d_loss': np.ones(4, bool), 'g_loss': np.ones(4, bool)}
  assert loop.divergence(all_fine, {'g_params': True, 'd_params': False}, 20) == (
      'at step 24: d_params became NaN or Inf')
  assert loop.divergence(all_fine, {'g_params': True, 'd_params': True}, 20) is None
