"""Checkpoints: never of a diverged state, unreadable ones set aside, and no readable one at all."""

import pathlib

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from conftest import trees_equal
from gan_jax import train
from gan_jax.training import checkpoint, loop
from tiny_runs import complete_steps, garble_metadata, latest_state, tiny_gauss


def test_a_state_holding_nan_is_never_checkpointed(tmp_path):
  jnp = jax.numpy
  state = train.GANState(step=jnp.array(7, jnp.int32), g_params={'w': jnp.ones(2)},
                         d_params={'w': jnp.array([jnp.nan])}, g_opt_state=(), d_opt_state=())
  manager = checkpoint.make_manager(tmp_path, keep=2)
  with pytest.raises(checkpoint.CheckpointError, match='refusing to checkpoint step 7: d_params/w holds NaN or Inf'):
    checkpoint.save(manager, state, jax.random.key(0), jax.random.key(1))
  manager.wait_until_finished()
  assert manager.all_steps() == [] and list(tmp_path.iterdir()) == []


def _truncate_arrays(step_dir: pathlib.Path) -> None:
  for data_file in (step_dir / 'default' / 'd').iterdir():
    data_file.write_bytes(data_file.read_bytes()[:data_file.stat().st_size // 2])


@pytest.mark.slow
@pytest.mark.parametrize('corrupt', [_truncate_arrays, garble_metadata])
def test_a_corrupted_latest_checkpoint_is_set_aside_and_the_previous_one_resumed(tmp_path, corrupt):
  loop.run(tiny_gauss(num_steps=9), tmp_path / 'straight', print_fn=lambda _: None)
  loop.run(tiny_gauss(), tmp_path / 'run', print_fn=lambda _: None)
  corrupt(tmp_path / 'run' / 'checkpoints' / '6')
  lines = []
  loop.run(tiny_gauss(num_steps=9), tmp_path / 'run', print_fn=lines.append)
  directory = tmp_path / 'run' / 'checkpoints'
  assert lines[0].startswith(f'warning: checkpoint step 6 in {directory} cannot be restored (')
  assert lines[0].endswith(f'moved it to {directory}.unreadable/6; resuming from step 3')
  assert lines[1] == f'resumed from step 3 of {directory}'
  assert (tmp_path / 'run' / 'checkpoints.unreadable' / '6').is_dir()
  assert trees_equal(latest_state(tmp_path / 'run'), latest_state(tmp_path / 'straight'))


def test_a_step_set_aside_twice_keeps_both_copies(tmp_path):
  manager = checkpoint.make_manager(tmp_path / 'checkpoints', 0)
  for copy in (1, 2):
    manager.save(6, args=ocp.args.StandardSave({'copy': np.int32(copy)}))
    manager.wait_until_finished()
    checkpoint._set_aside(manager, 6)  # pylint: disable=protected-access
  manager.close()
  aside = tmp_path / 'checkpoints.unreadable'
  assert sorted(p.name for p in aside.iterdir()) == ['6', '6.1']
  assert [int(ocp.StandardCheckpointer().restore(aside / name / 'default')['copy']) for name in ('6', '6.1')] == [1, 2]


@pytest.mark.slow
def test_a_directory_where_no_checkpoint_can_be_read_is_an_error_that_moves_nothing(tmp_path):
  loop.run(tiny_gauss(), tmp_path, print_fn=lambda _: None)
  for step in (3, 6):
    _truncate_arrays(tmp_path / 'checkpoints' / str(step))
  with pytest.raises(checkpoint.CheckpointError,
                     match=rf'no checkpoint in {tmp_path / "checkpoints"} can be restored \(step 6: .*; step 3: '):
    loop.run(tiny_gauss(num_steps=9), tmp_path, print_fn=lambda _: None)
  assert complete_steps(tmp_path) == [3, 6]
