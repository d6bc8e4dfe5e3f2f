"""The paper's fully connected CIFAR-10 GAN (the original code's cifar10_fully_connected.yaml).

Command (needs CIFAR-10 prepared in TFDS; see docs/own_data.md on downloads):
  python -m experiments.train --config gan_jax/configs/cifar10_fc.py --workdir runs/cifar10_fc

G: z ~ U(−√3, √3)¹⁰⁰ → 8000 ReLU → 8000 sigmoid → 3072, weights U(±0.05);
D: dropout 0.8 → maxout 1600 × 5 → dropout 0.5 → maxout 1600 × 5 → dropout 0.5 →
sigmoid unit, weights U(±0.005); batch 100; simultaneous momentum SGD at
ε₀ = 0.025 with the paper's decay and momentum ramp; train[0:40000].
Differences from the original: pixels are scaled to [0, 1] (no global
contrast normalisation) and G's output goes through a sigmoid, not a linear unit.

Run time and result: not measured here; CIFAR-10 cannot be downloaded on the
project's machines, so this preset is tested on TFDS mock data and synthetic
32×32×3 images only (tests/test_presets.py and tests/test_models.py).
"""

from gan_jax.configs import mnist_paper


def get_config():
  config = mnist_paper.get_config()
  config.update(dict(
      dataset='cifar10', learning_rate=0.025, g_hidden_dims=(8000, 8000), g_hidden_activations=('relu', 'sigmoid'),
      d_hidden_dims=(1600, 1600), g_output_bias_from_data=False, steps_per_call=50,
      checkpoint_every_steps=400, sample_every_steps=400))
  return config
