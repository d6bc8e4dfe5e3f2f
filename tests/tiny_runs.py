"""Small runs for tests: presets shrunk to run in seconds, the train command, and reading runs back."""

import json
import os
import pathlib
import subprocess
import sys
import threading

from conftest import xla_flags
from gan_jax import train
from gan_jax.configs import gauss1d, mnist_paper
from gan_jax.reports import stored_runs
from gan_jax.training import checkpoint, rundir


REPO = pathlib.Path(__file__).resolve().parents[1]


def tiny_config(config, **overrides):
  """A preset shrunk to run in seconds on 8 CPU devices."""
  config.update(dict(num_steps=6, steps_per_call=3, checkpoint_every_steps=3, sample_every_steps=3,
                     log_every_seconds=0.01, batch_size=16, num_shown_samples=16))
  if config.model == 'maxout':
    config.update(dict(g_hidden_dims=(32,), d_hidden_dims=(16,), maxout_pieces=2))
  else:
    config.update(dict(g_hidden_dims=(16,), d_hidden_dims=(16,)))
  config.update(overrides)
  return config


def train_cli(*args, devices: int = 1):
  env = {**os.environ, 'XLA_FLAGS': xla_flags(devices)}
  return subprocess.run([sys.executable, '-m', 'experiments.train', *args], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=300)


def tiny_image_config(config, **overrides):
  config.update(dict(num_steps=6, steps_per_call=3, checkpoint_every_steps=3, sample_every_steps=3,
                     log_every_seconds=0.01, batch_size=8, num_shown_samples=8, g_hidden_dims=(16,),
                     d_hidden_dims=(8,), maxout_pieces=2))
  config.update(overrides)
  return config


def tiny_overrides():
  return dict(num_steps=6, steps_per_call=3, checkpoint_every_steps=3, sample_every_steps=3, batch_size=8,
              num_shown_samples=8)


def tiny_cifar(config):
  config.update(dict(g_hidden_dims=(16, 8000) if config.g_output == 'deconv' else (16, 32),
                     d_hidden_dims=(8,) if config.model == 'conv_maxout' else (8, 8), maxout_pieces=2,
                     d_conv_channels=(4, 4, 8), batch_size=16, num_steps=2, steps_per_call=1,
                     checkpoint_every_steps=1, sample_every_steps=1, num_shown_samples=4, log_every_seconds=0.01))
  return config


# Batch 64: each of the 8 test devices holds 8 examples, and batch norm takes its statistics over all 64.
TINY_PACGAN = dict(batch_size=64, steps_per_call=10, checkpoint_every_steps=10, sample_every_steps=20,
                   g_hidden_dims=(32, 32), d_hidden_dims=(16, 16), num_shown_samples=64)


def tiny_pacgan(preset, num_steps):
  config = preset.get_config()
  config.update(num_steps=num_steps, **TINY_PACGAN)
  return config


def tiny_gauss(**overrides):
  config = gauss1d.get_config()
  config.update(dict(num_steps=6, steps_per_call=3, checkpoint_every_steps=3, sample_every_steps=3,
                     log_every_seconds=0.01, batch_size=16, num_shown_samples=16, g_hidden_dims=(16,),
                     d_hidden_dims=(16,), keep_checkpoints=10))
  config.update(overrides)
  return config


def latest_state(workdir) -> train.GANState:
  return stored_runs.restore_run(workdir)[3]


def complete_steps(workdir) -> list[int]:
  return sorted(int(p.name) for p in (pathlib.Path(workdir) / 'checkpoints').iterdir() if p.name.isdigit())


def garble_metadata(step_dir: pathlib.Path) -> None:
  (step_dir / 'default' / '_METADATA').write_text('{"tree_metadata": ')


def join_orbax_threads() -> None:
  """Waits for orbax's background work (a writer's clean-up of temporary directories runs in such a thread)."""
  for thread in threading.enumerate():
    if thread.name.endswith('(_target_setting_result)'):
      thread.join(timeout=60)


# Both sides compute the same float32 formula on the same samples, possibly
# fused differently. Pixels lie in [0, 1], so ‖x‖², ‖c‖², |2x·c| ≤ 784 and an
# exponent −‖x − c‖²/2σ² (σ ≥ 0.1) is formed from terms of at most 3·784/0.02
# ≈ 1.2e5 nats; a few float32 roundings of those (2^-22 relative) move it by
# at most 0.03 nats, and the mean over validation images by no more.
SAME_SAMPLES_NATS = 0.05


def monitored_config(idx_dir, **overrides):
  config = mnist_paper.get_config()
  config.update(dict(dataset=f'idx:{idx_dir}', num_steps=12, steps_per_call=3, checkpoint_every_steps=3,
                     sample_every_steps=12, eval_every_steps=3, eval_num_samples=64, eval_num_validation=40,
                     log_every_seconds=0.01, batch_size=16, num_shown_samples=16, g_hidden_dims=(32,),
                     d_hidden_dims=(16,), maxout_pieces=2, g_ema_decay=0.9, keep_checkpoints=2))
  config.update(overrides)
  return config


def monitor_records(workdir):
  return [json.loads(line) for line in rundir.RunDirectory(workdir).metrics.read_text().splitlines()]


def kept_best(workdir, generator):
  manager = checkpoint.make_best_manager(rundir.RunDirectory(workdir).best_checkpoints(generator))
  best = checkpoint.best_scores(manager)
  return manager.all_steps(), manager.best_step(), None if best is None else best['validation_ll']


def random_classifier(directory, input_dim, seed=0):
  """An untrained classifier (its weights drawn from ``seed``) saved as experiments.train_classifier saves one:
  enough to compare two paths."""
  from flax import nnx  # pylint: disable=g-import-not-at-top
  from gan_jax import models  # pylint: disable=g-import-not-at-top
  from gan_jax.evaluation import classifier  # pylint: disable=g-import-not-at-top
  _, params = models.as_pure_function(classifier.MLPClassifier(input_dim, (8,), rngs=nnx.Rngs(seed)))
  classifier.save(directory, params)
  (directory / rundir.CLASSIFIER_CONFIG).write_text(json.dumps({'hidden_dims': [8], 'dataset': 'idx'}))
  return classifier.restore(directory, input_dim, (8,))
