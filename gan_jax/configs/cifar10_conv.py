"""The paper's convolutional CIFAR-10 GAN (the original code's cifar10_convolutional.yaml).

Command (needs CIFAR-10 prepared in TFDS; see docs/own_data.md on downloads):
  python -m experiments.train --config gan_jax/configs/cifar10_conv.py --workdir runs/cifar10_conv

G ("deconvolutional"): z ~ U(−√3, √3)¹⁰⁰ → 8000 ReLU → 8000 sigmoid → reshape
10×10×80 → 5×5 transposed convolution, stride 3 → 32×32×3, weights U(±0.05).
D: maxout convolutions of 32, 32 and 192 channels × 2 pieces (kernels 8, 8, 5;
padding 4, 3, 3; max pooling 4/2, 4/2, 2/2) → maxout 500 × 5 → sigmoid unit,
dropout 0.8 on the input and 0.5 before every later layer, weights U(±0.005);
batch 128; simultaneous momentum SGD at ε₀ = 0.004 with the paper's decay and
momentum ramp; train[0:40000]. Differences from the original: pixels in [0, 1]
(no global contrast normalisation) and a sigmoid on G's output.

Run time and result: not measured here; CIFAR-10 cannot be downloaded on the
project's machines, so this preset is tested on TFDS mock data and synthetic
32×32×3 images only (tests/test_presets.py and tests/test_models.py).
"""

from gan_jax.configs import cifar10_fc


def get_config():
  config = cifar10_fc.get_config()
  config.update(dict(
      learning_rate=0.004, batch_size=128, model='conv_maxout', g_output='deconv', d_hidden_dims=(500,),
      d_conv_channels=(32, 32, 192), d_conv_kernels=(8, 8, 5), d_conv_pads=(4, 3, 3), d_pool_shapes=(4, 4, 2),
      d_pool_strides=(2, 2, 2), d_conv_pieces=2))
  return config
