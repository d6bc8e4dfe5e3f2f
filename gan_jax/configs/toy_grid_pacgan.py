"""PacGAN's vanilla GAN on a 5 × 5 grid of Gaussians: ``toy_ring_pacgan``'s setting on the grid.

Command:
  python -m experiments.train --config gan_jax/configs/toy_grid_pacgan.py --workdir runs/toy_grid_pacgan
  python -m experiments.evaluate --workdir runs/toy_grid_pacgan
  python -m experiments.sweep --config gan_jax/configs/toy_grid_pacgan.py --workdir runs/toy_grid_pacgan_sweep \
      --seeds 10 --together     # the 10-seed table (--together: on a GPU)

Data: 100,000 points drawn once from 25 Gaussians at {−4, −2, 0, 2, 4}², std
0.05, reshuffled every epoch. Everything else (networks, batch norm, Adam,
400,000 iterations, float32 matrix products, evaluation, what is not rebuilt, PacGAN2's overrides
``--config.pack=2 --config.batch_size=200 --config.steps_per_call=500``) as ``toy_ring_pacgan``.
Measured (10 seeds together, one NVIDIA H200 alone, 2026-11-28, TF32 products;
experiments.sweep --together, 2,080 it/s): 16.0 ± 1.0 modes, 90.5 ± 1.7 % high quality, reverse
KL 0.70 ± 0.08 at 270,000 iterations (stopped there, still rising).
On a 2-core AMD EPYC, 3 seeds × 20,000 iterations: 17.0 ± 1.5 modes, 49.9 ± 11.8 %.
In float32 on a 2-core Xeon, seeds 0 and 1 (two pinned processes, 1 h 50 min each, 2026-12-02):
16.5 ± 0.5 modes, 96.5 ± 0.0 % high quality, reverse KL 0.73 ± 0.08 at 400,000 iterations; 89–91 %
on average over the checkpoints from 200,000 on (docs/toy_mixtures.md).
PacGAN's published vanilla row (mean of 10 seeds): 17.3 of 25 modes, 94.8 % high-quality samples;
PacGAN2: 23.8 of 25, 91.3 %.
"""

from gan_jax.configs import toy_ring_pacgan


def get_config():
  config = toy_ring_pacgan.get_config()
  config.dataset = 'toy_grid'
  return config
