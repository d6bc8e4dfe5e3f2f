"""25 Gaussians on a 5×5 grid ({−4, −2, 0, 2, 4}², std 0.05), the PacGAN/VEEGAN mode-coverage setting.

Command:
  python -m experiments.train --config gan_jax/configs/toy_grid.py --workdir runs/toy_grid

Everything else as ``toy_ring`` (whose docstring gives the architecture).
Run time on a 2-core x86-64 CPU (no GPU): 95 s for the 20,000 steps. Expected
result (seed 0, measured): this small unnormalised GAN does *not* solve the
grid in 20,000 steps: ``samples/step_0020000.png`` shows samples spread over
the square and along lines through a few modes, not concentrated on the 25
modes (last chunk: D(x) ≈ 0.53, D(G(z)) ≈ 0.45). PacGAN reports 17.3 modes
for a vanilla GAN with batch norm in G and maxout in D.
Expected result (measured, seeds 0–4, ``python -m experiments.evaluate``):
16.6 ± 2.5 of 25 modes covered, 11.4 ± 8.9 % high-quality samples, reverse KL
1.11 ± 0.37; seed 0: 19 modes, 4 %.
"""

from gan_jax.configs import toy_ring


def get_config():
  config = toy_ring.get_config()
  config.dataset = 'toy_grid'
  return config
