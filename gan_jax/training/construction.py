"""From a game spec to the game: networks, prior, optimisers and the ``GAN``, by name.

A ``GameSpec`` (made from a config by ``plan.game_spec``) names each choice;
each choice made by name is a registry here, name → constructor:
``OBJECTIVES`` (``objective``: the GAN or the VAE), ``GENERATORS`` (``g_output``), ``DISCRIMINATORS`` (``model``),
``OPTIMIZERS`` (``optimizer``), ``LR_SCHEDULES`` (``lr_schedule``); priors
and generator losses have theirs in ``priors`` and ``losses``. The registries
are the allowed values that ``plan`` checks, so adding a network or
an optimiser is one entry here plus the spec fields it reads (documented
in ``configs/base.py``). Training (``loop``), evaluation (``reports.stored_runs``),
figures and benchmarks all build through ``build``.
"""

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import optax
from flax import nnx

from gan_jax import models, optim, parallel, priors, train, vae
from gan_jax.data import datasets
from gan_jax.configs.base import ConfigError


@dataclasses.dataclass(frozen=True)
class GameSpec:
  """The game: G and D, the prior, the losses, Algorithm 1's k and update rule, the optimisers, the average; or,
  with ``objective='vae'``, the VAE whose decoder is G's network.

  The fields are the config fields of the same names (``configs/base.py`` documents each).
  """
  objective: str
  batch_size: int
  d_steps: int
  g_loss: str
  update_rule: str
  optimizer: str
  adam_b1: float
  learning_rate: float
  d_learning_rate_scale: float
  momentum: float
  rmsprop_decay: float
  lr_schedule: str
  lr_decay_steps: int
  lr_decay_factor: float
  model: str
  prior: str
  latent_dim: int
  g_hidden_dims: tuple[int, ...]
  d_hidden_dims: tuple[int, ...]
  maxout_pieces: int
  d_input_keep: float
  d_hidden_keep: float
  pack: int
  g_init_range: float
  d_init_range: float
  init_distribution: str
  matmul_precision: str
  g_batch_norm: bool
  g_output_bias_from_data: bool
  g_hidden_activations: tuple[str, ...]
  d_hidden_activation: str
  g_output: str
  d_conv_channels: tuple[int, ...]
  d_conv_kernels: tuple[int, ...]
  d_conv_pads: tuple[int, ...]
  d_pool_shapes: tuple[int, ...]
  d_pool_strides: tuple[int, ...]
  d_conv_pieces: int
  g_ema_decay: float
  g_ema_warmup: float
  num_classes: int


@dataclasses.dataclass(frozen=True)
class Network:
  """A registry entry: ``build(game, dataset, rngs, **extra) -> nnx.Module``; ``needs_images``: 2-D data only;
  ``takes_labels``: a discriminator that can judge (x, c) pairs of a conditional game (``num_classes`` > 0)."""
  build: Callable[..., nnx.Module]
  needs_images: bool = False
  takes_labels: bool = True


INIT_DISTRIBUTIONS = ('uniform', 'normal')  # GameSpec.init_distribution


def _init_range(game: GameSpec, value: float) -> models.InitRange:
  """U(±value) or N(0, value²) (``game.init_distribution``) weights; None (Flax's default) for value 0."""
  if value <= 0:
    return None
  return value if game.init_distribution == 'uniform' else nnx.initializers.normal(value)


# ---------------------------------------------------------------- networks

def _output_bias(game: GameSpec, dataset: datasets.Dataset, pixel_means: np.ndarray | None) -> np.ndarray | None:
  """G's output bias [dim] = logit(mean pixel) for images with ``g_output_bias_from_data`` (``pixel_means``:
  in [0, 1] over the whole training set; default: over ``dataset``), else None (zeros)."""
  if not (dataset.is_image and game.g_output_bias_from_data):
    return None
  if pixel_means is None:
    pixel_means = dataset.train.mean(axis=0, dtype=np.float64) / 255.0
  return models.sigmoid_bias_from_marginals(pixel_means)


def _dense_generator(game: GameSpec, dataset: datasets.Dataset, rngs: nnx.Rngs,
                     pixel_means: np.ndarray | None = None) -> nnx.Module:
  output_bias = _output_bias(game, dataset, pixel_means)
  output_activation = 'sigmoid' if dataset.is_image else 'identity'
  if game.g_batch_norm:
    return models.BatchNormMLPGenerator(game.latent_dim + game.num_classes, tuple(game.g_hidden_dims), dataset.dim,
                                        output_activation=output_activation,
                                        init_range=_init_range(game, game.g_init_range), rngs=rngs)
  return models.MLPGenerator(
      game.latent_dim + game.num_classes, tuple(game.g_hidden_dims), dataset.dim,
      hidden_activations=tuple(game.g_hidden_activations) or None,
      output_activation=output_activation,
      init_range=_init_range(game, game.g_init_range), output_bias=output_bias, rngs=rngs)


def _deconv_generator(game: GameSpec, dataset: datasets.Dataset, rngs: nnx.Rngs,
                      pixel_means: np.ndarray | None = None) -> nnx.Module:
  del pixel_means  # the deconvolutional output layer has no per-pixel bias
  return models.DeconvGenerator(game.latent_dim + game.num_classes, tuple(game.g_hidden_dims), dataset.example_shape,
                                hidden_activations=tuple(game.g_hidden_activations) or None,
                                init_range=_init_range(game, game.g_init_range), rngs=rngs)


def d_input_shape(game: GameSpec, dataset: datasets.Dataset) -> tuple[int, ...]:
  """The shape of one example as D sees it: the data's, with the last axis ``game.pack`` times longer."""
  *leading, last = dataset.example_shape
  return (*leading, last * game.pack)


def _mlp_discriminator(game: GameSpec, dataset: datasets.Dataset, rngs: nnx.Rngs) -> nnx.Module:
  return models.MLPDiscriminator(math.prod(d_input_shape(game, dataset)) + game.num_classes, tuple(game.d_hidden_dims),
                                 hidden_activations=(game.d_hidden_activation,) * len(game.d_hidden_dims),
                                 init_range=_init_range(game, game.d_init_range), rngs=rngs)


def _maxout_discriminator(game: GameSpec, dataset: datasets.Dataset, rngs: nnx.Rngs) -> nnx.Module:
  return models.MaxoutDiscriminator(
      math.prod(d_input_shape(game, dataset)) + game.num_classes, tuple(game.d_hidden_dims), game.maxout_pieces,
      input_keep=game.d_input_keep, hidden_keep=game.d_hidden_keep,
      init_range=_init_range(game, game.d_init_range), unmasked_inputs=game.num_classes, rngs=rngs)


def _conv_maxout_discriminator(game: GameSpec, dataset: datasets.Dataset, rngs: nnx.Rngs) -> nnx.Module:
  return models.ConvMaxoutDiscriminator(
      d_input_shape(game, dataset), tuple(game.d_conv_channels), tuple(game.d_conv_kernels),
      tuple(game.d_conv_pads), tuple(zip(game.d_pool_shapes, game.d_pool_strides)),
      game.d_conv_pieces, tuple(game.d_hidden_dims), game.maxout_pieces,
      input_keep=game.d_input_keep, hidden_keep=game.d_hidden_keep,
      init_range=_init_range(game, game.d_init_range), rngs=rngs)


GENERATORS: dict[str, Network] = {
    'dense': Network(_dense_generator),     # ReLU layers → dense output (sigmoid for images)
    'deconv': Network(_deconv_generator, needs_images=True),
}
DISCRIMINATORS: dict[str, Network] = {
    'mlp': Network(_mlp_discriminator),     # ReLU layers
    'maxout': Network(_maxout_discriminator),  # the paper's MNIST D, with dropout
    'conv_maxout': Network(_conv_maxout_discriminator, needs_images=True, takes_labels=False),
}


# ---------------------------------------------------------------- optimisers

LR_SCHEDULES: dict[str, Callable[[GameSpec, float, int], optax.ScalarOrSchedule]] = {
    # (game, initial learning rate, this player's updates per iteration) → learning rate or schedule
    'constant': lambda game, initial, updates_per_iteration: initial,
    'cosine': lambda game, initial, updates_per_iteration: optax.cosine_decay_schedule(
        initial, game.lr_decay_steps * updates_per_iteration, alpha=0.05),
    'paper': lambda game, initial, updates_per_iteration: optim.paper_learning_rate(initial, game.lr_decay_factor),
}


def _sgd_momentum(game: GameSpec, learning_rate: optax.ScalarOrSchedule, updates_per_epoch: int):
  momentum = optim.paper_momentum(updates_per_epoch) if game.lr_schedule == 'paper' else game.momentum
  return optim.sgd_momentum(learning_rate, momentum)


OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    # (game, learning rate or schedule, this player's updates per epoch) → optimiser
    'sgd_momentum': _sgd_momentum,
    'adam': lambda game, learning_rate, updates_per_epoch: optim.adam(learning_rate, game.adam_b1),
    'rmsprop': lambda game, learning_rate, updates_per_epoch: optim.rmsprop(learning_rate, game.rmsprop_decay),
}


def optimizer(game: GameSpec, scale: float, updates_per_iteration: int,
              minibatches_per_epoch: int) -> optax.GradientTransformation:
  """One player's optimiser: learning rate ``game.learning_rate × scale``, updated
  ``updates_per_iteration`` times per iteration of ``game.d_steps`` minibatches."""
  learning_rate = LR_SCHEDULES[game.lr_schedule](game, game.learning_rate * scale, updates_per_iteration)
  # An epoch is n/m minibatches; a player updated u times per iteration of k
  # minibatches makes u·(n/m)/k updates per epoch.
  updates_per_epoch = max(1, minibatches_per_epoch * updates_per_iteration // game.d_steps)
  return OPTIMIZERS[game.optimizer](game, learning_rate, updates_per_epoch)


# ---------------------------------------------------------------- the game

def check_networks_fit(game: GameSpec, dataset: datasets.Dataset) -> None:
  """Raises ConfigError if an image-only network (``needs_images``) or a VAE (Bernoulli pixels) meets non-image
  data, or a conditional game (``num_classes`` > 0) a discriminator that cannot take labels."""
  if game.objective == 'vae' and not dataset.is_image:
    raise ConfigError(f"config.objective='vae' models pixels in [0, 1] as Bernoulli probabilities; it needs an "
                      f'image dataset, not {dataset.name!r}')
  for field, registry in (('g_output', GENERATORS), ('model', DISCRIMINATORS)):
    if registry[getattr(game, field)].needs_images and not dataset.is_image:
      raise ConfigError(f'config.{field}={getattr(game, field)!r} needs an image dataset, not {dataset.name!r}')
  if game.num_classes and not DISCRIMINATORS[game.model].takes_labels:
    allowed = [name for name, network in DISCRIMINATORS.items() if network.takes_labels]
    raise ConfigError(f'config.model={game.model!r} cannot judge labelled examples; a conditional game '
                      f'(config.num_classes={game.num_classes}) needs one of {allowed}')


def _build_network(field: str, registry: dict[str, Network], game: GameSpec,
                   dataset: datasets.Dataset, rngs: nnx.Rngs, **extra) -> nnx.Module:
  """The network that ``field`` of ``game`` names in ``registry``, for the data; ConfigError naming what to change
  if it cannot take the data."""
  try:
    return registry[getattr(game, field)].build(game, dataset, rngs, **extra)
  except ValueError as error:
    raise ConfigError(f'config.{field}={getattr(game, field)!r} cannot take the examples of dataset={dataset.name!r} '
                      f'(shape {dataset.example_shape}): {error}; change config.image_size or config.{field}') from None


def _build_vae(game: GameSpec, dataset: datasets.Dataset, rngs: nnx.Rngs, pixel_means: np.ndarray | None,
               minibatches_per_epoch: int) -> tuple[vae.VAE, vae.VAEState]:
  """The VAE of ``objective='vae'``: G's dense network as the decoder (its output as Bernoulli logits, the bias
  from the pixel means with ``g_output_bias_from_data``), an encoder of the same layers mirrored, to
  [μ, log σ²] (the dense generator class serves as a plain MLP there), one optimiser over both."""
  vae_optimizer = optimizer(game, 1.0, 1, minibatches_per_epoch)
  hidden_activations = tuple(game.g_hidden_activations) or None
  init_range = _init_range(game, game.g_init_range)
  output_bias = _output_bias(game, dataset, pixel_means)
  decoder = models.MLPGenerator(game.latent_dim, tuple(game.g_hidden_dims), dataset.dim,
                                hidden_activations=hidden_activations, output_activation='identity',
                                init_range=init_range, output_bias=output_bias, rngs=rngs)
  encoder = models.MLPGenerator(dataset.dim, tuple(reversed(game.g_hidden_dims)), 2 * game.latent_dim,
                                hidden_activations=hidden_activations and tuple(reversed(hidden_activations)),
                                output_activation='identity', init_range=init_range, rngs=rngs)
  (decode, decoder_params), (encode, encoder_params) = (models.as_pure_function(net) for net in (decoder, encoder))
  model = vae.VAE(models.in_matmul_precision(decode, game.matmul_precision),
                  models.in_matmul_precision(encode, game.matmul_precision),
                  priors.NoisePrior(game.prior, game.latent_dim), vae_optimizer)
  return model, vae.init_state(model, decoder_params, encoder_params)


def _build_gan(game: GameSpec, dataset: datasets.Dataset, rngs: nnx.Rngs, pixel_means: np.ndarray | None,
               minibatches_per_epoch: int) -> tuple[train.GAN, train.GANState]:
  """The paper's game: G and D from their registries, the prior, one optimiser per player, the ``train.GAN``."""
  g_optimizer = optimizer(game, 1.0, 1, minibatches_per_epoch)
  d_optimizer = optimizer(game, game.d_learning_rate_scale, game.d_steps, minibatches_per_epoch)
  generator = _build_network('g_output', GENERATORS, game, dataset, rngs, pixel_means=pixel_means)
  discriminator = _build_network('model', DISCRIMINATORS, game, dataset, rngs)
  if nnx.state(generator, nnx.BatchStat):  # batch norm: G has state the steps carry
    pure_generator = models.as_pure_generator(generator)
    g_apply, g_params, g_state, g_train = (pure_generator.sample, pure_generator.params, pure_generator.state,
                                           pure_generator.train)
  else:
    (g_apply, g_params), g_state, g_train = models.as_pure_function(generator), None, None
  d_apply, d_params = models.as_pure_function(discriminator)
  g_apply, d_apply = (models.in_matmul_precision(apply, game.matmul_precision) for apply in (g_apply, d_apply))
  if g_train is not None:
    g_train = models.in_matmul_precision(g_train, game.matmul_precision)
  gan = train.GAN(
      g_apply, d_apply, priors.NoisePrior(game.prior, game.latent_dim, game.num_classes),
      g_optimizer=g_optimizer, d_optimizer=d_optimizer,
      g_loss=game.g_loss, d_steps=game.d_steps, update_rule=game.update_rule,
      g_ema_decay=game.g_ema_decay, g_ema_warmup=game.g_ema_warmup, pack=game.pack,
      example_shape=tuple(dataset.example_shape), generator_train=g_train)
  return gan, train.init_state(gan, g_params, d_params, g_state)


# GameSpec.objective → (game, dataset, rngs, pixel_means, minibatches_per_epoch) → the model and its initial state
OBJECTIVES: dict[str, Callable[..., tuple[parallel.Model, parallel.State]]] = {
    'gan': _build_gan,  # the paper's game
    'vae': _build_vae,  # the VAE beside it
}


def build(game: GameSpec, dataset: datasets.Dataset, seed: int, minibatches_per_epoch: int,
          pixel_means: np.ndarray | None = None) -> tuple[parallel.Model, parallel.State]:
  """The game and its initial state for a game spec and its dataset (a ``vae.VAE`` for ``objective='vae'``).

  Args:
    game: what to build (``plan.game_spec`` of a validated config).
    dataset: the training examples (of this process's shards in a run).
    seed: draws the networks' initial weights (the run's seed).
    minibatches_per_epoch: the global minibatches of an epoch, which the
      paper's momentum schedule counts in (``RunPlan.loop``).
    pixel_means: [dim] mean pixel values in [0, 1] over the whole training
      set, for ``g_output_bias_from_data``; default: the means over ``dataset``.
  Raises:
    ConfigError: an image-only network with non-image data, or a network
      whose geometry does not take the data's shape.
  """
  check_networks_fit(game, dataset)
  return OBJECTIVES[game.objective](game, dataset, nnx.Rngs(seed), pixel_means, minibatches_per_epoch)


def build_on_one_device(game: GameSpec, dataset: datasets.Dataset, seed: int
                        ) -> tuple[parallel.Model, parallel.State]:
  """``build`` with the epoch length of ``dataset`` on one device: the game as a one-device run of it starts
  (for readers of stored runs, figures, benchmarks and tests; the loop passes its plan's epoch length)."""
  return build(game, dataset, seed, datasets.minibatches_per_epoch(dataset, datasets.Shards(), game.batch_size))
