"""The paper's figures, regenerated: Figure 1 (D moving toward D* on 1-D data), Figure 3 (z-space
interpolation), and training curves. Needs matplotlib (the ``figures`` extra) for the plots.

``experiments/figures.py`` is the command that writes them.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import theory, train
from gan_jax.data import datasets
from gan_jax.evaluation import viz
from gan_jax.training import construction, plan
from gan_jax.configs import gauss1d


def figure1_snapshots(checkpoints=(0, 50, 300, 3000), grid=np.linspace(-1.0, 6.0, 701)) -> list[dict]:
  """Trains the ``gauss1d`` preset and records, at each iteration in ``checkpoints``:

  ``x`` [n] the grid; ``p_data`` the data density N(3, 0.5²); ``p_g`` a Gaussian-
  kernel estimate of the generator's density from 20,000 samples; ``d`` D(x);
  ``d_star`` = p_data / (p_data + p_g), the optimal D for that p_g.

  Training runs in chunks of the greatest common divisor of ``checkpoints``
  iterations, one compiled program for all of them; chunk i draws its
  minibatches and noise from keys folded with i.
  """
  config = gauss1d.get_config()
  dataset = datasets.load('gauss1d', jax.random.key(0))
  gan, state = construction.build_on_one_device(plan.game_spec(config), dataset, config.seed)
  chunk = math.gcd(*checkpoints) or 1
  data_key, noise_key = jax.random.split(jax.random.key(7))

  @jax.jit
  def train_chunk(state, index):
    examples = datasets.sample_toy('gauss1d', jax.random.fold_in(data_key, index), chunk * config.batch_size)
    batches = examples.reshape(chunk, 1, config.batch_size, 1)
    return train.train_steps(gan, state, batches, jax.random.fold_in(noise_key, index))[0]

  x = jnp.asarray(grid, jnp.float32)
  p_data = theory.gaussian_density(x, datasets.GAUSS1D_MEAN, datasets.GAUSS1D_STD)
  snapshots, done = [], 0
  for target in checkpoints:
    for index in range(done // chunk, target // chunk):
      state = train_chunk(state, index)
    done = target
    samples = train.sample(gan, train.generator_variables(gan, state.g_params, state.g_state), jax.random.key(11),
                           20_000)[:, 0]
    bandwidth = 1.06 * float(jnp.std(samples)) * 20_000 ** -0.2 + 1e-3  # Silverman's rule
    p_g = jnp.mean(theory.gaussian_density(x[:, None], samples[None, :], bandwidth), axis=1)
    d = jax.nn.sigmoid(gan.discriminator(state.d_params, x[:, None], None))
    snapshots.append({'step': target, 'x': np.asarray(x), 'p_data': np.asarray(p_data), 'p_g': np.asarray(p_g),
                      'd': np.asarray(d), 'd_star': np.asarray(theory.optimal_discriminator(p_data, p_g))})
  return snapshots


def plot_figure1(snapshots: list[dict]):
  """One panel per snapshot, drawn as the paper's Figure 1: p_data black dots, p_g green, D blue dashes."""
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(1, len(snapshots), figsize=(4 * len(snapshots), 3.2), sharey=True)
  for ax, snap in zip(np.atleast_1d(axes), snapshots):
    scale = 1.0 / max(snap['p_data'].max(), snap['p_g'].max())
    ax.plot(snap['x'], snap['p_data'] * scale, 'k:', lw=2, label='p_data (scaled)')
    ax.plot(snap['x'], snap['p_g'] * scale, 'g-', lw=1.5, label='p_g (scaled)')
    ax.plot(snap['x'], snap['d'], 'b--', lw=1.5, label='D(x)')
    mass = snap['p_data'] + snap['p_g']
    d_star = np.where(mass > 1e-3 * mass.max(), snap['d_star'], np.nan)  # D* is 0/0 where neither has mass
    ax.plot(snap['x'], d_star, color='0.6', lw=1, label='D*(x)')
    ax.axhline(0.5, color='0.85', lw=0.8)
    ax.set_title(f'iteration {snap["step"]}')
    ax.set_xlabel('x')
  np.atleast_1d(axes)[0].legend(loc='upper left', fontsize=8)
  fig.tight_layout()
  return fig


def interpolation_grid(gan: train.GAN, g_params, key: jax.Array, example_shape, rows: int = 8,
                       columns: int = 11) -> np.ndarray:
  """Figure 3: each row is G(z) along the straight line from z_a to z_b, ``columns`` points, ends included."""
  a_key, b_key = jax.random.split(key)
  z_a, z_b = gan.prior.sample(a_key, rows), gan.prior.sample(b_key, rows)
  t = jnp.linspace(0.0, 1.0, columns)[None, :, None]
  z = (1 - t) * z_a[:, None, :] + t * z_b[:, None, :]  # [rows, columns, latent]
  images = gan.generator(g_params, z.reshape(rows * columns, -1))
  return viz.image_grid(np.asarray(images), example_shape, columns=columns)


def plot_training_curves(records: list[dict]):
  """Losses and mean D outputs against iterations, from metrics.jsonl records (a VAE's: ``plot_vae_curves``)."""
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  if 'elbo' in records[0]:
    return plot_vae_curves(records)
  steps = [r['step'] for r in records]
  fig, (losses_ax, d_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
  losses_ax.plot(steps, [r['d_loss'] for r in records], label='D loss (−½V̂)')
  losses_ax.plot(steps, [r['g_loss'] for r in records], label='G loss')
  losses_ax.axhline(np.log(2), color='0.7', lw=0.8, label='log 2')
  d_ax.plot(steps, [r['d_real'] for r in records], label='mean D(x)')
  d_ax.plot(steps, [r['d_fake'] for r in records], label='mean D(G(z))')
  d_ax.axhline(0.5, color='0.7', lw=0.8)
  for ax in (losses_ax, d_ax):
    ax.set_xlabel('iteration')
    ax.legend(fontsize=8)
  fig.tight_layout()
  return fig


def plot_vae_curves(records: list[dict]):
  """A VAE's training ELBO and its two terms (nats per image) against steps, from metrics.jsonl records."""
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  steps = [r['step'] for r in records]
  fig, (elbo_ax, kl_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
  elbo_ax.plot(steps, [r['elbo'] for r in records], label='ELBO')
  elbo_ax.plot(steps, [r['reconstruction'] for r in records], label='log p(x | z)')
  kl_ax.plot(steps, [r['kl'] for r in records], label='KL(q(z | x) ‖ p(z))')
  for ax in (elbo_ax, kl_ax):
    ax.set_xlabel('step')
    ax.set_ylabel('nats per image')
    ax.legend(fontsize=8)
  fig.tight_layout()
  return fig


PAPER_PARZEN_LL = 225.0  # Table 1 of the paper, MNIST (± 2)


def plot_validation_curves(curves: dict[str, list[dict]]):
  """Validation Parzen log-likelihood against epoch, a colour per run (dashed: its weight average), 225 marked.

  ``curves``: run label → metrics.jsonl records holding ``validation_ll``
  (and ``validation_ll_ema`` where the run kept a weight average); records
  without an estimate are skipped.
  """
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(10, 4.5))
  colours = plt.get_cmap('tab10' if len(curves) <= 10 else 'tab20').colors  # tab20's pairs are near-alike
  for index, (label, records) in enumerate(curves.items()):
    for suffix, style, name in (('', '-', ''), ('_ema', '--', ', weight average')):
      evaluated = [r for r in records if f'validation_ll{suffix}' in r]
      if evaluated:
        ax.plot([r['epoch'] for r in evaluated], [r[f'validation_ll{suffix}'] for r in evaluated], style,
                color=colours[index % len(colours)], label=f'{label}{name}')
  ax.axhline(PAPER_PARZEN_LL, color='k', lw=0.8, ls=':', label='paper, Table 1 (test)')
  ax.set_xlabel('epoch')
  ax.set_ylabel('validation Parzen log-likelihood (nats)')
  ax.set_ylim(bottom=-100)
  ax.legend(fontsize=7, loc='center left', bbox_to_anchor=(1.01, 0.5))
  fig.tight_layout()
  return fig
