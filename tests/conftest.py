"""Test session set-up: 8 CPU devices, so that pmap and shard_map really span several.

XLA reads XLA_FLAGS once, when JAX first initialises its backend; pytest
imports this file before any test module imports jax.
"""

import atexit
import importlib
import os
import shutil
import tempfile

# The suite's programs are small, so compiling them costs about as much as
# running them. Two XLA flags make compiling cheaper: LLVM optimisation level 1
# instead of XLA's default 2 (the whole suite from 10:23 to 8:13 on a 2-core
# Xeon; level 0 compiles faster still but runs the longer tests 3-4 times
# slower), and XLA's older fusion code generators instead of its MLIR fusion
# emitters (a third less compile time per program at about the same run time:
# the fast lane from 3:55 to 3:02, 2026-12-02). They change how XLA fuses
# operations and the machine code it generates, and with them float results in
# their last bits, not the computation. Every comparison in the suite is between programs compiled with the
# same flags, and numerical bounds come from rounding, not from one build's
# digits. Subprocesses get the same flags through ``xla_flags``.
FAST_COMPILE_FLAGS = '--xla_backend_optimization_level=1 --xla_cpu_use_fusion_emitters=false'


def xla_flags(devices: int | None = None) -> str:
  """XLA_FLAGS for a test's subprocess: the suite's compile flags, and ``devices`` forced CPU devices if given."""
  return FAST_COMPILE_FLAGS + (f' --xla_force_host_platform_device_count={devices}' if devices else '')


os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') + ' ' + xla_flags(8)).strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
# One persistent XLA compilation cache for the session: the pytest process, its
# xdist workers and the training subprocesses the tests start (they inherit the
# environment) compile each distinct program once. Compiled code is the same
# with or without it, so results are too; it only saves compile time.
if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
  os.environ['JAX_COMPILATION_CACHE_DIR'] = tempfile.mkdtemp(prefix='gan_jax_tests_xla_cache_')
  atexit.register(shutil.rmtree, os.environ['JAX_COMPILATION_CACHE_DIR'], ignore_errors=True)
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
# Decoded image folders go to a temporary cache, never the user's ~/.cache/gan_jax.
if 'GAN_JAX_TESTS_XDG_CACHE' not in os.environ:
  os.environ['GAN_JAX_TESTS_XDG_CACHE'] = os.environ['XDG_CACHE_HOME'] = tempfile.mkdtemp(prefix='gan_jax_tests_cache_')
  atexit.register(shutil.rmtree, os.environ['GAN_JAX_TESTS_XDG_CACHE'], ignore_errors=True)

import jax  # noqa: E402  (must follow the environment set-up above)
import numpy as np  # noqa: E402
import optax  # noqa: E402
import pytest  # noqa: E402
from absl import flags  # noqa: E402
from flax import nnx  # noqa: E402

import gan_jax  # noqa: E402


def make_toy_gan(data_dim=2, latent_dim=4, hidden=16, seed=0, optimizer=None, pack=1, **gan_kwargs):
  """A small MLP GAN and its initial state; D takes ``pack`` examples at once; ``gan_kwargs`` go to ``gan_jax.GAN``."""
  rngs = nnx.Rngs(seed)
  g_apply, g_params = gan_jax.as_pure_function(gan_jax.MLPGenerator(
      latent_dim, (hidden, hidden), data_dim, output_activation='identity', init_range=None, rngs=rngs))
  d_apply, d_params = gan_jax.as_pure_function(gan_jax.MLPDiscriminator(data_dim * pack, (hidden, hidden),
                                                                        rngs=rngs))
  optimizer = optimizer or gan_jax.optim.sgd_momentum(0.05, 0.5)
  gan = gan_jax.GAN(g_apply, d_apply, gan_jax.NoisePrior('gaussian', latent_dim), optimizer, optimizer,
                    pack=pack, **gan_kwargs)
  return gan, gan_jax.init_state(gan, g_params, d_params)


def make_batchnorm_toy_gan(hidden=16, seed=0, pack=1, **gan_kwargs):
  """PacGAN's kind of game, small: a batch-norm G (2 → hidden × 2 → 2) and a maxout D taking ``pack``
  points at once, Adam(1e-4, β₁ 0.8)."""
  rngs = nnx.Rngs(seed)
  generator = gan_jax.models.as_pure_generator(gan_jax.models.BatchNormMLPGenerator(2, (hidden, hidden), 2,
                                                                                      rngs=rngs))
  d_apply, d_params = gan_jax.as_pure_function(gan_jax.MaxoutDiscriminator(
      2 * pack, (hidden, hidden), 5, input_keep=1.0, hidden_keep=1.0, init_range=None, rngs=rngs))
  optimizer = optax.adam(1e-4, b1=0.8)
  gan = gan_jax.GAN(generator.sample, d_apply, gan_jax.NoisePrior('gaussian', 2), optimizer, optimizer,
                    generator_train=generator.train, pack=pack, **gan_kwargs)
  return gan, gan_jax.init_state(gan, generator.params, d_params, generator.state)


def make_paper_mnist_gan(hidden=(1200, 1200), maxout_units=(240, 240), seed=0, **gan_kwargs):
  """The paper's MNIST GAN (optionally with smaller layers) with the paper's optimiser."""
  rngs = nnx.Rngs(seed)
  g_apply, g_params = gan_jax.as_pure_function(gan_jax.MLPGenerator(100, hidden, 784, rngs=rngs))
  d_apply, d_params = gan_jax.as_pure_function(gan_jax.MaxoutDiscriminator(784, maxout_units, rngs=rngs))
  optimizer = gan_jax.optim.paper_sgd(steps_per_epoch=500)
  gan = gan_jax.GAN(g_apply, d_apply, gan_jax.NoisePrior('uniform', 100), optimizer, optimizer,
                    **gan_kwargs)
  return gan, gan_jax.init_state(gan, g_params, d_params)


@pytest.fixture(autouse=True)
def temporary_files_of_the_test(tmp_path_factory, monkeypatch):
  """Temporary files the libraries make during a test go to a directory of pytest's, which pytest clears.

  TFDS leaves an empty directory in the system's temporary directory for every
  dataset builder it makes (six for one mock-data run); these stay under
  pytest's base directory instead, beside ``tmp_path`` (not in it, as tests
  list ``tmp_path``). Subprocesses inherit it through TMPDIR.
  """
  directory = str(tmp_path_factory.mktemp('tempfiles'))
  monkeypatch.setattr(tempfile, 'tempdir', directory)
  monkeypatch.setenv('TMPDIR', directory)


@pytest.fixture(scope='session')
def eight_devices():
  devices = jax.devices()
  assert len(devices) == 8, f'expected 8 forced CPU devices, got {devices}'
  return devices


def tree_max_abs_diff(a, b) -> float:
  return max(float(abs(x - y).max()) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def tree_relative_error(actual, expected) -> float:
  """‖actual − expected‖₂ / ‖expected‖₂ over all leaves taken as one vector, computed in float64."""
  as_float64 = lambda tree: [np.asarray(leaf, np.float64) for leaf in jax.tree.leaves(tree)]
  squared = lambda leaves: sum(float(np.sum(np.square(leaf))) for leaf in leaves)
  difference = [a - e for a, e in zip(as_float64(actual), as_float64(expected))]
  return (squared(difference) / squared(as_float64(expected))) ** 0.5


def trees_equal(a, b) -> bool:
  la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
  return jax.tree.structure(a) == jax.tree.structure(b) and all(
      bool((x == y).all()) for x, y in zip(la, lb))



@pytest.fixture(scope='session')
def idx_dir(tmp_path_factory):
  from idx_files import write_mnist_idx  # pylint: disable=g-import-not-at-top
  directory = tmp_path_factory.mktemp('mnist_idx')
  write_mnist_idx(directory, num_train=240, num_test=24)  # 200 training, 40 validation images
  return directory


@pytest.fixture(scope='session')
def straight_run(idx_dir, tmp_path_factory):
  """A tiny mnist_paper run of 12 steps with the validation monitor every 3 and G's average."""
  from gan_jax.training import loop  # pylint: disable=g-import-not-at-top
  from tiny_runs import monitored_config  # pylint: disable=g-import-not-at-top
  workdir = tmp_path_factory.mktemp('straight')
  loop.run(monitored_config(idx_dir), workdir, print_fn=lambda _: None)
  return workdir


def experiment_main(name: str):
  """experiments.<name>, with its flags taken out of absl's FLAGS again: the mains share flag names."""
  before = set(flags.FLAGS)
  module = importlib.import_module(f'experiments.{name}')
  for flag in set(flags.FLAGS) - before:
    delattr(flags.FLAGS, flag)
  return module
