"""Train a GAN from a config file, resuming from the latest checkpoint in --workdir.

  python -m experiments.train --config gan_jax/configs/<preset>.py --workdir DIR \
      [--config.FIELD=VALUE ...]

Several processes (a TPU VM pod slice, several GPU hosts): run the same
command on every host with ``--distributed``; JAX finds the other processes
itself on TPU VMs and under SLURM, elsewhere pass ``--coordinator_address``,
``--num_processes`` and ``--process_id`` (see experiments/launch_tpu_pod.sh).

Bad input (an unknown flag or config field, a value that is not allowed, a
config file that does not load, a --workdir that cannot be written, a
dataset that cannot be read, a checkpoint of another run) stops the run
before any compute with one line naming what is wrong, and exit status 2. A
loss or parameter that stops being finite stops it with exit status 1; the
last checkpoint stays the last good one. SIGTERM (preemption) makes it finish
the running chunk of steps, checkpoint and exit with status 0; the same
command resumes.
"""

import re

from absl import app, flags

from experiments import cli
from gan_jax.training import distributed, loop, plan

_CONFIG = cli.define_config_file('config', 'Path to a preset in gan_jax/configs/.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, logs and sample pictures.')
_DISTRIBUTED = flags.DEFINE_bool('distributed', False, 'Join a multi-process run (jax.distributed.initialize).')
_COORDINATOR = flags.DEFINE_string('coordinator_address', None,
                                   'host:port of process 0 (with --distributed; default: detected by JAX).')
_NUM_PROCESSES = flags.DEFINE_integer('num_processes', None, 'Number of processes (with --distributed).')
_PROCESS_ID = flags.DEFINE_integer('process_id', None, 'This process, 0 … num_processes − 1 (with --distributed).')
flags.mark_flags_as_required(['config', 'workdir'])

def check_distributed_flags(enabled: bool, coordinator: str | None, num_processes: int | None,
                            process_id: int | None) -> None:
  """Exits with status 2 and one line if the multi-process flags do not make sense together."""
  given = {'--coordinator_address': coordinator, '--num_processes': num_processes, '--process_id': process_id}
  named = [name for name, value in given.items() if value is not None]
  if named and not enabled:
    cli.fail(f'{named[0]} is only used with --distributed')
  if named and len(named) != 3:
    cli.fail('--coordinator_address, --num_processes and --process_id go together: give all three, or none '
          'to let JAX detect the cluster')
  if not named:
    return
  if not re.fullmatch(r'[\w.\-]+:\d{1,5}', coordinator) or not 0 < int(coordinator.rsplit(':', 1)[1]) < 65536:
    cli.fail(f'--coordinator_address={coordinator!r} must be host:port with a port in 1..65535')
  if num_processes < 1:
    cli.fail(f'--num_processes={num_processes} must be at least 1')
  if not 0 <= process_id < num_processes:
    cli.fail(f'--process_id={process_id} must be in 0..{num_processes - 1} (--num_processes={num_processes})')


def _format(value) -> str:
  return f'{value:.4g}' if isinstance(value, float) else str(value)


def main(argv):
  cli.start(argv, hint='; pass settings as --config.FIELD=VALUE')
  check_distributed_flags(_DISTRIBUTED.value, _COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  cli.check_output_dir('workdir', _WORKDIR.value, 'a directory (new or of this run)')
  config = _CONFIG.value
  try:
    plan.validate(config)  # before joining other processes; the device count is checked in run
    if _DISTRIBUTED.value:
      distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
    summary = loop.run(config, _WORKDIR.value)
  except cli.BAD_INPUT as error:
    cli.fail(str(error))
  except loop.TrainingDiverged as error:
    cli.fail(str(error), status=1)
  if distributed.is_primary():
    print('summary: ' + '  '.join(f'{name}={_format(value)}' for name, value in summary.items()))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
