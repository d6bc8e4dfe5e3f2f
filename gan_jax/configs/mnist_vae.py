"""The VAE beside the GAN: the paper's MNIST generator as the decoder of a variational autoencoder (gan_jax/vae.py).

Commands (TFDS, or the four MNIST IDX files for machines without network):
  python -m experiments.train --config gan_jax/configs/mnist_vae.py --workdir runs/mnist_vae
  python -m experiments.train --config gan_jax/configs/mnist_vae.py --workdir runs/mnist_vae \\
      --config.dataset=idx:/path/to/mnist
  python -m experiments.evaluate --workdir runs/mnist_vae --classifier runs/classifier [--bound_examples 1000]

Decoder p(x | z): ``mnist_paper``'s G (z 100-d, 1200-1200 ReLU, 784 outputs,
the output bias from the pixel means), its outputs read as Bernoulli logits,
with the VAE's standard normal prior. Encoder q(z | x): the same layers
mirrored, 784-1200-1200 → 2 × 100 (mean and log variance). Trained on the
ELBO of dynamically binarised pixels, one posterior draw per image, Adam
(ε 10⁻³, β₁ 0.9), minibatches of 100, 20 epochs, ``mnist_paper``'s data and splits;
the validation monitor scores the decoder's pixel means σ(ℓ(z)) by Table 1's
Parzen protocol every 5 epochs, like a GAN's samples. ``experiments.evaluate``
adds the test ELBO and the importance-weighted bound with k = 5,000
(``--bound_examples`` limits it to the first test images: about k decoder
passes per image). Results: docs/gan_vs_vae.md.
"""

from gan_jax.configs import mnist_paper


def get_config():
  config = mnist_paper.get_config()
  config.update(dict(objective='vae', prior='gaussian', optimizer='adam', adam_b1=0.9, learning_rate=1e-3,
                     lr_schedule='constant', update_rule='alternating', g_init_range=0.0, num_steps=10_000,
                     checkpoint_every_steps=2500))
  return config
