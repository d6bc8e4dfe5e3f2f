"""Noise priors p_z from which the generator's inputs z are drawn, and the class label of a conditional G.

Both priors have zero mean and unit variance per coordinate, so switching
between them does not change the scale the generator's first layer sees.

A conditional generator G(z, c) (the paper's §7.1: c is an extra input of
both players) takes its label as a one-hot vector joined after z: with
``num_classes`` C > 0 the prior draws [z, one_hot(c)] with c uniform on
{0, …, C − 1} (``sample``), or for given labels (``join_labels``).
"""

import dataclasses
import math

import jax
import jax.numpy as jnp

PRIOR_NAMES = ('uniform', 'gaussian')


@dataclasses.dataclass(frozen=True)
class NoisePrior:
  """p_z over R^dim, and for a conditional generator the label's distribution, uniform over C classes.

  Attributes:
    name: 'uniform' for U(−√3, √3)^dim (the paper's MNIST run), or 'gaussian'
      for N(0, I).
    dim: dimension of z (100 for the paper's MNIST generator).
    num_classes: C, the classes of a conditional generator's label c; 0 for
      an unconditional one. G's input is then [z, one_hot(c)], ``input_dim``
      = dim + C values.
  """
  name: str
  dim: int
  num_classes: int = 0

  def __post_init__(self):
    if self.name not in PRIOR_NAMES:
      raise ValueError(f'prior={self.name!r} is not a noise prior; allowed: {list(PRIOR_NAMES)}')
    if not (isinstance(self.dim, int) and self.dim > 0):
      raise ValueError(
          f'dim={self.dim!r} must be a positive integer (the latent dimension, config.latent_dim)')
    if not (isinstance(self.num_classes, int) and self.num_classes >= 0):
      raise ValueError(f'num_classes={self.num_classes!r} must be a non-negative integer (0: no label)')

  @property
  def input_dim(self) -> int:
    """G's input size: z, and the one-hot label of a conditional generator."""
    return self.dim + self.num_classes

  def _sample_z(self, key: jax.Array, num_samples: int) -> jax.Array:
    shape = (num_samples, self.dim)
    if self.name == 'uniform':
      limit = math.sqrt(3.0)
      return jax.random.uniform(key, shape, jnp.float32, minval=-limit, maxval=limit)
    return jax.random.normal(key, shape, jnp.float32)

  def join_labels(self, z: jax.Array, labels: jax.Array) -> jax.Array:
    """G's input for chosen classes: z [n, dim] and int labels [n] in [0, C) ⇒ [n, dim + C]."""
    return jnp.concatenate([z, jax.nn.one_hot(labels, self.num_classes, dtype=z.dtype)], axis=-1)

  def labels_of(self, noise: jax.Array) -> jax.Array:
    """The one-hot labels [n, C] inside G's inputs [n, dim + C] (an empty [n, 0] without classes)."""
    return noise[:, self.dim:]

  def class_rows(self, key: jax.Array, columns: int) -> jax.Array:
    """G's inputs for a picture with one row per class: [C·columns, input_dim]; row c holds class c, and column j
    the same z (drawn from ``key``) in every row."""
    z = self._sample_z(key, columns)
    labels = jnp.repeat(jnp.arange(self.num_classes), columns)
    return self.join_labels(jnp.tile(z, (self.num_classes, 1)), labels)

  def sample(self, key: jax.Array, num_samples: int) -> jax.Array:
    """Draws G's inputs [num_samples, input_dim] float32: z from this prior (``key`` used once without classes),
    and with classes one-hot labels drawn uniformly from a second key split from ``key``."""
    if not self.num_classes:
      return self._sample_z(key, num_samples)
    z_key, label_key = jax.random.split(key)
    labels = jax.random.randint(label_key, (num_samples,), 0, self.num_classes)
    return self.join_labels(self._sample_z(z_key, num_samples), labels)

  def sample_each(self, keys: jax.Array) -> jax.Array:
    """Draws one input per key: keys [m] ⇒ [m, input_dim] (``sample`` of one each).

    The train steps use this with per-example keys, so that sample i of a
    global batch is the same whichever device draws it.
    """
    return jax.vmap(lambda key: self.sample(key, 1)[0])(keys)
