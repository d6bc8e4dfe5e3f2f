"""gan_jax: Goodfellow et al., Generative Adversarial Nets (2014), in JAX.

The paper, flat at the top of the package:
  §3 value function and losses ........ gan_jax.losses
  §4 D*, C(G) = −log 4 + 2·JSD ........ gan_jax.theory
  §5 models, noise prior ............... gan_jax.models, gan_jax.priors
  Algorithm 1, momentum SGD ............ gan_jax.train, gan_jax.optim
  data parallelism (pmap, shard_map) ... gan_jax.parallel
  the VAE beside the GAN ............... gan_jax.vae (VAE, VAEState, its steps and likelihood bound)

The rings around it, one job each (imports point down this list; docs/architecture.md):
  gan_jax.data ........ where examples come from: TFDS, IDX files, image folders, arrays, toy densities
  gan_jax.evaluation .. how good a generator is: Table 1's Parzen estimate, mode and classifier metrics, pictures
  gan_jax.training .... running and storing a run: the plan, the game's construction, the loop, the run directory
  gan_jax.reports ..... what is made from stored runs: their evaluation, the paper's figures, sweep records
"""

from gan_jax import losses, models, optim, parallel, priors, theory, train, vae
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
    'losses', 'models', 'optim', 'parallel', 'priors', 'theory', 'train', 'vae',
    'discriminator_loss', 'minimax_generator_loss', 'non_saturating_generator_loss', 'value_function',
    'ConvMaxoutDiscriminator', 'DeconvGenerator', 'MaxoutDiscriminator', 'MLPDiscriminator', 'MLPGenerator',
    'as_pure_function', 'sigmoid_bias_from_marginals',
    'make_pmap_train_loop', 'make_pmap_train_steps', 'make_shard_map_train_steps', 'replicate', 'unreplicate',
    'NoisePrior',
    'GAN', 'GANState', 'all_finite', 'd_step', 'finite_checks', 'g_step', 'init_state', 'pack_examples', 'sample',
    'simultaneous_update', 'train_step', 'train_steps',
]
