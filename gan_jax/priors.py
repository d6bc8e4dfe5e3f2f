"""Noise priors p_z from which the generator's inputs z are drawn.

Both priors have zero mean and unit variance per coordinate, so switching
between them does not change the scale the generator's first layer sees.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp

PRIOR_NAMES = ('uniform', 'gaussian')


@dataclasses.dataclass(frozen=True)
class NoisePrior:
  """p_z over R^dim.

  Attributes:
    name: 'uniform' for U(−√3, √3)^dim (the paper's MNIST run), or 'gaussian'
      for N(0, I).
    dim: dimension of z (100 for the paper's MNIST generator).
  """
  name: str
  dim: int

  def __post_init__(self):
    if self.name not in PRIOR_NAMES:
      raise ValueError(f'prior={self.name!r} is not a noise prior; allowed: {list(PRIOR_NAMES)}')
    if not (isinstance(self.dim, int) and self.dim > 0):
      raise ValueError(
          f'dim={self.dim!r} must be a positive integer (the latent dimension, config.latent_dim)')

  def sample(self, key: jax.Array, num_samples: int) -> jax.Array:
    """Draws z: [num_samples, dim] float32 from this prior, using ``key`` once."""
    shape = (num_samples, self.dim)
    if self.name == 'uniform':
      limit = math.sqrt(3.0)
      return jax.random.uniform(key, shape, jnp.float32, minval=-limit, maxval=limit)
    return jax.random.normal(key, shape, jnp.float32)

  def sample_each(self, keys: jax.Array) -> jax.Array:
    """Draws one z per key: keys [m] ⇒ z [m, dim].

    The train steps use this with per-example keys, so that sample i of a
    global batch is the same whichever device draws it.
    """
    return jax.vmap(lambda key: self.sample(key, 1)[0])(keys)
