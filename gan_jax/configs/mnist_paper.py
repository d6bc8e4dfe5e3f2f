"""The paper's MNIST GAN with the original code's hyperparameters (goodfeli/adversarial, mnist.yaml).

Commands (TFDS, or the four MNIST IDX files for machines without network):
  python -m experiments.train --config gan_jax/configs/mnist_paper.py --workdir runs/mnist_paper
  python -m experiments.train --config gan_jax/configs/mnist_paper.py --workdir runs/mnist_paper \\
      --config.dataset=idx:/path/to/mnist

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

Run time on a 2-core x86-64 CPU (no GPU, one device): 55-60 it/s after a
few seconds of compilation, so 10,000 steps (20 epochs) take about 3 minutes
and the full 100,000 (200 epochs) about 30. Expected result (seed 0, the IDX
copy of MNIST, measured): at step 1,000 blurry blobs with D(x) ≈ 0.95,
D(G(z)) ≈ 0.06; at step 10,000 recognisable, varied digits with D(x) ≈ 0.73,
D(G(z)) ≈ 0.27; Parzen log-likelihood (``experiments.evaluate``) 49.4 ± 1.8 at
step 10,000, 125.7 ± 1.5 at 25,000 and 155.7 ± 1.5 at 50,000 (100 epochs;
samples in docs/figures/samples.png), against the paper's 225 ± 2.
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
