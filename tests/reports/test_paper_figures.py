"""The paper's figures."""

import numpy as np
import pytest


@pytest.mark.slow
def test_figure1_discriminator_moves_toward_dstar_and_ends_near_half():
  from gan_jax.reports import paper_figures
  snapshots = paper_figures.figure1_snapshots(checkpoints=(0, 3000))
  bulk = snapshots[-1]['p_data'] > 0.05 * snapshots[-1]['p_data'].max()
  final_d = snapshots[-1]['d'][bulk]
  assert np.abs(final_d - 0.5).max() < 0.1
  errors = [np.abs(s['d'] - s['d_star'])[bulk].mean() for s in snapshots]
  assert errors[-1] < errors[0]


@pytest.mark.parametrize('records, plotted', [
    ([{'step': s, 'd_loss': 0.6, 'g_loss': 0.8, 'd_real': 0.6, 'd_fake': 0.4} for s in (100, 200)],
     [['D loss (−½V̂)', 'G loss', 'log 2'], ['mean D(x)', 'mean D(G(z))']]),
    ([{'step': s, 'elbo': -120.0, 'reconstruction': -110.0, 'kl': 10.0} for s in (100, 200)],
     [['ELBO', 'log p(x | z)'], ['KL(q(z | x) ‖ p(z))']])])
def test_training_curves_plot_a_gans_losses_or_a_vaes_bound_from_its_records(records, plotted):
  from gan_jax.reports import paper_figures
  figure = paper_figures.plot_training_curves(records)
  assert [[line.get_label() for line in ax.get_legend().get_lines()] for ax in figure.axes] == plotted
