"""The validation-Parzen monitor, the best checkpoints it keeps, and evaluating them (issue: Table 1)."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from conftest import trees_equal
from gan_jax.data import datasets
from gan_jax.evaluation import measures
from gan_jax.reports import stored_runs
from gan_jax.training import checkpoint, loop, plan, rundir, seed_runs
from gan_jax.configs import mnist_paper
from idx_files import write_mnist_idx

# Both sides compute the same float32 formula on the same samples, possibly
# fused differently. Pixels lie in [0, 1], so ‖x‖², ‖c‖², |2x·c| ≤ 784 and an
# exponent −‖x − c‖²/2σ² (σ ≥ 0.1) is formed from terms of at most 3·784/0.02
# ≈ 1.2e5 nats; a few float32 roundings of those (2^-22 relative) move it by
# at most 0.03 nats, and the mean over validation images by no more.
SAME_SAMPLES_NATS = 0.05


def _config(idx_dir, **overrides):
  config = mnist_paper.get_config()
  config.update(dict(dataset=f'idx:{idx_dir}', num_steps=12, steps_per_call=3, checkpoint_every_steps=3,
                     sample_every_steps=12, eval_every_steps=3, eval_num_samples=64, eval_num_validation=40,
                     log_every_seconds=0.01, batch_size=16, num_shown_samples=16, g_hidden_dims=(32,),
                     d_hidden_dims=(16,), maxout_pieces=2, g_ema_decay=0.9, keep_checkpoints=2))
  config.update(overrides)
  return config


@pytest.fixture(scope='module')
def idx_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp('mnist_idx')
  write_mnist_idx(directory, num_train=240, num_test=24)  # 200 training, 40 validation images
  return directory


@pytest.fixture(scope='module')
def straight_run(idx_dir, tmp_path_factory):
  workdir = tmp_path_factory.mktemp('straight')
  loop.run(_config(idx_dir), workdir, print_fn=lambda _: None)
  return workdir


def _records(workdir):
  return [json.loads(line) for line in rundir.RunDirectory(workdir).metrics.read_text().splitlines()]


def _best(workdir, generator):
  manager = checkpoint.make_best_manager(rundir.RunDirectory(workdir).best_checkpoints(generator))
  return manager.all_steps(), manager.best_step(), checkpoint.best_value(manager)


def test_the_monitor_logs_each_generator_and_keeps_the_best_checkpoint_of_each(straight_run):
  records = _records(straight_run)
  assert [r['step'] for r in records] == [3, 6, 9, 12]
  for suffix, generator in (('', 'raw'), ('_ema', 'ema')):
    scores = [r[f'validation_ll{suffix}'] for r in records]
    best_step = records[int(np.argmax(scores))]['step']
    assert [r[f'best_validation_ll{suffix}'] for r in records] == list(np.maximum.accumulate(scores))
    assert _best(straight_run, generator) == ([best_step], best_step, max(scores))
    assert all(r[f'validation_sigma{suffix}'] in measures.SIGMAS for r in records)
  assert all(r['eval_seconds'] > 0 for r in records)


def test_the_monitor_equals_evaluate_on_the_same_samples_and_sigma_grid(straight_run):
  last = _records(straight_run)[-1]
  for params, suffix in (('raw', ''), ('ema', '_ema')):
    report, samples = stored_runs.evaluate_run(straight_run, which='latest', params=params)
    assert report['step'] == 12 and samples.shape == (64, 784)
    assert report['parzen_sigma'] == last[f'validation_sigma{suffix}']
    assert abs(report['validation_ll'] - last[f'validation_ll{suffix}']) <= SAME_SAMPLES_NATS


def test_the_monitor_reads_only_validation_images(idx_dir):
  key = jax.random.key(0)
  validation = datasets.load_validation(f'idx:{idx_dir}', key, num_examples=30)
  np.testing.assert_array_equal(validation, datasets.load(f'idx:{idx_dir}', key).validation[:30])


def test_evaluate_best_and_step_restore_those_checkpoints(straight_run):
  for params in ('raw', 'ema'):
    _, best_step, best_value = _best(straight_run, params)
    report, _ = stored_runs.evaluate_run(straight_run, which='best', params=params)
    assert (report['step'], report['checkpoint'], report['params']) == (best_step, 'best', params)
    assert abs(report['validation_ll'] - best_value) <= SAME_SAMPLES_NATS
  report, _ = stored_runs.evaluate_run(straight_run, which='9')
  assert report['step'] == 9
  with pytest.raises(checkpoint.CheckpointError, match='no checkpoint step 4 in'):
    stored_runs.evaluate_run(straight_run, which='4')


@pytest.mark.slow
def test_best_checkpoints_and_the_average_resume_exactly(idx_dir, straight_run, tmp_path):
  loop.run(_config(idx_dir, num_steps=6), tmp_path, print_fn=lambda _: None)
  loop.run(_config(idx_dir), tmp_path, print_fn=lambda _: None)  # resumes at 6
  strip = lambda records: [{k: v for k, v in r.items() if k not in ('it_per_s', 'wall_time', 'run_time',
                                                                    'eval_seconds')} for r in records]
  assert strip(_records(tmp_path)) == strip(_records(straight_run))
  for generator in rundir.GENERATORS:
    assert _best(tmp_path, generator) == _best(straight_run, generator)
    resumed, straight = (stored_runs.restore_run(w, 'best', generator)[3] for w in (tmp_path, straight_run))
    assert trees_equal(resumed, straight)  # g_params_ema included
  latest = [stored_runs.restore_run(w)[3] for w in (tmp_path, straight_run)]
  assert latest[0].g_params_ema is not None and trees_equal(*latest)


def test_evaluating_the_average_of_a_run_without_one_is_a_clear_error(idx_dir, tmp_path):
  loop.run(_config(idx_dir, num_steps=3, g_ema_decay=0.0), tmp_path, print_fn=lambda _: None)
  with pytest.raises(plan.ConfigError, match='--params=ema needs a run trained with config.g_ema_decay > 0'):
    stored_runs.evaluate_run(tmp_path, params='ema')
  assert not rundir.RunDirectory(tmp_path).best_checkpoints('ema').exists()


def test_a_better_score_below_the_kept_best_step_is_reported_and_the_best_kept(idx_dir, tmp_path):
  """After a resume that does not retrace the run (other devices), a better score may come at a step below the
  kept best's, which orbax cannot write: the log keeps the kept best's score and a note says why."""
  config = _config(idx_dir, g_ema_decay=0.0)
  setup = seed_runs.set_up(config, [rundir.RunDirectory(tmp_path)], [config.seed], print_fn=lambda _: None)
  try:
    scores = iter([-100.0, -50.0])
    seed_run = dataclasses.replace(setup.runs[0], monitor=lambda _: {'validation_ll': next(scores),
                                                                      'validation_sigma': 0.2})
    lines = []
    evaluate = lambda step: loop._evaluate(setup.gan, seed_run, seed_run.state.replace(step=step), lines.append)
    assert evaluate(12)['best_validation_ll'] == -100.0
    assert lines == []
    assert evaluate(6)['best_validation_ll'] == -100.0
    assert len(lines) == 1 and lines[0].startswith('note: step 6 scores -50.00 nats (raw), above the best '
                                                   "checkpoint's -100.00, but that is of step 12, not below this one")
    assert _best(tmp_path, 'raw') == ([12], 12, -100.0)
  finally:
    setup.close()
