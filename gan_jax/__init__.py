"""gan_jax: Goodfellow et al., Generative Adversarial Nets (2014), in JAX.

Where to find the paper:
  §3 value function and losses ........ gan_jax.losses
  §4 D*, C(G) = −log 4 + 2·JSD ........ gan_jax.theory
  §5 models, noise prior ............... gan_jax.models, gan_jax.priors
  Algorithm 1, momentum SGD ............ gan_jax.train, gan_jax.optim
  data parallelism (pmap, shard_map) ... gan_jax.parallel
  seeds of a run trained together ...... gan_jax.sweep (gan_jax.parallel)
  Table 1, mode and classifier metrics . gan_jax.evaluation (gan_jax.classifier, gan_jax.runs)
  Figures 1 and 3 ...................... gan_jax.figures
  data, checkpoints, the training loop . gan_jax.data, gan_jax.checkpoint, gan_jax.experiment
  data sources (TFDS, folders, arrays) . gan_jax.sources (gan_jax.image_folder, gan_jax.idx)
  building from a config, config checks  gan_jax.construction, gan_jax.validation
  multi-host, preemption ............... gan_jax.distributed, gan_jax.preemption
"""

from gan_jax import (checkpoint, construction, data, distributed, evaluation, experiment, idx, image_folder, losses,
                     models, optim, parallel, preemption, priors, runs, sources, sweep, theory, train, validation)
from gan_jax.losses import (discriminator_loss, minimax_generator_loss,
                            non_saturating_generator_loss, value_function)
from gan_jax.models import (ConvMaxoutDiscriminator, DeconvGenerator, MaxoutDiscriminator, MLPDiscriminator,
                            MLPGenerator, as_pure_function, sigmoid_bias_from_marginals)
from gan_jax.parallel import (make_pmap_train_loop, make_pmap_train_steps, make_shard_map_train_steps, replicate,
                              unreplicate)
from gan_jax.priors import NoisePrior
from gan_jax.train import (GAN, GANState, all_finite, d_step, finite_checks, g_step, init_state, pack_examples,
                           sample, simultaneous_update, train_step, train_steps)

__version__ = '0.1.0'

__all__ = [
    'checkpoint', 'construction', 'data', 'distributed', 'evaluation', 'experiment', 'idx', 'image_folder', 'losses',
    'models', 'optim', 'parallel', 'preemption', 'priors', 'runs', 'sources', 'theory', 'train', 'validation',
    'discriminator_loss', 'minimax_generator_loss', 'non_saturating_generator_loss', 'value_function',
    'ConvMaxoutDiscriminator', 'DeconvGenerator', 'MaxoutDiscriminator', 'MLPDiscriminator', 'MLPGenerator',
    'as_pure_function', 'sigmoid_bias_from_marginals',
    'make_pmap_train_loop', 'make_pmap_train_steps', 'make_shard_map_train_steps', 'replicate', 'unreplicate',
    'NoisePrior',
    'GAN', 'GANState', 'all_finite', 'd_step', 'finite_checks', 'g_step', 'init_state', 'pack_examples', 'sample',
    'simultaneous_update', 'train_step', 'train_steps',
]
