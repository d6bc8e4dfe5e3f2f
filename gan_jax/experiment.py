"""From a config to a trained GAN: validation, construction and the training loop.

``experiments/train.py`` is a thin command-line wrapper around ``run``. A
config is an ``ml_collections.ConfigDict`` with exactly the fields of
``FIELDS`` (presets in ``gan_jax/configs/``). ``validate`` checks every field
before anything is read or compiled and raises ``ConfigError`` with one line
naming the field and what is allowed; ``check_against_data`` does the same for
the limits that depend on the dataset's size.

The loop always runs the pmap driver over the local devices (one device is
fine): the training set and the state are replicated, each device draws its
share of every minibatch on device (``data.minibatch_indices``), and
``steps_per_call`` iterations run in one compiled ``lax.scan``. Between calls
it logs, saves sample pictures and checkpoints; it resumes from the latest
checkpoint in ``workdir``.
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
from jax import lax

from gan_jax import checkpoint, data, losses, models, monitoring, optim, parallel, priors, train, viz
from gan_jax.configs import base

FIELDS = (
    # data and the game
    'dataset', 'data_dir', 'batch_size', 'num_steps', 'seed', 'd_steps', 'g_loss', 'update_rule',
    # optimisers
    'optimizer', 'learning_rate', 'd_learning_rate_scale', 'momentum', 'lr_schedule', 'lr_decay_steps',
    # networks
    'model', 'prior', 'latent_dim', 'g_hidden_dims', 'd_hidden_dims', 'maxout_pieces', 'd_input_keep',
    'd_hidden_keep', 'g_init_range', 'd_init_range', 'g_output_bias_from_data', 'g_hidden_activations',
    'g_output', 'd_conv_channels', 'd_conv_kernels', 'd_conv_pads', 'd_pool_shapes', 'd_pool_strides',
    'd_conv_pieces',
    # the loop
    'steps_per_call', 'log_every_seconds', 'checkpoint_every_steps', 'keep_checkpoints',
    'sample_every_steps', 'num_shown_samples')
MODELS = ('mlp', 'maxout', 'conv_maxout')
GENERATOR_OUTPUTS = ('dense', 'deconv')
OPTIMIZERS = ('adam', 'sgd_momentum')
LR_SCHEDULES = ('constant', 'cosine', 'paper')
# Fields a resumed run must share with the run that wrote the checkpoints.
RUN_DEFINING_FIELDS = ('dataset', 'batch_size', 'seed', 'd_steps', 'update_rule', 'optimizer', 'model',
                       'prior', 'latent_dim', 'g_hidden_dims', 'd_hidden_dims', 'maxout_pieces', 'g_output',
                       'd_conv_channels')


class ConfigError(ValueError):
  """A config field has a value that is not allowed; the message names the field."""


class TrainingDiverged(RuntimeError):
  """A loss became NaN or infinite; nothing from that chunk was checkpointed."""


# ---------------------------------------------------------------- validation

def _require(condition: bool, message: str) -> None:
  if not condition:
    raise ConfigError(message)


def _is_int(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_positive_ints(config, names) -> None:
  for name in names:
    _require(_is_int(config[name]) and config[name] > 0,
             f'config.{name}={config[name]!r} must be a positive integer')


def _check_one_of(config, name: str, allowed) -> None:
  _require(config[name] in allowed, f'config.{name}={config[name]!r} is not allowed; allowed: {list(allowed)}')


def _check_dims(config, name: str) -> None:
  dims = config[name]
  _require(isinstance(dims, (tuple, list)) and len(dims) > 0 and all(_is_int(d) and d > 0 for d in dims),
           f'config.{name}={dims!r} must be a non-empty sequence of positive integers')


def validate(config: ml_collections.ConfigDict, num_devices: int = 1) -> None:
  """Raises ConfigError for the first field whose value is not allowed; reads nothing."""
  missing = [name for name in FIELDS if name not in config]
  _require(not missing, f'config is missing fields {missing}')
  unknown = sorted(set(config.keys()) - set(FIELDS))
  _require(not unknown, f'config has unknown fields {unknown}; allowed: {list(FIELDS)}')
  try:
    data.check_name(config.dataset)
  except data.DataError as error:
    raise ConfigError(str(error)) from None
  _check_positive_ints(config, ('batch_size', 'num_steps', 'd_steps', 'latent_dim', 'maxout_pieces',
                                'lr_decay_steps', 'steps_per_call', 'checkpoint_every_steps',
                                'keep_checkpoints', 'sample_every_steps', 'num_shown_samples'))
  _require(_is_int(config.seed) and config.seed >= 0, f'config.seed={config.seed!r} must be a non-negative integer')
  _check_one_of(config, 'g_loss', sorted(losses.GENERATOR_LOSSES))
  _check_one_of(config, 'update_rule', train.UPDATE_RULES)
  _require(config.update_rule != 'simultaneous' or config.d_steps == 1,
           f"config.d_steps={config.d_steps} is not allowed with update_rule='simultaneous'; it needs d_steps=1")
  _check_one_of(config, 'optimizer', OPTIMIZERS)
  _check_one_of(config, 'lr_schedule', LR_SCHEDULES)
  _require(config.lr_schedule != 'paper' or config.optimizer == 'sgd_momentum',
           f"config.lr_schedule='paper' needs optimizer='sgd_momentum', not {config.optimizer!r}")
  _check_one_of(config, 'model', MODELS)
  _check_one_of(config, 'prior', priors.PRIOR_NAMES)
  for name in ('learning_rate', 'd_learning_rate_scale', 'log_every_seconds'):
    _require(_is_number(config[name]) and config[name] > 0, f'config.{name}={config[name]!r} must be a positive number')
  _require(_is_number(config.momentum) and 0 <= config.momentum < 1,
           f'config.momentum={config.momentum!r} must be in [0, 1)')
  for name in ('d_input_keep', 'd_hidden_keep'):
    _require(_is_number(config[name]) and 0 < config[name] <= 1,
             f'config.{name}={config[name]!r} must be a keep probability in (0, 1]')
  for name in ('g_init_range', 'd_init_range'):
    _require(_is_number(config[name]) and config[name] >= 0,
             f"config.{name}={config[name]!r} must be >= 0 (0 means Flax's default initialiser)")
  _require(isinstance(config.g_output_bias_from_data, bool),
           f'config.g_output_bias_from_data={config.g_output_bias_from_data!r} must be True or False')
  _check_dims(config, 'g_hidden_dims')
  _check_dims(config, 'd_hidden_dims')
  _check_one_of(config, 'g_output', GENERATOR_OUTPUTS)
  activations = tuple(config.g_hidden_activations)
  _require(activations == () or (len(activations) == len(config.g_hidden_dims) and
                                 set(activations) <= set(models.HIDDEN_ACTIVATIONS)),
           f'config.g_hidden_activations={activations!r} must be () (all ReLU) or name one of '
           f'{sorted(models.HIDDEN_ACTIVATIONS)} for each of the {len(config.g_hidden_dims)} g_hidden_dims')
  _check_positive_ints(config, ('d_conv_pieces',))
  for name in ('d_conv_channels', 'd_conv_kernels', 'd_pool_shapes', 'd_pool_strides'):
    _check_dims(config, name)
  _require(isinstance(config.d_conv_pads, (tuple, list)) and all(_is_int(p) and p >= 0 for p in config.d_conv_pads),
           f'config.d_conv_pads={config.d_conv_pads!r} must be a sequence of non-negative integers')
  conv_lengths = {len(config[name]) for name in ('d_conv_channels', 'd_conv_kernels', 'd_conv_pads',
                                                  'd_pool_shapes', 'd_pool_strides')}
  _require(len(conv_lengths) == 1, 'config.d_conv_channels, d_conv_kernels, d_conv_pads, d_pool_shapes and '
                                   'd_pool_strides must have one entry per conv layer')
  for name in ('checkpoint_every_steps', 'sample_every_steps'):
    _require(config[name] % config.steps_per_call == 0,
             f'config.{name}={config[name]} must be a multiple of config.steps_per_call={config.steps_per_call}')
  try:
    parallel.check_divisible(config.batch_size, num_devices)
  except ValueError as error:
    raise ConfigError(f'config.{error}') from None


def check_against_data(config: ml_collections.ConfigDict, dataset: data.Dataset) -> None:
  """Raises ConfigError if the batch or the scan length does not fit the training set."""
  n = dataset.train.shape[0]
  _require(config.batch_size <= n, f'config.batch_size={config.batch_size} exceeds the {n} training examples '
                                   f'of dataset={config.dataset!r}')
  minibatches_per_epoch = n // config.batch_size
  _require(config.steps_per_call * config.d_steps <= minibatches_per_epoch,
           f'config.steps_per_call={config.steps_per_call} × d_steps={config.d_steps} minibatches exceed the '
           f'{minibatches_per_epoch} minibatches of one epoch of {config.dataset!r}; lower steps_per_call')


# ---------------------------------------------------------------- construction

def _learning_rate(config, scale: float, updates_per_decay: int) -> optax.ScalarOrSchedule:
  initial = config.learning_rate * scale
  if config.lr_schedule == 'cosine':
    return optax.cosine_decay_schedule(initial, updates_per_decay, alpha=0.05)
  if config.lr_schedule == 'paper':
    return optim.paper_learning_rate(initial)
  return initial


def _optimizer(config, scale: float, updates_per_iteration: int,
               minibatches_per_epoch: int) -> optax.GradientTransformation:
  learning_rate = _learning_rate(config, scale, config.lr_decay_steps * updates_per_iteration)
  if config.optimizer == 'adam':
    return optim.adam(learning_rate)
  if config.lr_schedule == 'paper':
    # An epoch is n/m minibatches; a player updated u times per iteration of
    # k minibatches makes u·(n/m)/k updates per epoch.
    updates_per_epoch = max(1, minibatches_per_epoch * updates_per_iteration // config.d_steps)
    return optim.sgd_momentum(learning_rate, optim.paper_momentum(updates_per_epoch))
  return optim.sgd_momentum(learning_rate, config.momentum)


def _init_range(value: float) -> float | None:
  return value if value > 0 else None


def check_model_fits_data(config: ml_collections.ConfigDict, dataset: data.Dataset) -> None:
  """Raises ConfigError if an image-only architecture meets non-image data."""
  for name, value in (('g_output', 'deconv'), ('model', 'conv_maxout')):
    _require(config[name] != value or dataset.is_image,
             f'config.{name}={value!r} needs an image dataset, not {config.dataset!r}')


def _generator(config, dataset: data.Dataset, rngs: nnx.Rngs) -> nnx.Module:
  activations = tuple(config.g_hidden_activations) or None
  if config.g_output == 'deconv':
    return models.DeconvGenerator(config.latent_dim, tuple(config.g_hidden_dims), dataset.example_shape,
                                  hidden_activations=activations, init_range=_init_range(config.g_init_range),
                                  rngs=rngs)
  output_bias = None
  if dataset.is_image and config.g_output_bias_from_data:
    output_bias = models.sigmoid_bias_from_marginals(dataset.train.mean(axis=0, dtype=np.float64) / 255.0)
  return models.MLPGenerator(
      config.latent_dim, tuple(config.g_hidden_dims), dataset.dim, hidden_activations=activations,
      output_activation='sigmoid' if dataset.is_image else 'identity',
      init_range=_init_range(config.g_init_range), output_bias=output_bias, rngs=rngs)


def build(config: ml_collections.ConfigDict, dataset: data.Dataset) -> tuple[train.GAN, train.GANState]:
  """The game and its initial state for a validated ``config`` and its dataset."""
  check_model_fits_data(config, dataset)
  rngs = nnx.Rngs(config.seed)
  generator = _generator(config, dataset, rngs)
  if config.model == 'conv_maxout':
    discriminator = models.ConvMaxoutDiscriminator(
        dataset.example_shape, tuple(config.d_conv_channels), tuple(config.d_conv_kernels),
        tuple(config.d_conv_pads), tuple(zip(config.d_pool_shapes, config.d_pool_strides)),
        config.d_conv_pieces, tuple(config.d_hidden_dims), config.maxout_pieces,
        input_keep=config.d_input_keep, hidden_keep=config.d_hidden_keep,
        init_range=_init_range(config.d_init_range), rngs=rngs)
  elif config.model == 'maxout':
    discriminator = models.MaxoutDiscriminator(
        dataset.dim, tuple(config.d_hidden_dims), config.maxout_pieces, input_keep=config.d_input_keep,
        hidden_keep=config.d_hidden_keep, init_range=_init_range(config.d_init_range), rngs=rngs)
  else:
    discriminator = models.MLPDiscriminator(dataset.dim, tuple(config.d_hidden_dims),
                                            init_range=_init_range(config.d_init_range), rngs=rngs)
  g_apply, g_params = models.as_pure_function(generator)
  d_apply, d_params = models.as_pure_function(discriminator)
  minibatches_per_epoch = dataset.train.shape[0] // config.batch_size
  gan = train.GAN(
      g_apply, d_apply, priors.NoisePrior(config.prior, config.latent_dim),
      g_optimizer=_optimizer(config, 1.0, 1, minibatches_per_epoch),
      d_optimizer=_optimizer(config, config.d_learning_rate_scale, config.d_steps, minibatches_per_epoch),
      g_loss=config.g_loss, d_steps=config.d_steps, update_rule=config.update_rule)
  return gan, train.init_state(gan, g_params, d_params)


def make_chunk_fn(gan: train.GAN, config: ml_collections.ConfigDict, devices) -> Callable:
  """pmapped ``(state, train_data, permutations, first_epoch, first_step, key, num_steps)``.

  Runs iterations first_step … first_step + num_steps − 1 in one lax.scan on
  every device. Arguments: the replicated state and training set [n_dev, n,
  dim], the two epochs' permutations [2, n] from ``data.epoch_permutations``
  (broadcast), the first of those epochs, the first iteration, the run's
  train key, and the static chunk length. Returns the replicated state and
  metrics [n_dev, num_steps] (equal on every device). The state is donated.
  """
  gan = parallel.data_parallel(gan)
  k, m, num_shards = config.d_steps, config.batch_size, len(devices)

  def per_device(state, train_data, permutations, first_epoch, first_step, key, num_steps):
    shard = lax.axis_index(parallel.BATCH_AXIS)

    def iteration(state, step):
      shard_indices = lambda b: data.minibatch_indices(permutations, first_epoch, b, m, shard, num_shards)
      indices = jax.vmap(shard_indices)(step * k + jnp.arange(k))  # [k, m / num_shards]
      return train.train_step(gan, state, data.to_float(train_data[indices]), key)

    return lax.scan(iteration, state, first_step + jnp.arange(num_steps))

  return jax.pmap(per_device, axis_name=parallel.BATCH_AXIS, in_axes=(0, 0, None, None, None, None),
                  static_broadcasted_argnums=6, donate_argnums=0, devices=devices)


def samples_picture(samples: np.ndarray, dataset: data.Dataset) -> np.ndarray:
  """A picture of generator samples: a grid of images, or a plot of toy samples over data."""
  if dataset.is_image:
    return viz.image_grid(samples, dataset.example_shape, columns=math.ceil(math.sqrt(len(samples))))
  shown_data = dataset.train[:len(samples)]
  if dataset.dim == 1:
    low, high = float(shown_data.min()), float(shown_data.max())
    margin = 0.5 * (high - low)
    return viz.histogram_image(samples, shown_data, low - margin, high + margin)
  return viz.scatter_image(samples, shown_data, extent=1.25 * float(np.abs(shown_data).max()))


# ---------------------------------------------------------------- the loop

def _check_resume_compatible(config, workdir: pathlib.Path) -> None:
  saved_path = workdir / 'config.json'
  if not saved_path.exists():
    return
  saved = json.loads(saved_path.read_text())
  defaults = base.get_config()  # for fields the project added after that run was written
  for name in RUN_DEFINING_FIELDS:
    current = list(config[name]) if isinstance(config[name], (tuple, list)) else config[name]
    default = list(defaults[name]) if isinstance(defaults[name], (tuple, list)) else defaults[name]
    _require(saved.get(name, default) == current,
             f'config.{name}={config[name]!r} differs from {saved.get(name)!r} of the run in {workdir}; '
             f'resume with the same value or use a new --workdir')


def _save_config(config, workdir: pathlib.Path) -> None:
  (workdir / 'config.json').write_text(json.dumps(config.to_dict(), indent=2, default=list) + '\n')


def _print_now(line: str) -> None:
  print(line, flush=True)  # console lines must show up at once in a redirected log too


def run(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
        print_fn: Callable[[str], None] = _print_now) -> dict:
  """Trains per ``config`` in ``workdir``, resuming from its latest checkpoint; returns a summary.

  Raises ConfigError / data.DataError / checkpoint.CheckpointError before any
  compute for bad input, TrainingDiverged if a loss stops being finite. The
  summary holds the final step and the last chunk's mean metrics, plus the
  mean and std of 10,000 samples for 1-D data.
  """
  devices = jax.local_devices()
  validate(config, len(devices))
  workdir = pathlib.Path(workdir)
  train_key, data_key, sample_key = jax.random.split(jax.random.key(config.seed), 3)
  dataset = data.load(config.dataset, data_key, config.data_dir)
  check_against_data(config, dataset)
  check_model_fits_data(config, dataset)
  _check_resume_compatible(config, workdir)
  gan, state = build(config, dataset)

  workdir.mkdir(parents=True, exist_ok=True)
  manager = checkpoint.make_manager(workdir / 'checkpoints', config.keep_checkpoints)
  restored = checkpoint.restore_latest(manager, state, train_key, data_key)
  if restored is not None:
    state, train_key, data_key = restored
    print_fn(f'resumed from step {int(state.step)} of {workdir / "checkpoints"}')
  _save_config(config, workdir)

  num_train = dataset.train.shape[0]
  minibatches_per_epoch = num_train // config.batch_size
  chunk_fn = make_chunk_fn(gan, config, devices)
  replicated_state = parallel.replicate(state, devices)
  replicated_data = parallel.replicate(jnp.asarray(dataset.train), devices)
  shown_noise = gan.prior.sample(sample_key, config.num_shown_samples)
  generate = jax.jit(gan.generator)
  step = int(state.step)
  log = monitoring.RunLog(workdir, start_step=step)
  run_start = time.perf_counter()
  last_console_step, last_console_time = step, run_start
  summary = {'step': step}
  try:
    while step < config.num_steps:
      num_steps = min(config.steps_per_call - step % config.steps_per_call, config.num_steps - step)
      first_epoch = step * config.d_steps // minibatches_per_epoch
      permutations = data.epoch_permutations(data_key, first_epoch, num_train)
      chunk_start = time.perf_counter()
      replicated_state, metrics = chunk_fn(replicated_state, replicated_data, permutations, first_epoch, step,
                                           train_key, num_steps)
      step += num_steps
      means = {name: float(np.mean(values[0])) for name, values in metrics.items()}
      bad = [name for name, value in means.items() if not math.isfinite(value)]
      if bad:
        raise TrainingDiverged(f'training diverged in steps {step - num_steps}..{step}: {bad[0]} = {means[bad[0]]}; '
                               f'the last checkpoint is step {manager.latest_step()}')
      now = time.perf_counter()
      epoch = step * config.d_steps / minibatches_per_epoch
      summary = {'step': step, 'epoch': epoch, **means, 'it_per_s': num_steps / (now - chunk_start)}
      log.scalars(step, {k: v for k, v in summary.items() if k != 'step'}, wall_time=now - run_start)
      if now - last_console_time >= config.log_every_seconds or step == config.num_steps:
        window_rate = (step - last_console_step) / (now - last_console_time)
        print_fn(monitoring.console_line(step, config.num_steps, epoch, means, window_rate))
        last_console_step, last_console_time = step, now
      if step % config.sample_every_steps == 0 or step == config.num_steps:
        g_params = parallel.unreplicate(replicated_state.g_params)
        log.picture(step, samples_picture(np.asarray(generate(g_params, shown_noise)), dataset))
      if step % config.checkpoint_every_steps == 0 or step == config.num_steps:
        checkpoint.save(manager, parallel.unreplicate(replicated_state), train_key, data_key)
  finally:
    manager.wait_until_finished()
    log.close()
  if dataset.dim == 1:
    g_params = parallel.unreplicate(replicated_state.g_params)
    samples = np.asarray(train.sample(gan, g_params, jax.random.fold_in(sample_key, 1), 10_000))
    summary.update(sample_mean=float(samples.mean()), sample_std=float(samples.std()))
  (workdir / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
  return summary
