"""Data distributions p_data that need no download: toy densities sampled on device.

Each sampler is pure: ``sample(key, num_samples) -> x [num_samples, dim]``
float32, consuming ``key`` once.

* ``gauss1d``: N(3, 0.5²) on the line.
* ``toy_ring``: 8 Gaussians (std 0.01) evenly spaced on the unit circle.
* ``toy_grid``: 25 Gaussians (std 0.05) at {−4, −2, 0, 2, 4}².

The ring and grid are the settings of the PacGAN and VEEGAN papers' mode
coverage experiments.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

Sampler = Callable[[jax.Array, int], jax.Array]

GAUSS1D_MEAN, GAUSS1D_STD = 3.0, 0.5
RING_RADIUS, RING_STD, RING_MODES = 1.0, 0.01, 8
GRID_STD = 0.05


def ring_modes(num_modes: int = RING_MODES, radius: float = RING_RADIUS) -> np.ndarray:
  """Mode centres [num_modes, 2] evenly spaced on a circle."""
  angles = 2 * np.pi * np.arange(num_modes) / num_modes
  return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)


def grid_modes() -> np.ndarray:
  """Mode centres [25, 2] at {−4, −2, 0, 2, 4}²."""
  axis = np.array([-4.0, -2.0, 0.0, 2.0, 4.0], np.float32)
  return np.stack(np.meshgrid(axis, axis, indexing='ij'), axis=-1).reshape(-1, 2)


def _mixture_sampler(modes: np.ndarray, std: float) -> Sampler:
  """Equal-weight mixture of isotropic Gaussians N(modes[j], std² I)."""
  centres = jnp.asarray(modes)

  def sample(key: jax.Array, num_samples: int) -> jax.Array:
    mode_key, noise_key = jax.random.split(key)
    which = jax.random.randint(mode_key, (num_samples,), 0, centres.shape[0])
    return centres[which] + std * jax.random.normal(noise_key, (num_samples, centres.shape[1]))

  return sample


def sample_gauss1d(key: jax.Array, num_samples: int) -> jax.Array:
  """x ~ N(3, 0.5²): [num_samples, 1]."""
  return GAUSS1D_MEAN + GAUSS1D_STD * jax.random.normal(key, (num_samples, 1))


TOY_SAMPLERS: dict[str, Sampler] = {
    'gauss1d': sample_gauss1d,
    'toy_ring': _mixture_sampler(ring_modes(), RING_STD),
    'toy_grid': _mixture_sampler(grid_modes(), GRID_STD),
}
TOY_DIMS = {'gauss1d': 1, 'toy_ring': 2, 'toy_grid': 2}


def iteration_batches(sampler: Sampler, key: jax.Array, first_step: jax.Array, num_steps: int,
                      d_steps: int, batch_size: int) -> jax.Array:
  """Fresh minibatches for iterations first_step … first_step + num_steps − 1.

  Iteration t's k minibatches come from fold_in(key, t) alone, so the data a
  run sees does not depend on how its iterations are grouped into calls.
  Returns [num_steps, d_steps, batch_size, dim].
  """
  def one_iteration(step):
    x = sampler(jax.random.fold_in(key, step), d_steps * batch_size)
    return x.reshape(d_steps, batch_size, -1)
  return jax.vmap(one_iteration)(first_step + jnp.arange(num_steps))
