"""PacGAN's vanilla GAN on 8 Gaussians on a ring, rebuilt from its released code (Lin et al., 2018).

Command:
  python -m experiments.train --config gan_jax/configs/toy_ring_pacgan.py --workdir runs/toy_ring_pacgan
  python -m experiments.evaluate --workdir runs/toy_ring_pacgan
  python -m experiments.sweep --config gan_jax/configs/toy_ring_pacgan.py --workdir runs/toy_ring_pacgan_sweep \
      --seeds 10 --together     # the 10-seed table (--together: on a GPU)

The setting (PacGAN's synthetic_data_experiments, packing m = 1):
* data: 100,000 points drawn once from 8 Gaussians at (cos 2πi/8, sin 2πi/8),
  std 0.01, reshuffled every epoch of 1,000 minibatches of 100; z ~ N(0, I₂).
* G: 4 × [Linear 400 without bias → batch norm → ReLU] → Linear 2. Batch
  norm as Blocks': batch statistics while training, running averages of the
  mean and the standard deviation (update weight 0.05) when sampling,
  ε = 1e-4, learned scale and offset (``models.BatchNorm``).
* D: 3 × maxout (200 units × 5 pieces) → Linear 1; no batch norm, no dropout.
* Weights N(0, 0.02²), biases 0. D's cross-entropy and G's non-saturating
  loss, both players updated at once from one batch (``simultaneous``).
* Adam, learning rate 1e-4, β₁ 0.8, β₂ 0.999; 400 epochs = 400,000 iterations.
  (β₁ as today's Adam reads it. Blocks before 2017-01-24 read PacGAN's
  ``beta1=0.8`` as β₁ 0.2; ``--config.adam_b1=0.2`` was no nearer PacGAN's
  row at 20,000 iterations: docs/toy_mixtures.md.)
* Float32 matrix products (``matmul_precision='float32'``), as Theano's on
  PacGAN's pre-TF32 GPUs; JAX's default would be TF32 on recent NVIDIA GPUs
  (the H200 runs below were), one bfloat16 pass on TPUs.
* Evaluation (``experiments.evaluate``): 2,500 samples, high quality within
  3 std of the nearest mode, modes with a high-quality sample, reverse KL.

Not rebuilt: PacGAN's monitoring pass, which also moved G's running averages
on 50 batches before the first epoch and after every epoch; and its training
set is 100,000 draws with replacement from the 100,000 points (about 63,200
distinct ones), where ours is the 100,000 points.

PacGAN2 (packing 2, the published second row): ``--config.pack=2
--config.batch_size=200 --config.steps_per_call=500`` (an epoch is now 500
minibatches): D judges pairs of points, 100 real and 100 generated pairs
per minibatch, as PacGAN's. Two differences from its code:
the pairs are formed anew each epoch from the reshuffled set (PacGAN draws
its 100,000 pairs once, with replacement), and G's batch statistics span
all 200 samples (PacGAN normalises each pair's two batches of 100 apart).
PacGAN2's published row: 7.9 of 8 modes, 95.6 % high-quality samples.
PacGAN's published vanilla row (mean of 10 seeds): 6.3 of 8 modes, 98.2 % high-quality samples.
Measured (10 seeds together, one NVIDIA H200, 2026-11-28, TF32 products: before
this preset asked for float32; experiments.sweep --together): 6.0 ± 0.5 modes,
81.2 ± 8.4 % high quality, reverse KL 0.63 ± 0.14 at 169,000 iterations
(stopped there; 500 it/s beside three other jobs). A 10-seed run alone on the
H200 went at ~2,000 it/s in TF32: about 3.5 minutes for 400,000 iterations
(float32: not measured). On a 2-core CPU one seed takes ~90 minutes.
"""

from gan_jax.configs import base


def get_config():
  config = base.get_config()
  config.update(dict(
      dataset='toy_ring', batch_size=100, num_steps=400_000, update_rule='simultaneous',
      g_loss='non_saturating', optimizer='adam', learning_rate=1e-4, adam_b1=0.8, prior='gaussian', latent_dim=2,
      g_hidden_dims=(400, 400, 400, 400), g_batch_norm=True, model='maxout', d_hidden_dims=(200, 200, 200),
      maxout_pieces=5, d_input_keep=1.0, d_hidden_keep=1.0, init_distribution='normal', g_init_range=0.02,
      d_init_range=0.02, steps_per_call=1000, checkpoint_every_steps=20_000, sample_every_steps=50_000,
      num_shown_samples=2500, log_every_seconds=30.0, matmul_precision='float32'))
  return config
