"""Algorithm 1 of the paper as pure, jit-able JAX functions.

    for number of training iterations:
      for k steps:                                   ← d_step, k times
        sample m noise samples z ~ p_z and m examples x ~ p_data
        update D by ascending ∇_θd (1/m) Σ [log D(x) + log(1 − D(G(z)))]
      sample m fresh noise samples z ~ p_z            ← g_step
      update G by descending ∇_θg (1/m) Σ log(1 − D(G(z)))   (or the non-saturating loss)

``train_step`` is one such iteration, ``train_steps`` runs N of them inside one
``lax.scan``. Everything static (networks, prior, optimisers, loss choice, k)
lives in the frozen ``GAN`` dataclass; everything that changes lives in the
``GANState`` pytree. Bind the former with ``functools.partial`` and jit::

    step = jax.jit(functools.partial(train_step, gan), donate_argnums=0)
    state, metrics = step(state, real_batches, key)

Randomness. Each call consumes only keys passed in. ``train_step`` takes the
run's *base* key, folds in ``state.step`` and splits it into one key per
update, so the same base key can (and should) be passed at every iteration.
``d_step`` and ``g_step`` consume the key they are given. Inside an update,
noise z⁽ⁱ⁾ and dropout masks are drawn from per-example keys, fold_in(key, i)
with i the example's index in the *global* batch; so a step gives the same
result whether the batch sits on one device or is split across several (see
``parallel.py``), and no two examples, devices or updates share a key.

Data parallelism. With ``GAN.axis_name`` set, the steps run per device inside
``pmap``/``shard_map`` over that axis: each device holds m/n of the batch,
gradients and metrics are averaged with ``lax.pmean`` and the replicas stay
identical.
"""

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax
from jax import lax

from gan_jax import losses
from gan_jax.priors import NoisePrior

Params = Any
Metrics = dict[str, jax.Array]
GeneratorFn = Callable[[Params, jax.Array], jax.Array]
DiscriminatorFn = Callable[[Params, jax.Array, jax.Array | None], jax.Array]

UPDATE_RULES = ('alternating', 'simultaneous')


@flax.struct.dataclass
class GANState:
  """Everything that changes during training; a pytree.

  Attributes:
    step: int32 scalar, Algorithm 1 iterations completed.
    g_params, d_params: generator and discriminator parameters.
    g_opt_state, d_opt_state: their optimiser states (each holds its own
      update count, which drives its schedules).
    g_params_ema: an exponential moving average of ``g_params`` (same
      structure), or None when ``GAN.g_ema_decay`` is 0. It never feeds back
      into training; sample from it for smoother generators.
    g_state: G's variables that gradients do not train (batch-norm running
      averages: ``models.PureGenerator.state``), or None for a generator
      without state. Every training-mode pass of G moves them.
  """
  step: jax.Array
  g_params: Params
  d_params: Params
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState
  g_params_ema: Params | None = None
  g_state: Params | None = None


@dataclasses.dataclass(frozen=True)
class GAN:
  """The static definition of the game: players, prior, optimisers and rules.

  Attributes:
    generator: pure ``(g_variables, z [m, latent_dim]) -> x [m, *data_shape]``,
      G as used for sampling; ``g_variables`` is ``generator_variables(…)``:
      the parameters, or for a generator with state its parameters and state.
    discriminator: pure ``(d_params, x [m, *data_shape], dropout_key | None)
      -> logits [m]``; a key switches dropout on. The steps apply it to one
      example at a time (vmapped, each with its own dropout key), so it must
      not mix the examples of a batch (no batch statistics). With ``pack`` > 1
      its examples are packed ones (``pack_examples``).
    prior: the noise prior p_z. With ``prior.num_classes`` C > 0 the game is
      conditional (the paper's §7.1): G's inputs are [z, one_hot(c)]
      (``priors.NoisePrior``), and D judges pairs (x, c) as flat vectors
      [x, one_hot(c)]: the real minibatches hold them so (their labels joined
      by the data pipeline), and the steps join each generated x to the label
      of its input. ``generator`` itself returns x alone.
    g_optimizer, d_optimizer: optax transformations for each player.
    g_loss: 'non_saturating' (the paper's practical choice) or 'minimax'.
    d_steps: k, discriminator updates per iteration (the paper uses 1).
    update_rule: 'alternating' (Algorithm 1: k D updates, then a G update on
      fresh noise) or 'simultaneous' (the original code's SGD: one forward
      pass on one minibatch, both players' gradients from the same D outputs
      and dropout masks, both applied at once; needs d_steps = 1).
    g_ema_decay: β of the generator's weight average, updated after every
      iteration as ḡ ← β ḡ + (1 − β) g (starting from the initial g); 0 keeps
      no average (``GANState.g_params_ema`` is None).
    g_ema_warmup: c ≥ 2, or 0 for none. With c, iteration t uses
      min(β, (1 + t)/(c + t)) instead of β (polynomial-decay averaging):
      until the cap β is reached, at t ≈ (c − 1)/(1 − β), the average
      weights iterate s of t about as (s/t)^(c − 2) and lies about t/c
      iterations behind (an EMA's lag is 1/(1 − β)). c = 2 is the plain mean
      of all iterates, c = 10 TensorFlow's ExponentialMovingAverage with
      ``num_updates``. The initial weights fade at once, and the window grows
      with training.
    pack: PacGAN's packing degree (Lin et al., 2018): D judges groups of
      ``pack`` examples, all real or all generated, joined along the last
      axis (``pack_examples``), so a minibatch of m examples is m/pack
      packed examples to D (m must be divisible by ``pack``). 1: the paper's D.
      The losses are the paper's, averaged over the packed examples.
    example_shape: the layout of one example for packing, e.g. [H, W, C]
      for images fed as flat vectors (packing joins their channels); None:
      the examples' own shape. Unused without packing.
    axis_name: the named device axis to average over, or None on one device.
    generator_train: for a generator with state (batch norm), its training
      mode ``(g_params, g_state, z, axis_name) -> (x, new g_state)``
      (``models.PureGenerator.train``), with the batch statistics taken over
      the global batch; None for a generator without state, which the steps
      then call as ``generator(g_params, z)``.
  """
  generator: GeneratorFn
  discriminator: DiscriminatorFn
  prior: NoisePrior
  g_optimizer: optax.GradientTransformation
  d_optimizer: optax.GradientTransformation
  g_loss: str = 'non_saturating'
  d_steps: int = 1
  update_rule: str = 'alternating'
  g_ema_decay: float = 0.0
  g_ema_warmup: float = 0.0
  pack: int = 1
  example_shape: tuple[int, ...] | None = None
  axis_name: str | None = None
  generator_train: Callable[..., tuple[jax.Array, Params]] | None = None

  def __post_init__(self):
    losses.generator_loss_fn(self.g_loss)  # raises on an unknown name
    check_game(self.d_steps, self.update_rule, self.g_ema_decay, self.g_ema_warmup, self.pack,
               self.prior.num_classes)


def check_game(d_steps: int, update_rule: str, g_ema_decay: float, g_ema_warmup: float = 0.0,
               pack: int = 1, num_classes: int = 0) -> None:
  """Raises ValueError, naming the field, unless k, the update rule, the average's β and c, the packing and the
  classes of a conditional game fit."""
  if not (isinstance(d_steps, int) and d_steps >= 1):
    raise ValueError(f'd_steps={d_steps!r} must be a positive integer (k of Algorithm 1)')
  if update_rule not in UPDATE_RULES:
    raise ValueError(f'update_rule={update_rule!r} is not allowed; allowed: {list(UPDATE_RULES)}')
  if update_rule == 'simultaneous' and d_steps != 1:
    raise ValueError(f"d_steps={d_steps} is not allowed with update_rule='simultaneous'; it needs d_steps=1")
  if not 0.0 <= g_ema_decay < 1.0:
    raise ValueError(f'g_ema_decay={g_ema_decay!r} must be in [0, 1)')
  if not (g_ema_warmup == 0 or g_ema_warmup >= 2):
    raise ValueError(f'g_ema_warmup={g_ema_warmup!r} must be 0 (off) or a number c >= 2 '
                     '(iteration t uses min(β, (1+t)/(c+t)); 10 is TensorFlow\'s rule)')
  if g_ema_warmup and not g_ema_decay:
    raise ValueError(f'g_ema_warmup={g_ema_warmup!r} needs an average: set g_ema_decay > 0 (the cap β)')
  if not (isinstance(pack, int) and pack >= 1):
    raise ValueError(f'pack={pack!r} must be a positive integer (1: no packing; PacGAN2 is 2)')
  if not (isinstance(num_classes, int) and num_classes >= 0):
    raise ValueError(f'num_classes={num_classes!r} must be a non-negative integer (0: an unconditional game)')
  if num_classes and pack != 1:
    raise ValueError(f'num_classes={num_classes} (a conditional game) is not allowed with pack={pack}; use pack=1')


def init_state(gan: GAN, g_params: Params, d_params: Params, g_state: Params | None = None) -> GANState:
  """The state at iteration 0: copies of the given parameters (and G's state) and fresh optimiser states.

  ``g_state`` is required for a generator with state (``gan.generator_train``)
  and refused without one. The state holds copies, so the caller's arrays
  survive steps that donate the state (``donate_argnums=0``, as both drivers
  in ``parallel`` do).
  """
  if (g_state is None) != (gan.generator_train is None):
    raise ValueError('g_state must be given exactly when the game has a generator with state (gan.generator_train)')
  copy = functools.partial(jax.tree.map, jnp.copy)
  return GANState(step=jnp.zeros((), jnp.int32), g_params=copy(g_params), d_params=copy(d_params),
                  g_opt_state=gan.g_optimizer.init(g_params),
                  d_opt_state=gan.d_optimizer.init(d_params),
                  g_params_ema=copy(g_params) if gan.g_ema_decay else None,
                  g_state=None if g_state is None else copy(g_state))


def generator_variables(gan: GAN, g_params: Params, g_state: Params | None) -> Params:
  """What ``gan.generator`` samples with: ``g_params``, or ``{'params': g_params, 'state': g_state}`` with state.

  Pass ``state.g_params`` or ``state.g_params_ema`` with ``state.g_state``
  (the running averages are those of the trained G).
  """
  return g_params if gan.generator_train is None else {'params': g_params, 'state': g_state}


GENERATORS = ('raw', 'ema')  # the generators a state can hold: G as trained, the average of its weights


def generators(gan: GAN, state: GANState) -> dict[str, Params]:
  """The generators ``state`` holds, by name, as ``gan.generator`` takes them (``generator_variables``):
  {'raw': …} and, with a weight average (``g_ema_decay`` > 0), {'ema': …}."""
  kept = {'raw': state.g_params, 'ema': state.g_params_ema}
  return {name: generator_variables(gan, params, state.g_state) for name, params in kept.items() if params is not None}


def sample(gan: GAN, g_variables: Params, key: jax.Array, num_samples: int) -> jax.Array:
  """G(z) for z ~ p_z: [num_samples, *data_shape]; ``g_variables`` from ``generator_variables``."""
  return gan.generator(g_variables, gan.prior.sample(key, num_samples))


# ---------------------------------------------------------------- randomness

def example_keys(key: jax.Array, num_local: int, axis_name: str | None) -> jax.Array:
  """Keys [num_local], one per example of this device's share: fold_in(key, the example's index in the global
  batch), the devices along ``axis_name`` (None: one device) holding num_local examples each, in order."""
  first = 0 if axis_name is None else lax.axis_index(axis_name) * num_local
  return jax.vmap(functools.partial(jax.random.fold_in, key))(first + jnp.arange(num_local))


def pack_examples(x: jax.Array, pack: int, example_shape: tuple[int, ...] | None = None) -> jax.Array:
  """PacGAN's packing: x [n, *s] → [n/pack, *s[:-1], pack·s[-1]].

  Examples pack·i … pack·i + pack − 1 become packed example i, joined in
  that order along the last axis of ``example_shape``, the layout of one
  example (default: x.shape[1:]). For vectors that is their features; for
  images [H, W, C], fed flat or not, their channels, so a packed image is
  [H, W, pack·C] in the same layout. n must be divisible by ``pack``;
  ``pack`` = 1 returns x.
  """
  if pack == 1:
    return x
  n, *given_shape = x.shape
  if n % pack:
    raise ValueError(f'{n} examples cannot be packed in groups of pack={pack}; '
                     f'the minibatch (per device) must be divisible by pack')
  layout = tuple(example_shape) if example_shape else tuple(given_shape)
  grouped = jnp.moveaxis(x.reshape(n // pack, pack, *layout), 1, -2)  # [n/pack, *layout[:-1], pack, layout[-1]]
  return grouped.reshape(n // pack, *given_shape[:-1], pack * given_shape[-1])


def _discriminate_each(gan: GAN, d_params: Params, packed: jax.Array, dropout_keys: jax.Array) -> jax.Array:
  """D's logits [n] on n (packed) examples in training mode, example i's dropout mask from dropout_keys[i]."""
  return jax.vmap(lambda xi, ki: gan.discriminator(d_params, xi[None], ki)[0])(packed, dropout_keys)


def _discriminate(gan: GAN, d_params: Params, x: jax.Array, dropout_key: jax.Array) -> jax.Array:
  """D's logits [n/pack] on x [n, ...] packed by ``gan.pack``, in training mode.

  Packed example i's dropout mask comes from fold_in(dropout_key, its global index).
  """
  packed = pack_examples(x, gan.pack, gan.example_shape)
  return _discriminate_each(gan, d_params, packed, example_keys(dropout_key, packed.shape[0], gan.axis_name))


def _discriminate_real_and_fake(gan: GAN, d_params: Params, x_real: jax.Array, x_fake: jax.Array,
                                real_dropout_key: jax.Array, fake_dropout_key: jax.Array):
  """D's logits on both halves, ([m/pack], [m/pack]), in one vmapped pass (larger matmuls)."""
  real, fake = (pack_examples(x, gan.pack, gan.example_shape) for x in (x_real, x_fake))
  n = real.shape[0]
  keys = jnp.concatenate([example_keys(real_dropout_key, n, gan.axis_name),
                          example_keys(fake_dropout_key, n, gan.axis_name)])
  logits = _discriminate_each(gan, d_params, jnp.concatenate([real, fake]), keys)
  return logits[:n], logits[n:]


def _noise(gan: GAN, key: jax.Array, num_local: int) -> jax.Array:
  """z [num_local, latent_dim] drawn from per-example keys."""
  return gan.prior.sample_each(example_keys(key, num_local, gan.axis_name))


def _generate(gan: GAN, g_params: Params, g_state: Params | None, z: jax.Array) -> tuple[jax.Array, Params | None]:
  """G(z) in training mode, x [n, *data_shape], and G's state after the pass (unchanged without state).

  A conditional G's samples leave with their labels, [x, one_hot(c)] [n, dim + C], as D judges pairs (x, c).
  """
  if gan.generator_train is None:
    x, g_state = gan.generator(g_params, z), g_state
  else:
    x, g_state = gan.generator_train(g_params, g_state, z, gan.axis_name)
  if not gan.prior.num_classes:
    return x, g_state
  return jnp.concatenate([x.reshape(x.shape[0], -1), gan.prior.labels_of(z)], axis=-1), g_state


def mean_over_devices(tree, axis_name: str | None):
  """``tree`` averaged over the device axis ``axis_name`` (None: one device, no axis).

  On an axis of one device the average is the tree itself, returned as it
  is: XLA would still run an all-reduce that copies every leaf (the paper's
  MNIST model trained 4 % slower for it on a 2-core CPU; docs/performance.md).
  """
  if axis_name is None or lax.axis_size(axis_name) == 1:
    return tree
  return lax.pmean(tree, axis_name)


def _pmean(tree, gan: GAN):
  return mean_over_devices(tree, gan.axis_name)


def _apply(optimizer: optax.GradientTransformation, params: Params, opt_state, grads):
  updates, opt_state = optimizer.update(grads, opt_state, params)
  return optax.apply_updates(params, updates), opt_state


# ---------------------------------------------------------------- the updates

def d_step(gan: GAN, state: GANState, x_real: jax.Array, key: jax.Array) -> tuple[GANState, Metrics]:
  """One discriminator update on m real examples and m fresh noise samples; G fixed.

  Args:
    gan: the game.
    state: current state.
    x_real: [m, *data_shape] a minibatch from p_data (this device's share).
    key: a fresh key, consumed here.
  Returns:
    The state with new D parameters and optimiser state (``step`` unchanged),
    and metrics: ``d_loss`` = J⁽ᴰ⁾ = −½ V̂, ``d_real`` = mean D(x),
    ``d_fake`` = mean D(G(z)), each averaged over devices.
  """
  z_key, real_dropout_key, fake_dropout_key = jax.random.split(key, 3)
  x_fake, g_state = _generate(gan, state.g_params, state.g_state, _noise(gan, z_key, x_real.shape[0]))

  def loss_fn(d_params):
    real_logits, fake_logits = _discriminate_real_and_fake(gan, d_params, x_real, x_fake, real_dropout_key,
                                                           fake_dropout_key)
    return losses.discriminator_loss(real_logits, fake_logits), (real_logits, fake_logits)

  (d_loss, (real_logits, fake_logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.d_params)
  d_params, d_opt_state = _apply(gan.d_optimizer, state.d_params, state.d_opt_state, _pmean(grads, gan))
  metrics = {'d_loss': d_loss, 'd_real': jnp.mean(jax.nn.sigmoid(real_logits)),
             'd_fake': jnp.mean(jax.nn.sigmoid(fake_logits))}
  return state.replace(d_params=d_params, d_opt_state=d_opt_state, g_state=g_state), _pmean(metrics, gan)


def g_step(gan: GAN, state: GANState, key: jax.Array, num_samples: int) -> tuple[GANState, Metrics]:
  """One generator update on ``num_samples`` (m, this device's share) fresh noise samples; D fixed.

  D runs in training mode (with dropout), as in the original code.
  ``num_samples`` must be static under jit. Returns the state with new G
  parameters and optimiser state (``step`` unchanged) and metrics:
  ``g_loss`` = J⁽ᴳ⁾ (of ``gan.g_loss``) and ``d_fake_g`` = mean D(G(z)) before the update.
  """
  z_key, dropout_key = jax.random.split(key)
  z = _noise(gan, z_key, num_samples)
  g_loss_fn = losses.generator_loss_fn(gan.g_loss)

  def loss_fn(g_params):
    x_fake, g_state = _generate(gan, g_params, state.g_state, z)
    fake_logits = _discriminate(gan, state.d_params, x_fake, dropout_key)
    return g_loss_fn(fake_logits), (fake_logits, g_state)

  (g_loss, (fake_logits, g_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.g_params)
  g_params, g_opt_state = _apply(gan.g_optimizer, state.g_params, state.g_opt_state, _pmean(grads, gan))
  metrics = {'g_loss': g_loss, 'd_fake_g': jnp.mean(jax.nn.sigmoid(fake_logits))}
  return state.replace(g_params=g_params, g_opt_state=g_opt_state, g_state=g_state), _pmean(metrics, gan)


def simultaneous_update(gan: GAN, state: GANState, x_real: jax.Array,
                        key: jax.Array) -> tuple[GANState, Metrics]:
  """The original code's update: both players from one forward pass, applied at once.

  One noise batch and one set of dropout masks; D's gradient is of J⁽ᴰ⁾ and
  G's of J⁽ᴳ⁾, both evaluated on the same D outputs before either player
  moves. ``key`` is consumed here; ``step`` unchanged. Metrics as ``d_step``
  plus ``g_loss`` and ``d_fake_g`` (= ``d_fake`` here).
  """
  z_key, real_dropout_key, fake_dropout_key = jax.random.split(key, 3)
  z = _noise(gan, z_key, x_real.shape[0])
  g_loss_fn = losses.generator_loss_fn(gan.g_loss)

  def both_losses(g_params, d_params):
    x_fake, g_state = _generate(gan, g_params, state.g_state, z)
    real_logits, fake_logits = _discriminate_real_and_fake(
        gan, d_params, x_real, x_fake, real_dropout_key, fake_dropout_key)
    objectives = (losses.discriminator_loss(real_logits, fake_logits), g_loss_fn(fake_logits))
    return objectives, (real_logits, fake_logits, g_state)

  (d_loss, g_loss), pullback, (real_logits, fake_logits, g_state) = jax.vjp(
      both_losses, state.g_params, state.d_params, has_aux=True)
  one, zero = jnp.ones_like(d_loss), jnp.zeros_like(d_loss)
  _, d_grads = pullback((one, zero))
  g_grads, _ = pullback((zero, one))
  d_params, d_opt_state = _apply(gan.d_optimizer, state.d_params, state.d_opt_state, _pmean(d_grads, gan))
  g_params, g_opt_state = _apply(gan.g_optimizer, state.g_params, state.g_opt_state, _pmean(g_grads, gan))
  d_fake = jnp.mean(jax.nn.sigmoid(fake_logits))
  metrics = {'d_loss': d_loss, 'd_real': jnp.mean(jax.nn.sigmoid(real_logits)), 'd_fake': d_fake,
             'g_loss': g_loss, 'd_fake_g': d_fake}
  new_state = state.replace(g_params=g_params, d_params=d_params, g_opt_state=g_opt_state,
                            d_opt_state=d_opt_state, g_state=g_state)
  return new_state, _pmean(metrics, gan)


# ---------------------------------------------------------------- iterations

def train_step(gan: GAN, state: GANState, real_batches: jax.Array,
               key: jax.Array) -> tuple[GANState, Metrics]:
  """One iteration of Algorithm 1 (or of the simultaneous rule), pure.

  Args:
    gan: the game.
    state: current state.
    real_batches: [k, m, *data_shape], a fresh minibatch of real examples for
      each of the k = ``gan.d_steps`` discriminator updates (this device's share).
    key: the run's base key; the iteration's keys are derived from
      fold_in(key, state.step), so pass the same base key every iteration.
  Returns:
    The state after k D updates and one G update (and the generator's
    average, if kept), ``step`` + 1, and metrics:
    ``d_loss``, ``d_real``, ``d_fake`` averaged over the k D updates,
    ``g_loss`` and ``d_fake_g`` from the G update.
  """
  if real_batches.shape[0] != gan.d_steps:
    raise ValueError(f'real_batches has leading dimension {real_batches.shape[0]}; '
                     f'expected d_steps={gan.d_steps} minibatches [k, m, ...]')
  key = jax.random.fold_in(key, state.step)
  if gan.update_rule == 'simultaneous':
    state, metrics = simultaneous_update(gan, state, real_batches[0], key)
  else:
    keys = jax.random.split(key, gan.d_steps + 1)
    d_keys, g_key = keys[:-1], keys[-1]

    def one_d_step(state, batch_and_key):
      return d_step(gan, state, *batch_and_key)

    state, d_metrics = lax.scan(one_d_step, state, (real_batches, d_keys))
    state, g_metrics = g_step(gan, state, g_key, real_batches.shape[1])
    metrics = {**jax.tree.map(jnp.mean, d_metrics), **g_metrics}
  return _update_average(gan, state).replace(step=state.step + 1), metrics


def average_decay(gan: GAN, step: jax.Array) -> jax.Array | float:
  """β of iteration ``step``: ``gan.g_ema_decay``, capped by (1 + step)/(c + step) with c = ``g_ema_warmup`` > 0."""
  if not gan.g_ema_warmup:
    return gan.g_ema_decay
  steps = step.astype(jnp.float32)
  return jnp.minimum(gan.g_ema_decay, (1.0 + steps) / (gan.g_ema_warmup + steps))


def _update_average(gan: GAN, state: GANState) -> GANState:
  """ḡ ← β ḡ + (1 − β) g, when the game keeps an average (β = ``average_decay``, ``gan.g_ema_decay`` > 0)."""
  if not gan.g_ema_decay:
    return state
  beta = average_decay(gan, state.step)
  average = jax.tree.map(lambda mean, new: beta * mean + (1.0 - beta) * new, state.g_params_ema, state.g_params)
  return state.replace(g_params_ema=average)


def train_steps(gan: GAN, state: GANState, real_batches: jax.Array,
                key: jax.Array) -> tuple[GANState, Metrics]:
  """N iterations of ``train_step`` in one ``lax.scan``.

  Args:
    real_batches: [N, k, m, *data_shape], the minibatches of each iteration.
    key: the run's base key (as for ``train_step``).
  Returns:
    The state after N iterations and metrics stacked over iterations, each [N].
    Identical to N calls of ``train_step`` with the same base key.
  """
  def one_iteration(state, batches):
    return train_step(gan, state, batches, key)
  return lax.scan(one_iteration, state, real_batches)


# ---------------------------------------------------------------- divergence

def all_finite(tree) -> jax.Array:
  """A bool scalar: True if no leaf of ``tree`` holds a NaN or an Inf."""
  return jnp.all(jnp.stack([jnp.isfinite(leaf).all() for leaf in jax.tree.leaves(tree)]))


def finite_checks(state: GANState, metrics: Metrics) -> dict[str, jax.Array]:
  """Where things are finite: each metric elementwise, and each player's parameters as a whole.

  Keys: the metrics' names (bools of the metric's shape, e.g. [N] for the
  stacked metrics of ``train_steps``), then ``'d_params'`` and ``'g_params'``
  (bool scalars, in the order a divergence report names them), and
  ``'g_state'`` for a generator with state (its batch-norm running averages
  are used only when sampling, so no loss would show a NaN there). The
  metric checks are free; the parameter checks are a reduction over every
  parameter, a few percent of a step of the paper's MNIST model on CPU. A NaN or Inf in the parameters reaches the next
  iteration's losses, so the per-iteration metric checks date a divergence
  and the parameter checks after a chunk catch one in its last iteration
  (as ``parallel.make_pmap_train_loop`` returns them).
  """
  checks = {name: jnp.isfinite(value) for name, value in metrics.items()}
  checks.update(d_params=all_finite(state.d_params), g_params=all_finite(state.g_params))
  if state.g_state is not None:
    checks['g_state'] = all_finite(state.g_state)
  return checks
