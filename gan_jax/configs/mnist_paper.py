"""The paper's MNIST GAN with the original code's hyperparameters (goodfeli/adversarial, mnist.yaml).

Commands (TFDS, or the four MNIST IDX files for machines without network):
  python -m experiments.train --config gan_jax/configs/mnist_paper.py --workdir runs/mnist_paper
  python -m experiments.train --config gan_jax/configs/mnist_paper.py --workdir runs/mnist_paper \\
      --config.dataset=idx:/path/to/mnist
  # Table 1's 225: the same training with a polynomial-decay average of G's weights, 500 epochs
  python -m experiments.train --config gan_jax/configs/mnist_paper.py --workdir runs/mnist_paper_average \
      --config.num_steps=250000 --config.g_ema_decay=0.99999 --config.g_ema_warmup=4
  python -m experiments.evaluate --workdir runs/mnist_paper_average --checkpoint best --params ema

What matches the original code:
* data: MNIST train[0:50000], pixels in [0, 1]; batch m = 100; k = 1.
* G: z ~ U(−√3, √3)¹⁰⁰ → 1200 ReLU → 1200 ReLU → 784 sigmoid, weights
  U(±0.05), output bias = logit of the training set's mean pixel.
* D: dropout keep 0.8 on the input → maxout 240 × 5 → dropout keep 0.5 →
  maxout 240 × 5 → dropout keep 0.5 → sigmoid unit, weights U(±0.005).
* Update rule: the original code's SGD updates both players at once from one
  forward pass (``update_rule='simultaneous'``); Algorithm 1's alternating
  updates are ``--config.update_rule=alternating``.
* Losses: D descends ½[CE(1, D(x)) + CE(0, D(G(z)))] = −½V̂; G descends
  CE(1, D(G(z))) = −mean log D(G(z)) (non-saturating), both means over the
  minibatch, as the original ``AdversaryCost2``.
* Effective update sizes: ``sgd_momentum`` applies pylearn2's rule
  v ← μv − εg, θ ← θ + v literally, with ε = 0.1/1.000004ᵗ (floor 1e-6) per
  update and μ rising linearly from 0.5 in epoch 1 to 0.7 in epoch 250
  (500 updates per epoch). With the same losses and the same rule, every
  parameter moves by what it moved in the original code.

Monitoring: every 2,500 steps (5 epochs) the loop logs the validation
Parzen estimate (``eval_every_steps``) and keeps the best checkpoint in
checkpoints_best/; add ``--config.g_ema_decay=0.999`` to also keep (and score)
an average of G's weights, which does not change training.

Run time: about 2 minutes per 5 epochs on one core of a 2-core AMD EPYC
(20 it/s), 55-60 it/s on the 2026-11-27 machine's two cores. Measured on
the IDX copy of MNIST, seed 0 (2026-11-28). Validation estimate as trained:
79 / 111 / 140 / 161 / 172 / 185 at epochs 10 / 25 / 50 / 100 / 200 / 300;
test 192.0 ± 2.3 for the checkpoint chosen on validation (epoch 390).
G's weight average (β = 0.999 to epoch 150, 0.9999 to epoch 185, then
0.99998; it never feeds back into training): test 225.3 ± 2.2 at epoch 295
and 228.9 ± 2.3 at epoch 400 (validation 226.2). The paper: 225 ± 2. One
seed. The Gaussian prior (--config.prior=gaussian) failed on seed 0 (D won
within 5 epochs); seeds 1 and 2 train.

With ``g_ema_decay=0.99999, g_ema_warmup=4`` (seed 1, one NVIDIA H200,
~970 it/s, 715 epochs): test 234.5 ± 2.2 averaged (validation 231.4 at
epoch 475), 208.8 ± 2.3 as trained (epoch 695); with the Gaussian prior
234.1 ± 2.2 (epoch 370) and 205.4 ± 2.3 (epoch 665). The average first
passes 225 on validation at epoch 225-230. On a 2-core AMD EPYC (seed 0,
uniform, 38 it/s): first checkpoint ≥ 225 on test after 40.8 minutes
(epoch 180, 225.1 ± 2.2); chosen on validation, epoch 240: 228.4 ± 2.2.
``mnist_fast`` reaches 225 in 9–13 minutes there, with worse samples by the
classifier metrics. See docs/table1.md.
"""

from gan_jax.configs import base


def get_config():
  config = base.get_config()
  config.update(dict(
      dataset='mnist', batch_size=100, num_steps=100_000, d_steps=1, g_loss='non_saturating',
      update_rule='simultaneous', optimizer='sgd_momentum', learning_rate=0.1, lr_schedule='paper',
      model='maxout', prior='uniform', latent_dim=100, g_hidden_dims=(1200, 1200), d_hidden_dims=(240, 240),
      maxout_pieces=5, d_input_keep=0.8, d_hidden_keep=0.5, g_init_range=0.05, d_init_range=0.005,
      g_output_bias_from_data=True, steps_per_call=100, checkpoint_every_steps=1000,
      sample_every_steps=500, num_shown_samples=100, eval_every_steps=2500, g_ema_decay=0.0))
  return config
