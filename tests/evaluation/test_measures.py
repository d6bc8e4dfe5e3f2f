"""Measures: Parzen estimates, mode metrics and their tables over seeds, the classifier score, FD, precision and recall."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from gan_jax.data import datasets
from gan_jax.evaluation import measures


def _direct_parzen(x, centres, sigma):
  """Straight from the definition, in float64."""
  x, centres = np.asarray(x, np.float64), np.asarray(centres, np.float64)
  squared = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
  d = x.shape[1]
  return logsumexp(-squared / (2 * sigma ** 2), axis=1) - math.log(len(centres)) - d * math.log(
      sigma * math.sqrt(2 * math.pi))


def test_parzen_matches_a_direct_numpy_computation_on_random_data():
  rng = np.random.default_rng(0)
  x, centres = rng.uniform(size=(37, 50)), rng.uniform(size=(300, 50))  # 37: not a multiple of the batch
  for sigma in (0.1, 0.3, 1.0):
    np.testing.assert_allclose(measures.parzen_log_likelihood(x, centres, sigma, batch_size=8),
                               _direct_parzen(x, centres, sigma), rtol=1e-4, atol=1e-3)


def test_one_centre_gives_the_exact_gaussian_log_density():
  x = np.array([[0.0, 0.0], [1.0, -2.0], [30.0, 40.0]], np.float32)  # the last is 50 σ away
  sigma = 0.5
  expected = -np.sum(x ** 2, axis=1) / (2 * sigma ** 2) - 2 * math.log(sigma * math.sqrt(2 * math.pi))
  np.testing.assert_allclose(measures.parzen_log_likelihood(x, np.zeros((1, 2)), sigma), expected, rtol=1e-5)


def test_many_centres_converge_to_the_smoothed_gaussian():
  """Centres from N(0, τ²I), bandwidth σ: the estimate tends to N(0, (τ² + σ²)I)."""
  tau, sigma, d = 1.0, 0.3, 2
  centres = tau * np.asarray(jax.random.normal(jax.random.key(0), (100_000, d)))
  x = np.asarray(jax.random.normal(jax.random.key(1), (200, d))) * 1.5
  variance = tau ** 2 + sigma ** 2
  exact = -np.sum(x ** 2, axis=1) / (2 * variance) - d / 2 * math.log(2 * math.pi * variance)
  estimated = measures.parzen_log_likelihood(x, centres, sigma, batch_size=50)
  assert abs(float(np.mean(estimated)) - float(np.mean(exact))) < 0.02


def test_protocol_picks_the_sigma_with_the_best_validation_likelihood():
  rng = np.random.default_rng(1)
  samples, validation, test = rng.normal(size=(500, 3)), rng.normal(size=(200, 3)), rng.normal(size=(300, 3))
  result = measures.parzen_evaluation(samples, validation, test)
  by_sigma = {s: float(np.mean(_direct_parzen(validation, samples, s))) for s in measures.SIGMAS}
  assert result['parzen_sigma'] == max(by_sigma, key=by_sigma.get)
  test_ll = _direct_parzen(test, samples, result['parzen_sigma'])
  np.testing.assert_allclose(result['parzen_ll'], test_ll.mean(), rtol=1e-4)
  np.testing.assert_allclose(result['parzen_se'], test_ll.std() / math.sqrt(300), rtol=1e-3)
  assert len(measures.SIGMAS) == 10 and measures.SIGMAS[0] == pytest.approx(0.1)
  assert measures.SIGMAS[-1] == pytest.approx(1.0)


def test_samples_exactly_at_the_modes_cover_all_modes_with_full_quality_and_zero_kl():
  modes = datasets.grid_modes()
  samples = np.repeat(modes, 100, axis=0)
  assert measures.mode_metrics(samples, modes, datasets.GRID_STD) == {
      'modes_covered': 25, 'high_quality_frac': 1.0, 'reverse_kl': 0.0}


def test_collapse_onto_one_mode_gives_log_k():
  modes = datasets.ring_modes()
  samples = np.repeat(modes[:1], 50, axis=0) + 0.005
  result = measures.mode_metrics(samples, modes, datasets.RING_STD)
  assert result['modes_covered'] == 1 and result['high_quality_frac'] == 1.0
  assert result['reverse_kl'] == pytest.approx(math.log(8))


def test_far_samples_are_low_quality_and_do_not_cover_modes():
  modes = datasets.ring_modes()
  samples = np.concatenate([modes[:4], np.full((4, 2), 5.0), modes[:4] + 0.031])  # 3.1 std: just outside
  result = measures.mode_metrics(samples, modes, datasets.RING_STD)
  assert result['modes_covered'] == 4
  assert result['high_quality_frac'] == pytest.approx(4 / 12)
  assert result['reverse_kl'] == pytest.approx(math.log(2))  # uniform over 4 of 8 modes
  assert measures.mode_metrics(np.full((3, 2), 9.0), modes, datasets.RING_STD)['reverse_kl'] == math.inf


def test_mode_placement_gives_each_modes_offset_and_spread_in_stds():
  modes, std = datasets.ring_modes(), datasets.RING_STD
  cross = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]]) * 0.5 * math.sqrt(2) * std  # per-coordinate RMS 0.5 std
  samples = np.concatenate([
      modes[0] + [2 * std, 0] + cross,          # mode 0: centre 2 std off, half as wide as the data
      modes[1] + cross * 2,                      # mode 1: on its centre, as wide as the data
      modes[2:3],                                # mode 2: one sample, too few to place
      modes[3] + [[5.9 * std, 0], [-5.9 * std, 0], [0, 6.1 * std]],  # the last is beyond 6 std: left out
      np.full((5, 2), 5.0)])                     # far from every mode: left out
  placement = measures.mode_placement(samples, modes, std)
  # 8 + 1 high quality (≤ 3 std), 2 near misses (5.9 std), 1 + 5 farther than 6 std, of 17
  assert placement['near_miss_frac'] == pytest.approx(2 / 17)
  assert placement['between_modes_frac'] == pytest.approx(6 / 17)
  assert measures.mode_metrics(samples, modes, std)['high_quality_frac'] == pytest.approx(9 / 17)
  assert placement['mode_offsets'][:2] == [pytest.approx(2.0), pytest.approx(0.0, abs=1e-9)]
  assert placement['mode_spreads'][:2] == [pytest.approx(0.5), pytest.approx(1.0)]
  assert placement['mode_offsets'][3] == pytest.approx(0.0, abs=1e-9)
  assert placement['mode_spreads'][3] == pytest.approx(5.9 / math.sqrt(2))  # RMS of ±5.9 std in one coordinate
  assert placement['mode_offsets'][2] is None and placement['mode_offsets'][4:] == [None] * 4
  assert placement['mode_spreads'][2] is None and placement['mode_spreads'][4:] == [None] * 4


def test_samples_of_the_mixture_itself_sit_on_their_modes_with_spread_one():
  modes, std = datasets.grid_modes(), datasets.GRID_STD
  rng = np.random.default_rng(0)
  samples = modes[rng.integers(0, 25, 100_000)] + rng.normal(0, std, (100_000, 2))
  placement = measures.mode_placement(samples, modes, std)
  # ~4,000 samples a mode: a centre's error is ~0.016 std per coordinate, a spread's ~0.008
  assert max(placement['mode_offsets']) < 0.1
  assert all(abs(spread - 1) < 0.05 for spread in placement['mode_spreads'])


def test_a_seed_without_high_quality_samples_makes_the_mean_kl_infinite_and_its_error_nan_without_a_warning():
  with warnings.catch_warnings():
    warnings.simplefilter('error')
    summary = measures.mean_and_error([0.1, math.inf, 0.3])
  assert summary['mean'] == math.inf and math.isnan(summary['se']) and summary['n'] == 3


def test_the_seed_table_is_the_mean_and_the_sample_std_over_root_n_per_step():
  records = [{'seed': seed, 'step': 10, 'modes_covered': modes, 'high_quality_frac': 0.5, 'reverse_kl': 0.1}
             for seed, modes in enumerate([1, 2, 3, 6])]
  table = measures.mode_metrics_over_seeds(records + [{**records[0], 'step': 20}])
  assert table[10]['modes_covered'] == pytest.approx({'mean': 3.0, 'se': np.std([1, 2, 3, 6], ddof=1) / 2, 'n': 4})
  assert table[20]['modes_covered'] == {'mean': 1.0, 'se': 0.0, 'n': 1}


def test_classifier_score_of_confident_balanced_predictions_is_the_number_of_classes():
  one_hot = np.eye(10)[np.arange(1000) % 10]
  assert measures.classifier_score(one_hot) == pytest.approx(10.0)
  assert measures.classifier_score(np.tile(np.eye(10)[3], (50, 1))) == pytest.approx(1.0)
  assert measures.classifier_score(np.full((20, 10), 0.1)) == pytest.approx(1.0)


def test_frechet_distance_of_shifted_gaussians_is_the_squared_shift():
  rng = np.random.default_rng(0)
  a = rng.normal(size=(20_000, 4))
  assert measures.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
  shift = np.array([3.0, 0.0, -1.0, 2.0])
  assert measures.frechet_distance(a, a + shift) == pytest.approx(14.0, abs=1e-6)
  # Scaling one set by 2: Tr(I + 4I − 2·2I) = 4 for 4 unit-variance dimensions.
  assert measures.frechet_distance(a, 2 * a) == pytest.approx(4.0, rel=0.05)


def test_precision_and_recall_of_identical_disjoint_and_collapsed_sets():
  rng = np.random.default_rng(0)
  real = rng.normal(size=(300, 5))
  assert measures.precision_recall(real, real) == {'precision': 1.0, 'recall': 1.0}
  assert measures.precision_recall(real, real + 100.0) == {'precision': 0.0, 'recall': 0.0}
  collapsed = real[:1] + 1e-3 * rng.normal(size=(300, 5))  # all samples at one real point
  result = measures.precision_recall(real, collapsed)
  assert result['precision'] == 1.0 and result['recall'] < 0.05


def test_knn_radii_in_chunks_are_the_kth_column_of_the_sorted_distances_and_reusable():
  rng = np.random.default_rng(0)
  real, fake = rng.normal(size=(50, 4)), rng.normal(0.5, 1.0, size=(40, 4))
  distances = np.sqrt(((real[:, None] - real[None]) ** 2).sum(-1))
  np.testing.assert_allclose(measures.knn_radii(real, 3, chunk=7), np.sort(distances, axis=1)[:, 3], rtol=1e-12)
  assert (measures.precision_recall(real, fake, 3, real_radii=measures.knn_radii(real, 3, chunk=7))
          == measures.precision_recall(real, fake, 3))


def test_neighbour_averages_average_each_centre_with_its_nearest_pool_examples():
  rng = np.random.default_rng(0)
  centres, pool = rng.random((7, 5)).astype(np.float32), rng.random((30, 5)).astype(np.float32)
  np.testing.assert_array_equal(measures.neighbour_averages(centres, pool, 0), centres)
  distances = ((centres[:, None, :] - pool[None, :, :]) ** 2).sum(-1)
  nearest = np.argsort(distances, axis=1)[:, :2]
  expected = (centres + pool[nearest].sum(1)) / 3
  np.testing.assert_allclose(measures.neighbour_averages(centres, pool, 2, chunk=3), expected, rtol=1e-6)


@pytest.mark.parametrize('default_precision', ['bfloat16', 'tensorfloat32'])
def test_the_parzen_distances_take_float32_products_whatever_the_default_matmul_precision(default_precision):
  """JAX's default float32 matmul is one bfloat16 pass on TPUs and TF32 on recent GPUs; Parzen asks for more.

  The CPU computes in float32 whatever the program asks, so the programs' requested precision is what is checked.
  """
  x, centres = jnp.zeros((4, 3)), jnp.ones((5, 3))
  with jax.default_matmul_precision(default_precision):
    programs = [jax.jit(measures.parzen_log_likelihood, static_argnums=(2, 3)).lower(x, centres, 0.5, 2),
                jax.jit(measures.parzen_validation_scores, static_argnums=(2, 3)).lower(x, centres, (0.5, 1.0), 2)]
  for program in programs:
    products = [line for line in program.as_text().splitlines() if 'dot_general' in line]
    assert products and all('precision = [HIGHEST, HIGHEST]' in line for line in products), products
