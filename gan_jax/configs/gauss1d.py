"""A small GAN learns the 1-D Gaussian N(3, 0.5²): the default experiment.

Command (the README's first command runs it):
  python -m experiments.train --config gan_jax/configs/gauss1d.py --workdir runs/gauss1d

Run time on a 2-core x86-64 CPU (no GPU): about 15 s, most of it compilation.
Expected result (seed 0): 10,000 generator samples with mean 3.0 ± 0.1 and
std 0.5 ± 0.1, D(x) ≈ D(G(z)) ≈ 0.5 at the end (``runs/gauss1d/summary.json``;
``samples/step_0003000.png`` shows the samples' histogram in blue over the
data's in red). tests/test_presets.py checks this.

Non-saturating generator loss, k = 1, Adam with a cosine-decayed learning
rate, D's 10× G's: with equal rates D lags behind G and p_g settles on the
right mean with the wrong spread.
"""

from gan_jax.configs import base


def get_config():
  config = base.get_config()
  config.update(dict(
      dataset='gauss1d', batch_size=512, num_steps=3000, learning_rate=5e-4, d_learning_rate_scale=10.0,
      lr_schedule='cosine', lr_decay_steps=3000, steps_per_call=100, checkpoint_every_steps=1000,
      sample_every_steps=1000, num_shown_samples=5000, log_every_seconds=2.0))
  return config
