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
