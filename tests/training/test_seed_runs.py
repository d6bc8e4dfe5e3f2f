"""A run's set-up: claiming the workdir, a resume refused before the data are read, one read of the data, and the
device count a run was trained on."""

import json
import os
import shutil

import jax
import numpy as np
import pytest

from gan_jax.configs import mnist_paper
from gan_jax.data import datasets, sources
from gan_jax.training import distributed, loop, plan, rundir, seed_runs
from tiny_runs import join_orbax_threads, monitored_config, tiny_config, tiny_gauss


@pytest.mark.slow
def test_a_workdir_being_trained_in_is_refused_to_a_second_run_which_touches_nothing(tmp_path):
  loop.run(tiny_gauss(), tmp_path, print_fn=lambda _: None)
  in_flight = tmp_path / 'checkpoints' / '9.orbax-checkpoint-tmp-1764633600'
  shutil.copytree(tmp_path / 'checkpoints' / '6', in_flight)  # the other run's save being written
  # What a training process holds (flock: per open file).
  other_run = seed_runs.claim_workdir(rundir.RunDirectory(tmp_path))
  before = {path: path.stat().st_mtime_ns for path in tmp_path.rglob('*')}
  with pytest.raises(seed_runs.WorkdirInUse) as error:  # a ConfigError: the CLI's exit status 2
    loop.run(tiny_gauss(num_steps=9), tmp_path, print_fn=lambda _: None)
  assert isinstance(error.value, plan.ConfigError)
  assert str(error.value) == (f'--workdir={tmp_path} is in use: process {os.getpid()} is training there; wait for it '
                              'to end or stop it (SIGTERM checkpoints), or use another --workdir')
  join_orbax_threads()
  assert {path: path.stat().st_mtime_ns for path in tmp_path.rglob('*')} == before
  other_run.close()
  shutil.rmtree(in_flight)
  assert loop.run(tiny_gauss(num_steps=9), tmp_path, print_fn=lambda _: None)['step'] == 9
  seed_runs.claim_workdir(rundir.RunDirectory(tmp_path)).close()  # a finished run frees its workdir


def test_resuming_on_another_device_count_says_the_data_order_changes(tmp_path):
  lines = []
  seed_runs.note_device_count(rundir.RunDirectory(tmp_path), 4, lines.append)
  seed_runs.note_device_count(rundir.RunDirectory(tmp_path), 4, lines.append)
  assert lines == []
  seed_runs.note_device_count(rundir.RunDirectory(tmp_path), 8, lines.append)
  assert lines == ['note: this run used 4 devices and now has 8; its data order from here on differs from an '
                   'uninterrupted run on 4 (see gan_jax/data/datasets.py)']


def test_when_another_process_refuses_its_shard_this_process_stops_too_and_writes_nothing(idx_dir, tmp_path,
                                                                                          monkeypatch):
  # Labels differ by shard, so in a multi-process run one process may refuse what this one accepts; it stands in
  # here as the collective any_process answering True for a plan that this process accepted.
  monkeypatch.setattr(distributed, 'any_process', lambda flag: True)
  config = tiny_config(mnist_paper.get_config(), dataset=f'idx:{idx_dir}', num_classes=10)
  with pytest.raises(plan.ConfigError, match='^another process refused the run for its shard of the data; its '
                                             'error line says why$'):
    loop.run(config, tmp_path / 'run', print_fn=lambda _: None)
  assert not (tmp_path / 'run').exists()


def test_a_resume_with_another_run_defining_field_is_refused_before_the_data_are_read(tmp_path, monkeypatch):
  directory = rundir.RunDirectory(tmp_path)
  directory.config.write_text(json.dumps({**tiny_gauss().to_dict(), 'latent_dim': 8}, default=list))
  monkeypatch.setattr(seed_runs, '_load_data', lambda *args: pytest.fail('the data were read'))
  with pytest.raises(plan.ConfigError, match=r'config.latent_dim=4 differs from 8 of the run in'):
    seed_runs.set_up(tiny_gauss(), [directory], [0], print_fn=lambda _: None)
  assert sorted(tmp_path.iterdir()) == [directory.config]


def test_a_run_with_the_monitor_reads_its_source_once_for_the_training_shards_and_the_validation_images(
    idx_dir, tmp_path, monkeypatch):
  reads, read = [], sources.read

  def counted_read(spec, options, selections):
    reads.append(sorted(selections))
    return read(spec, options, selections)

  monkeypatch.setattr(sources, 'read', counted_read)
  config = monitored_config(idx_dir, eval_num_validation=30)
  setup = seed_runs.set_up(config, [rundir.RunDirectory(tmp_path)], [config.seed], print_fn=lambda _: None)
  setup.close()
  assert reads == [['train', 'validation']]
  np.testing.assert_array_equal(setup.runs[0].dataset.validation,
                                datasets.load(config.dataset, jax.random.key(0)).validation[:30])
