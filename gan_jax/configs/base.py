"""The config schema: every field, its default and its meaning; each preset overrides what it needs.

The fields of ``get_config()`` are the fields a config has.
``gan_jax.training.plan.validate`` says which values are allowed; where a field
names a choice, the allowed names are the keys of a registry
(``construction.OPTIMIZERS``, ``construction.DISCRIMINATORS``, …).
"""

from collections.abc import Mapping

import ml_collections


class ConfigError(ValueError):
  """A config field has a value that is not allowed; the message names the field."""


def from_saved(saved: Mapping) -> ml_collections.ConfigDict:
  """The config of a run from its saved config.json: the saved values over ``get_config()``.

  Fields the project added after the run was written take their defaults,
  which are the behaviour the run had; lists become tuples again.
  """
  config = get_config()
  for name, value in saved.items():
    if name == 'g_ema_warmup' and isinstance(value, bool):  # saved when the field was on/off: on meant c = 10
      value = 10.0 if value else 0.0
    config[name] = tuple(value) if isinstance(value, list) else value
  return config


def get_config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      # mnist | fashion_mnist | cifar10 | tfds:NAME[:CONFIG] | idx:DIR | images:DIR | npy:PATH | npz:PATH
      # | gauss1d | toy_ring | toy_grid  (gan_jax/data/sources.py says how each is read and split)
      dataset='gauss1d',
      data_dir='',                # TFDS data_dir ('' = TFDS's default, ~/tensorflow_datasets)
      image_size=0,               # images: shorter side resized to this, then centre-cropped square; 0 = as stored
      image_feature='',           # TFDS: which Image feature ('' = the dataset's only one)
      # TFDS split strings ('train', 'train[:50000]', 'train[-10%:]', 'a+b'). '' = the default: the last
      # 1/6 of 'train' (1/5 for cifar10) is validation, the rest training, 'test' is test.
      train_split='',
      validation_split='',
      test_split='',
      cache_dir='',               # decoded image folders ('' = $XDG_CACHE_HOME/gan_jax or ~/.cache/gan_jax)
      device_memory_mib=0.0,      # one device's memory for the fit check before training; 0 = ask the device
      batch_size=64,              # global minibatch m (split over the local devices)
      num_steps=1000,             # iterations of Algorithm 1 (each: k D updates + 1 G update)
      seed=0,                     # everything random derives from jax.random.key(seed)
      # What is trained: gan (the paper's game of G and D) | vae (a variational autoencoder whose decoder is G's
      # network with Bernoulli logits and whose encoder mirrors it; gan_jax/vae.py). A VAE reads the g_*,
      # latent_dim, optimiser and schedule fields and needs prior='gaussian', d_steps=1, no average, no classes.
      objective='gan',
      d_steps=1,                  # k
      g_loss='non_saturating',    # non_saturating | minimax
      update_rule='alternating',  # alternating (Algorithm 1) | simultaneous (the original code)
      optimizer='adam',           # adam | sgd_momentum | rmsprop
      adam_b1=0.5,                # adam: β₁ (β₂ = 0.999)
      learning_rate=1e-3,         # G's learning rate (D's is this × d_learning_rate_scale)
      d_learning_rate_scale=1.0,
      momentum=0.5,               # sgd_momentum's μ unless lr_schedule='paper'
      rmsprop_decay=0.9,          # rmsprop: decay of the running mean of squared gradients
      lr_schedule='constant',     # constant | cosine | paper (ε₀/γᵗ and μ 0.5→0.7, t = the player's update count)
      lr_decay_steps=1000,        # cosine: iterations over which the learning rate decays
      lr_decay_factor=1.000004,   # paper: γ, the learning rate's decay per update (the original's 1.000004)
      model='mlp',                # D: mlp (ReLU) | maxout (the paper's D, with dropout) | conv_maxout
      prior='gaussian',           # gaussian | uniform (U(−√3, √3))
      latent_dim=4,
      g_hidden_dims=(32, 32),     # ReLU layers of G
      d_hidden_dims=(32, 32),     # ReLU layers (mlp) or maxout units per layer (maxout) of D
      maxout_pieces=5,
      d_input_keep=0.8,           # maxout D: dropout keep probability on the input
      d_hidden_keep=0.5,          # maxout D: keep probability on hidden layers
      pack=1,                     # PacGAN packing: D judges groups of `pack` examples joined along the last
                                  # axis, batch_size/pack of them per minibatch (1 = the paper's D)
      # A conditional GAN (the paper's §7.1): C > 0 classes, a label c joined one-hot to the inputs of both players,
      # G(z, c) and D(x, c); the data's labels (docs/own_data.md) must lie in [0, C); 0 = unconditional
      num_classes=0,
      g_init_range=0.0,           # weights ~ U(±range), or N(0, range²) with init_distribution='normal';
      d_init_range=0.0,           # 0 = Flax's default initialiser. Biases start at 0.
      init_distribution='uniform',  # uniform | normal: how g_init_range and d_init_range are read
      # float32 matrix products of G and D (training, sampling, evaluation): default (JAX's: TF32 on recent
      # NVIDIA GPUs, one bfloat16 pass on TPUs, float32 on CPUs) | tensorfloat32 | bfloat16 | float32
      matmul_precision='default',
      g_batch_norm=False,         # g_output='dense': each hidden layer Linear without bias → batch norm → ReLU
      g_output_bias_from_data=False,  # images: G's output bias = logit(mean pixel)
      g_hidden_activations=(),    # one of relu | leaky_relu | sigmoid per G hidden layer; () = all ReLU
      d_hidden_activation='relu',  # model='mlp': relu | leaky_relu | sigmoid, every hidden layer of D
      g_output='dense',           # dense | deconv (images: last hidden layer → 10×10×80 → 5×5 stride-3 deconv)
      # model='conv_maxout': maxout conv layers (channels × d_conv_pieces maps, then max pooling),
      # then maxout dense layers of d_hidden_dims units × maxout_pieces.
      d_conv_channels=(32, 32, 192),
      d_conv_kernels=(8, 8, 5),
      d_conv_pads=(4, 3, 3),
      d_pool_shapes=(4, 4, 2),
      d_pool_strides=(2, 2, 2),
      d_conv_pieces=2,
      steps_per_call=100,         # iterations fused into one compiled lax.scan
      log_every_seconds=5.0,      # console line interval
      checkpoint_every_steps=1000,  # multiple of steps_per_call; the last step is always saved
      keep_checkpoints=3,         # the most recent N checkpoints stay on disk; 0 keeps every one
      sample_every_steps=500,     # sample picture interval, multiple of steps_per_call
      num_shown_samples=100,      # images in the grid / points in the toy plots
      g_ema_decay=0.0,            # β of an average of G's weights, ḡ ← βḡ + (1−β)g per iteration; 0 = none
      # c ≥ 2 (0 = off): iteration t uses min(β, (1+t)/(c+t)), an average lagging ~t/c iterations behind
      # (c = 2: the mean of all iterates; 10: TensorFlow's num_updates rule); see train.GAN
      g_ema_warmup=0.0,
      # Images: the validation Parzen estimate (Table 1's protocol on validation data, evaluation.ValidationMonitor)
      # every eval_every_steps (0 = never; at the end of the chunk of steps_per_call that reaches a
      # multiple, so a run extended later evaluates the same steps), logged, and the checkpoint
      # with the best estimate kept in checkpoints_best/ (and checkpoints_best_ema/ for the average).
      eval_every_steps=0,
      eval_num_samples=10_000,    # generator samples: the Parzen window's centres
      eval_num_validation=1000,   # the first validation images, scored at every σ of evaluation.SIGMAS
      # A classifier trained on this data (experiments.train_classifier --workdir DIR; '' = none): the monitor
      # then also logs the classifier score, Fréchet distance, precision and recall of the same samples against
      # the first eval_num_samples validation images (evaluation.classifier.ClassifierMetrics; what
      # experiments.evaluate --classifier reports on test images). Cost: docs/long_runs.md.
      eval_classifier_dir='',
      # Which checkpoint is the best: the best validation score eval_best_by ('validation_ll', the highest Parzen
      # estimate, or 'validation_frechet_distance', the lowest Fréchet distance, which needs eval_classifier_dir)
      # among those whose validation Parzen estimate is at least eval_best_min_ll (nats), Fréchet distance at most
      # eval_best_max_frechet and recall at least eval_best_min_recall (0 = no bar; the last two need
      # eval_classifier_dir). Until a checkpoint meets the bars, none is kept as best.
      eval_best_by='validation_ll',
      eval_best_min_ll=0.0,
      eval_best_max_frechet=0.0,
      eval_best_min_recall=0.0,
  ))
