"""The variational autoencoder beside the GAN (Kingma & Welling, 2014), as pure, jit-able JAX functions.

The model a reader of the paper compares with: the same generator network,
trained to maximise a bound on the likelihood instead of fooling a
discriminator.

  p(z) = N(0, I)                       the prior of ``priors.NoisePrior('gaussian', latent_dim)``
  p(x | z) = Π_i Bernoulli(x_i; σ(ℓ_i(z)))   the decoder: G's network, its output layer read as logits ℓ
  q(z | x) = N(μ(x), diag exp(v(x)))    the encoder: an MLP of G's size, mirrored, to (μ, v = log σ²)

  ELBO(x) = E_q[log p(x | z)] − KL(q(z | x) ‖ p(z)) ≤ log p(x)

Training maximises the ELBO of binary pixels: each grey-level example x ∈
[0, 1]^D is binarised afresh as x_b ~ Bernoulli(x) every time it is seen
(dynamic binarisation, the usual protocol for MNIST likelihoods), the
expectation by one reparameterised draw z = μ + σ ε, the KL term in closed
form. Samples shown and scored like the GAN's are the decoder's pixel means
σ(ℓ(z)), z ~ p(z) (``VAE.generator``). The likelihood itself is estimated by
the importance-weighted bound (Burda et al., 2016)

  L_k(x) = E log (1/k) Σ_j p(x, z_j) / q(z_j | x),  z_j ~ q(z | x),

with L_1 = ELBO ≤ L_k ≤ L_{k+1} ≤ log p(x) → log p(x) as k grows
(``importance_weighted_bound``).

The layout follows ``train.py``: the static model in the frozen ``VAE``, what
changes in the ``VAEState`` pytree; ``train_step`` folds ``state.step`` into
the run's base key and each example's global index into that, so a step
gives the same result on one device or several (``axis_name``: gradients and
metrics averaged with ``lax.pmean``). ``parallel.algorithm`` gives the
drivers this module for a ``VAE`` as it gives them ``train`` for a ``GAN``:
the functions a driver calls have the same names and arguments here.
"""

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax
from jax import lax

from gan_jax import train
from gan_jax.priors import NoisePrior

Params = Any
Metrics = dict[str, jax.Array]

GENERATORS = ('raw',)  # a VAE keeps no weight average: its decoder as trained


@flax.struct.dataclass
class VAEState:
  """Everything that changes during training; a pytree.

  Attributes:
    step: int32 scalar, updates completed (one minibatch each).
    decoder_params, encoder_params: the two networks' parameters.
    opt_state: the optimiser's state over both, ``{'decoder': …, 'encoder': …}``.
  """
  step: jax.Array
  decoder_params: Params
  encoder_params: Params
  opt_state: optax.OptState


@dataclasses.dataclass(frozen=True)
class VAE:
  """The static model: the networks, the prior, the optimiser.

  Attributes:
    decoder: pure ``(decoder_params, z [m, latent_dim]) -> logits [m, dim]``, the Bernoulli logits of each pixel.
    encoder: pure ``(encoder_params, x [m, dim]) -> [m, 2·latent_dim]``: the posterior's mean μ, then its log
      variance v, of each example.
    prior: p(z); a standard normal (``NoisePrior('gaussian', latent_dim)``, no classes).
    optimizer: optax transformation of ``{'decoder': params, 'encoder': params}``.
    axis_name: the named device axis to average over, or None on one device.
  """
  decoder: Callable[[Params, jax.Array], jax.Array]
  encoder: Callable[[Params, jax.Array], jax.Array]
  prior: NoisePrior
  optimizer: optax.GradientTransformation
  axis_name: str | None = None

  d_steps = 1  # minibatches per iteration, the drivers' k ([N, k, m, dim] batches): one ELBO step each

  def __post_init__(self):
    if self.prior.name != 'gaussian' or self.prior.num_classes:
      raise ValueError(f'a VAE needs the standard normal prior without classes, not prior={self.prior.name!r} '
                       f'with num_classes={self.prior.num_classes}')

  def generator(self, decoder_params: Params, z: jax.Array) -> jax.Array:
    """The decoder's pixel means σ(ℓ(z)), x [m, dim] in (0, 1): the VAE's samples, as a GAN's G(z)."""
    return jax.nn.sigmoid(self.decoder(decoder_params, z))


def init_state(vae: VAE, decoder_params: Params, encoder_params: Params) -> VAEState:
  """The state at step 0: copies of the given parameters and a fresh optimiser state."""
  copy = functools.partial(jax.tree.map, jnp.copy)
  params = {'decoder': copy(decoder_params), 'encoder': copy(encoder_params)}
  return VAEState(step=jnp.zeros((), jnp.int32), decoder_params=params['decoder'],
                  encoder_params=params['encoder'], opt_state=vae.optimizer.init(params))


def generators(vae: VAE, state: VAEState) -> dict[str, Params]:
  """The generators ``state`` holds, by name, as ``vae.generator`` takes them: {'raw': the decoder's params}."""
  del vae
  return {'raw': state.decoder_params}


def sample(vae: VAE, decoder_params: Params, key: jax.Array, num_samples: int) -> jax.Array:
  """Pixel means σ(ℓ(z)) for z ~ p(z): [num_samples, dim]."""
  return vae.generator(decoder_params, vae.prior.sample(key, num_samples))


# ---------------------------------------------------------------- the bound

def posterior(vae: VAE, encoder_params: Params, x: jax.Array) -> tuple[jax.Array, jax.Array]:
  """q(z | x) of each example: its mean μ and log variance v, each [m, latent_dim]."""
  mean, log_variance = jnp.split(vae.encoder(encoder_params, x), 2, axis=-1)
  return mean, log_variance


def bernoulli_log_likelihood(logits: jax.Array, x: jax.Array) -> jax.Array:
  """log p(x | ℓ) = Σ_i x_i log σ(ℓ_i) + (1 − x_i) log(1 − σ(ℓ_i)) = Σ_i x_i ℓ_i − softplus(ℓ_i):
  [...] summed over the last axis (nats), from logits ℓ and pixels x of the same shape."""
  return jnp.sum(x * logits - jax.nn.softplus(logits), axis=-1)


def gaussian_kl(mean: jax.Array, log_variance: jax.Array) -> jax.Array:
  """KL(N(μ, diag e^v) ‖ N(0, I)) = ½ Σ_j (μ_j² + e^{v_j} − 1 − v_j): [...] summed over the last axis
  (nats)."""
  return 0.5 * jnp.sum(jnp.square(mean) + jnp.exp(log_variance) - 1.0 - log_variance, axis=-1)


def elbo_terms(vae: VAE, params: Params, x: jax.Array, epsilon: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The ELBO's two terms for each example, ([m], [m]) in nats: the reconstruction log p(x | z) at
  z = μ + σ ε and KL(q(z | x) ‖ p(z)); the ELBO is their difference.

  Args:
    params: ``{'decoder': …, 'encoder': …}``.
    x: [m, dim] binary pixels.
    epsilon: [m, latent_dim] standard normal draws, one z per example.
  """
  mean, log_variance = posterior(vae, params['encoder'], x)
  z = mean + jnp.exp(0.5 * log_variance) * epsilon
  return bernoulli_log_likelihood(vae.decoder(params['decoder'], z), x), gaussian_kl(mean, log_variance)


def binarize(key: jax.Array, x: jax.Array) -> jax.Array:
  """x_b ~ Bernoulli(x): grey levels x [...] in [0, 1] → 0/1 floats of the same shape."""
  return jax.random.bernoulli(key, x).astype(x.dtype)


def _gaussian_log_density(z: jax.Array, mean: jax.Array | float, log_variance: jax.Array | float) -> jax.Array:
  """log N(z; μ, diag e^v): [...] summed over the last axis."""
  return -0.5 * jnp.sum(math.log(2 * math.pi) + log_variance + jnp.square(z - mean) / jnp.exp(log_variance), axis=-1)


def log_importance_weights(vae: VAE, params: Params, x: jax.Array, key: jax.Array, k: int) -> jax.Array:
  """log p(x, z_j) − log q(z_j | x) for k draws z_j ~ q(z | x) of one binary example x [dim]: [k], nats.

  Their mean is an estimate of the ELBO, their log-mean-exp the importance-weighted bound L_k.
  """
  mean, log_variance = (value[0] for value in posterior(vae, params['encoder'], x[None]))
  z = mean + jnp.exp(0.5 * log_variance) * jax.random.normal(key, (k, mean.shape[-1]), mean.dtype)
  log_joint = (bernoulli_log_likelihood(vae.decoder(params['decoder'], z), x)
               + _gaussian_log_density(z, 0.0, 0.0))
  return log_joint - _gaussian_log_density(z, mean, log_variance)


def importance_weighted_bound(vae: VAE, params: Params, x: jax.Array, key: jax.Array, k: int) -> jax.Array:
  """L_k = log (1/k) Σ_j w_j of each binary example x [n, dim] → [n], nats (a bound on log p(x), tighter as k
  grows); example i draws its k samples from fold_in(key, i). ``k`` is static under jit."""
  def one_example(inputs):
    example, example_key = inputs
    return jax.nn.logsumexp(log_importance_weights(vae, params, example, example_key, k)) - math.log(k)
  return lax.map(one_example, (x, train.example_keys(key, x.shape[0], None)))


# ---------------------------------------------------------------- training

def train_step(vae: VAE, state: VAEState, real_batches: jax.Array, key: jax.Array) -> tuple[VAEState, Metrics]:
  """One update of both networks on one minibatch, pure.

  Args:
    real_batches: [1, m, dim] grey-level examples in [0, 1] (this device's share; the drivers' [k, m, …] layout,
      k = ``VAE.d_steps`` = 1), binarised here.
    key: the run's base key; the step uses fold_in(key, state.step) and each example fold_in of that with its
      global index (for its binarisation and its ε).
  Returns:
    The state after the update, ``step`` + 1, and metrics averaged over the global minibatch (nats per example):
    ``elbo``, its ``reconstruction`` term log p(x | z) and its ``kl`` term.
  """
  if real_batches.shape[0] != vae.d_steps:
    raise ValueError(f'real_batches has leading dimension {real_batches.shape[0]}; a VAE takes one minibatch '
                     'per step [1, m, dim]')
  x = real_batches[0]
  keys = train.example_keys(jax.random.fold_in(key, state.step), x.shape[0], vae.axis_name)
  binarize_keys, epsilon_keys = jnp.moveaxis(jax.vmap(jax.random.split)(keys), 1, 0)
  x_binary = jax.vmap(binarize)(binarize_keys, x)
  epsilon = jax.vmap(lambda k: jax.random.normal(k, (vae.prior.dim,)))(epsilon_keys)
  params = {'decoder': state.decoder_params, 'encoder': state.encoder_params}

  def loss_fn(params):
    reconstruction, kl = elbo_terms(vae, params, x_binary, epsilon)
    return -jnp.mean(reconstruction - kl), (reconstruction, kl)

  (loss, (reconstruction, kl)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
  grads = train.mean_over_devices(grads, vae.axis_name)
  updates, opt_state = vae.optimizer.update(grads, state.opt_state, params)
  params = optax.apply_updates(params, updates)
  metrics = train.mean_over_devices({'elbo': -loss, 'reconstruction': jnp.mean(reconstruction),
                                     'kl': jnp.mean(kl)}, vae.axis_name)
  return VAEState(step=state.step + 1, decoder_params=params['decoder'], encoder_params=params['encoder'],
                  opt_state=opt_state), metrics


def train_steps(vae: VAE, state: VAEState, real_batches: jax.Array, key: jax.Array) -> tuple[VAEState, Metrics]:
  """N steps of ``train_step`` in one ``lax.scan``: real_batches [N, 1, m, dim]; metrics [N] per name."""
  return lax.scan(lambda state, batches: train_step(vae, state, batches, key), state, real_batches)


def finite_checks(state: VAEState, metrics: Metrics) -> dict[str, jax.Array]:
  """Where things are finite, as ``train.finite_checks``: each metric elementwise, each network as a whole."""
  checks = {name: jnp.isfinite(value) for name, value in metrics.items()}
  checks.update(decoder_params=train.all_finite(state.decoder_params),
                encoder_params=train.all_finite(state.encoder_params))
  return checks
