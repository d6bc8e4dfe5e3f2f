"""From a config to a trained GAN: validation, construction and the training loop.

``experiments/train.py`` is a thin command-line wrapper around ``run``. The
config is an ``ml_collections.ConfigDict`` with the fields of ``FIELDS``
(presets in ``gan_jax/configs/``); ``validate`` checks every field before any
compute and raises ``ConfigError`` with one line naming the field and what is
allowed.
"""

import json
import math
import pathlib
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from gan_jax import data, losses, models, optim, priors, train

FIELDS = ('dataset', 'batch_size', 'num_steps', 'seed', 'd_steps', 'g_loss', 'update_rule',
          'optimizer', 'learning_rate', 'd_learning_rate_scale', 'momentum', 'lr_schedule',
          'steps_per_epoch', 'prior', 'latent_dim', 'hidden_dims', 'steps_per_call',
          'log_every_seconds')
OPTIMIZERS = ('adam', 'sgd_momentum')
LR_SCHEDULES = ('constant', 'cosine', 'paper')


class ConfigError(ValueError):
  """A config field has a value that is not allowed; the message names the field."""


def _require(condition: bool, message: str) -> None:
  if not condition:
    raise ConfigError(message)


def _positive_int(config, name: str) -> None:
  value = config[name]
  _require(isinstance(value, int) and not isinstance(value, bool) and value > 0,
           f'config.{name}={value!r} must be a positive integer')


def _one_of(config, name: str, allowed) -> None:
  _require(config[name] in allowed, f'config.{name}={config[name]!r} is not allowed; allowed: {list(allowed)}')


def validate(config: ml_collections.ConfigDict, num_devices: int = 1) -> None:
  """Raises ConfigError for the first field whose value is not allowed."""
  missing = [name for name in FIELDS if name not in config]
  _require(not missing, f'config is missing fields {missing}')
  unknown = sorted(set(config.keys()) - set(FIELDS))
  _require(not unknown, f'config has unknown fields {unknown}; allowed: {list(FIELDS)}')
  _one_of(config, 'dataset', sorted(data.TOY_SAMPLERS))
  for name in ('batch_size', 'num_steps', 'd_steps', 'latent_dim', 'steps_per_epoch', 'steps_per_call'):
    _positive_int(config, name)
  _require(isinstance(config.seed, int) and config.seed >= 0,
           f'config.seed={config.seed!r} must be a non-negative integer')
  _one_of(config, 'g_loss', sorted(losses.GENERATOR_LOSSES))
  _one_of(config, 'update_rule', train.UPDATE_RULES)
  _require(config.update_rule != 'simultaneous' or config.d_steps == 1,
           f"config.d_steps={config.d_steps} is not allowed with update_rule='simultaneous'; it needs d_steps=1")
  _one_of(config, 'optimizer', OPTIMIZERS)
  _one_of(config, 'lr_schedule', LR_SCHEDULES)
  _one_of(config, 'prior', priors.PRIOR_NAMES)
  for name in ('learning_rate', 'd_learning_rate_scale', 'log_every_seconds'):
    value = config[name]
    _require(isinstance(value, (int, float)) and math.isfinite(value) and value > 0,
             f'config.{name}={value!r} must be a positive number')
  _require(isinstance(config.momentum, (int, float)) and 0 <= config.momentum < 1,
           f'config.momentum={config.momentum!r} must be in [0, 1)')
  _require(config.lr_schedule != 'paper' or config.optimizer == 'sgd_momentum',
           f"config.lr_schedule='paper' needs optimizer='sgd_momentum', not {config.optimizer!r}")
  hidden = config.hidden_dims
  _require(isinstance(hidden, (tuple, list)) and len(hidden) > 0 and
           all(isinstance(h, int) and h > 0 for h in hidden),
           f'config.hidden_dims={hidden!r} must be a non-empty sequence of positive integers')
  _require(config.batch_size % num_devices == 0,
           f'config.batch_size={config.batch_size} does not divide over {num_devices} devices; '
           f'use a multiple of {num_devices}')


def _learning_rate(config, scale: float, updates_per_run: int) -> optax.ScalarOrSchedule:
  initial = config.learning_rate * scale
  if config.lr_schedule == 'cosine':
    return optax.cosine_decay_schedule(initial, updates_per_run, alpha=0.05)
  if config.lr_schedule == 'paper':
    return optim.paper_learning_rate(initial)
  return initial


def _optimizer(config, scale: float, updates_per_run: int) -> optax.GradientTransformation:
  learning_rate = _learning_rate(config, scale, updates_per_run)
  if config.optimizer == 'adam':
    return optim.adam(learning_rate)
  momentum = (optim.paper_momentum(config.steps_per_epoch) if config.lr_schedule == 'paper'
              else config.momentum)
  return optim.sgd_momentum(learning_rate, momentum)


def build(config: ml_collections.ConfigDict) -> tuple[train.GAN, train.GANState]:
  """The game and its initial state for a validated ``config`` (toy MLPs)."""
  data_dim = data.TOY_DIMS[config.dataset]
  rngs = nnx.Rngs(config.seed)
  g_apply, g_params = models.as_pure_function(models.MLPGenerator(
      config.latent_dim, tuple(config.hidden_dims), data_dim, output_activation='identity',
      init_range=None, rngs=rngs))
  d_apply, d_params = models.as_pure_function(
      models.MLPDiscriminator(data_dim, tuple(config.hidden_dims), rngs=rngs))
  gan = train.GAN(
      g_apply, d_apply, priors.NoisePrior(config.prior, config.latent_dim),
      g_optimizer=_optimizer(config, 1.0, config.num_steps),
      d_optimizer=_optimizer(config, config.d_learning_rate_scale, config.num_steps * config.d_steps),
      g_loss=config.g_loss, d_steps=config.d_steps, update_rule=config.update_rule)
  return gan, train.init_state(gan, g_params, d_params)


def make_chunk_fn(gan: train.GAN, sampler: data.Sampler, config) -> Callable:
  """Jitted ``(state, train_key, data_key, num_steps) -> (state, metrics [num_steps])``.

  Draws the iterations' minibatches on device and runs them in one lax.scan;
  ``num_steps`` is static (one compilation per distinct chunk length).
  """
  def chunk(state, train_key, data_key, num_steps):
    batches = data.iteration_batches(sampler, data_key, state.step, num_steps, config.d_steps,
                                     config.batch_size)
    return train.train_steps(gan, state, batches, train_key)
  return jax.jit(chunk, static_argnums=3, donate_argnums=0)


def _format(step: int, num_steps: int, metrics: dict, rate: float) -> str:
  eta = (num_steps - step) / rate if rate > 0 else float('inf')
  return (f'step {step:>7d}/{num_steps}  d_loss {metrics["d_loss"]:.4f}  g_loss {metrics["g_loss"]:.4f}  '
          f'D(x) {metrics["d_real"]:.3f}  D(G(z)) {metrics["d_fake"]:.3f}  {rate:8.1f} it/s  ETA {eta:6.0f} s')


def run(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
        print_fn: Callable[[str], None] = print) -> dict:
  """Trains per ``config``, writing ``workdir/metrics.jsonl``; returns a summary dict.

  Each line of metrics.jsonl is one logged chunk: ``step`` (iterations done)
  and the chunk's mean ``d_loss``, ``g_loss``, ``d_real``, ``d_fake``,
  ``d_fake_g``. The summary holds the final metrics and, for 1-D data, the
  mean and std of 10,000 generator samples next to the data's.
  """
  validate(config)
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  gan, state = build(config)
  train_key, data_key, sample_key = jax.random.split(jax.random.key(config.seed), 3)
  chunk_fn = make_chunk_fn(gan, data.TOY_SAMPLERS[config.dataset], config)

  start, last_log = time.perf_counter(), 0.0
  summary = {}
  with open(workdir / 'metrics.jsonl', 'w') as log:
    while (step := int(state.step)) < config.num_steps:
      state, metrics = chunk_fn(state, train_key, data_key, min(config.steps_per_call, config.num_steps - step))
      record = {'step': int(state.step), **{k: float(jnp.mean(v)) for k, v in metrics.items()}}
      log.write(json.dumps(record) + '\n')
      summary = record
      now = time.perf_counter()
      if now - last_log >= config.log_every_seconds or record['step'] == config.num_steps:
        print_fn(_format(record['step'], config.num_steps, record, record['step'] / (now - start)))
        last_log = now
  summary['seconds'] = time.perf_counter() - start
  if data.TOY_DIMS[config.dataset] == 1:
    samples = np.asarray(train.sample(gan, state.g_params, sample_key, 10_000))
    summary.update(sample_mean=float(samples.mean()), sample_std=float(samples.std()),
                   data_mean=data.GAUSS1D_MEAN, data_std=data.GAUSS1D_STD)
  with open(workdir / 'summary.json', 'w') as f:
    json.dump(summary, f, indent=2)
  return summary
