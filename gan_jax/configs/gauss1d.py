"""A small GAN learns the 1-D Gaussian N(3, 0.5²).

Command (the README's first command runs it):
  python -m experiments.train --config gan_jax/configs/gauss1d.py --workdir runs/gauss1d

Run time on a 2-core x86-64 CPU (no GPU): about 10 s, most of it compilation.
Expected result (seed 0): 10,000 generator samples with mean 3.0 ± 0.1 and
std 0.5 ± 0.1, and D(x) ≈ D(G(z)) ≈ 0.5 at the end (written to
``runs/gauss1d/summary.json``). tests/test_experiment.py checks this.

Non-saturating generator loss, k = 1, Adam with a cosine-decayed learning
rate, D's 10× G's: with equal rates D lags behind G and p_g settles on the
right mean with the wrong spread.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      dataset='gauss1d',
      batch_size=512,
      num_steps=3000,
      seed=0,
      d_steps=1,
      g_loss='non_saturating',
      update_rule='alternating',
      optimizer='adam',
      learning_rate=5e-4,
      d_learning_rate_scale=10.0,
      momentum=0.5,
      lr_schedule='cosine',
      steps_per_epoch=500,
      prior='gaussian',
      latent_dim=4,
      hidden_dims=(32, 32),
      steps_per_call=500,
      log_every_seconds=2.0,
  ))
