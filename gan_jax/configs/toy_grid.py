"""25 Gaussians on a 5×5 grid ({−4, −2, 0, 2, 4}², std 0.05), the PacGAN/VEEGAN mode-coverage setting.

Command:
  python -m experiments.train --config gan_jax/configs/toy_grid.py --workdir runs/toy_grid

Everything else as ``toy_ring`` (whose docstring gives the architecture).
RESULT_PLACEHOLDER
"""

from gan_jax.configs import toy_ring


def get_config():
  config = toy_ring.get_config()
  config.dataset = 'toy_grid'
  return config
