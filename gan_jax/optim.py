"""Optimisers: SGD with momentum and the paper's schedules, Adam, or RMSProp.

The original code (pylearn2) keeps a velocity v per parameter and, for each
minibatch t = 0, 1, 2, …, updates

    v ← μ_t · v − ε_t · g,      θ ← θ + v,

with ε_t = max(ε₀ / γ^t, 1e-6), γ = 1.000004 (``config.lr_decay_factor``),
and μ rising linearly from 0.5 in epoch 1 to 0.7 in epoch 250, then
constant. ``sgd_momentum`` is exactly this rule: the learning rate is
applied *before* the momentum accumulation, unlike
``optax.sgd``, which scales the accumulated trace (the two agree while ε is
constant). t is the optimiser's own update count, so each player's schedules
advance once per update of that player; with k = 1 that is once per minibatch,
as in the original code.

Both optimisers are wrapped in ``optax.inject_hyperparams``, so the current
learning rate (and momentum) live in the optimiser state, where they can be
logged: ``opt_state.hyperparams['learning_rate']``.
"""

import math

import jax
import jax.numpy as jnp
import optax

def paper_learning_rate(initial: float = 0.1, decay_factor: float = 1.000004,
                        min_learning_rate: float = 1e-6) -> optax.Schedule:
  """ε_t = max(initial / decay_factor^t, min_learning_rate), t = update count (0-based)."""
  # decay_factor^−t as exp(−t · log decay_factor) with the log taken in float64:
  # 1.000004 itself is not representable in float32 (it rounds to 1.0000039),
  # an error that the power would amplify to ~1 % by t = 250,000.
  log_decay = math.log(decay_factor)

  def schedule(count: jax.Array) -> jax.Array:
    decayed = initial * jnp.exp(-log_decay * jnp.asarray(count, jnp.float32))
    return jnp.maximum(decayed, min_learning_rate)
  return schedule


def paper_momentum(steps_per_epoch: int, initial: float = 0.5, final: float = 0.7,
                   start_epoch: int = 1, saturate_epoch: int = 250) -> optax.Schedule:
  """μ rising linearly from ``initial`` in ``start_epoch`` to ``final`` in ``saturate_epoch``.

  Epochs are 1-based: update count t lies in epoch ⌊t / steps_per_epoch⌋ + 1
  (500 updates per epoch for MNIST's 50,000 training images at batch 100).
  μ(epoch) = initial + (final − initial) · clip((epoch − start) / (saturate − start), 0, 1),
  as pylearn2's ``MomentumAdjustor``.
  """
  if steps_per_epoch < 1:
    raise ValueError(f'steps_per_epoch={steps_per_epoch!r} must be a positive integer')
  if saturate_epoch <= start_epoch:
    raise ValueError(f'saturate_epoch={saturate_epoch} must be greater than start_epoch={start_epoch}')

  def schedule(count: jax.Array) -> jax.Array:
    epoch = count // steps_per_epoch + 1
    progress = jnp.clip((epoch - start_epoch) / (saturate_epoch - start_epoch), 0.0, 1.0)
    return initial + (final - initial) * progress
  return schedule


def _velocity_sgd(learning_rate: jax.Array, momentum: jax.Array) -> optax.GradientTransformation:
  """v ← μ v − ε g; update = v (pylearn2's ``Momentum`` learning rule)."""
  return optax.chain(optax.scale_by_learning_rate(learning_rate), optax.trace(decay=momentum))


def sgd_momentum(learning_rate: float | optax.Schedule,
                 momentum: float | optax.Schedule) -> optax.GradientTransformation:
  """SGD with (classical, non-Nesterov) momentum, constants or schedules of the update count."""
  return optax.inject_hyperparams(_velocity_sgd)(learning_rate=learning_rate, momentum=momentum)


def adam(learning_rate: float | optax.Schedule, b1: float = 0.5,
         b2: float = 0.999) -> optax.GradientTransformation:
  """Adam, defaulting to the β₁ = 0.5 that later GAN work (DCGAN) found stable."""
  return optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate, b1=b1, b2=b2)


def rmsprop(learning_rate: float | optax.Schedule, decay: float = 0.9) -> optax.GradientTransformation:
  """RMSProp (Tieleman & Hinton, 2012): g / √(running mean of g², decay ``decay``), no momentum."""
  return optax.inject_hyperparams(optax.rmsprop)(learning_rate=learning_rate, decay=decay)


def paper_sgd(steps_per_epoch: int, initial_learning_rate: float = 0.1) -> optax.GradientTransformation:
  """The original MNIST run's optimiser: ``sgd_momentum`` with both paper schedules."""
  return sgd_momentum(paper_learning_rate(initial_learning_rate), paper_momentum(steps_per_epoch))
