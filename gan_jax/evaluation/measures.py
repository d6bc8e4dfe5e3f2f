"""Table 1 of the paper and the toy-mixture metrics: how good are the generator's samples?

Parzen-window log-likelihood (the paper's protocol, the original
``parzen_ll.py``): a Gaussian kernel density with bandwidth σ around N
generator samples c_j,

    log p̂(x) = log (1/N) Σ_j N(x; c_j, σ² I)
             = logmeanexp_j(−‖x − c_j‖² / (2σ²)) − d · log(σ √(2π)),

with σ picked from ``SIGMAS`` = logspace(−1, 0, 10) by the mean log-likelihood
of validation examples (MNIST: the first 1,000 of train[50000:60000]), then
reported as the mean over the test examples ± its standard error std/√n.
Values are in nats; for 784 pixels they are dominated by the −d·log(σ√2π) term.

Toy mixtures (PacGAN/VEEGAN definitions), for samples of a mixture of K
Gaussians with standard deviation s:
  * a sample is *high quality* when within 3s of its nearest mode;
  * ``modes_covered``: modes nearest to at least one high-quality sample;
  * ``high_quality_frac``: the fraction of high-quality samples;
  * ``reverse_kl`` = KL(p̂ ‖ u) = Σ_k p̂_k log(K p̂_k), where p̂_k is the fraction of
    high-quality samples nearest to mode k and u the uniform distribution over
    the K modes (terms with p̂_k = 0 are 0; log K when every sample sits on one
    mode; +inf when no sample is high quality).
Where the samples sit (``mode_placement``, in units of s): ``near_miss_frac``
of them lie between 3s and ``PLACEMENT_RADIUS`` (6) s of their nearest mode,
``between_modes_frac`` farther (so the three fractions sum to 1); those
within 6s of their nearest mode k have a centre ``mode_offsets[k]`` from mode
k and a ``mode_spreads[k]``, their RMS distance from that centre per
coordinate (1 for the data). High quality falls either when samples leave
the modes or when a mode's samples sit off its centre or spread wider than
it: these tell which.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

SIGMAS = tuple(float(s) for s in np.logspace(-1.0, 0.0, 10))


def _float32_products(a: jax.Array, b: jax.Array) -> jax.Array:
  """a · bᵀ [n, m] for a [n, d], b [m, d], in full float32 on every device.

  JAX's default float32 matmul rounds its factors to TF32 on recent NVIDIA
  GPUs and to bfloat16 on TPUs. The squared distances ‖x‖² + ‖c‖² − 2 x·c
  cancel, so that rounding moves the Parzen estimate: on MNIST (1,000 test
  images against 10,000 training images, σ 0.167) bfloat16 factors raise
  it by 2.1 nats, TF32 factors by 0.1 (``benchmarks/parzen_precision.py``).
  HIGHEST keeps the metrics the same wherever they run; CPUs compute in
  float32 either way.
  """
  return jnp.matmul(a, b.T, precision=jax.lax.Precision.HIGHEST)


def _squared_distances(rows: jax.Array, centres: jax.Array, centre_norms: jax.Array) -> jax.Array:
  """‖r − c‖² [n, m] for rows [n, d] and centres [m, d] (norms ‖c‖² [m] given), clamped at 0."""
  products = _float32_products(rows, centres)
  return jnp.maximum(jnp.sum(rows ** 2, axis=1, keepdims=True) + centre_norms - 2.0 * products, 0.0)


def parzen_log_likelihood(x: jax.Array, centres: jax.Array, sigma: float, batch_size: int = 100) -> jax.Array:
  """log p̂(x) [n] under the Parzen window of ``centres`` [N, d] with bandwidth ``sigma``.

  x: [n, d] float32. Squared distances come from ‖x‖² + ‖c‖² − 2 x·c (one
  matmul per batch of ``batch_size`` rows of x), clamped at 0; the log-mean-exp
  subtracts the row maximum first, so it neither overflows nor underflows.
  """
  x, centres = jnp.asarray(x, jnp.float32), jnp.asarray(centres, jnp.float32)
  n, d = x.shape
  centre_norms = jnp.sum(centres ** 2, axis=1)
  log_normaliser = d * math.log(sigma * math.sqrt(2 * math.pi))

  @jax.jit
  def batch_log_likelihood(rows):
    squared = _squared_distances(rows, centres, centre_norms)
    exponents = -squared / (2.0 * sigma ** 2)
    return jax.nn.logsumexp(exponents, axis=1) - math.log(centres.shape[0]) - log_normaliser

  padded = -(-n // batch_size) * batch_size
  rows = jnp.pad(x, ((0, padded - n), (0, 0))).reshape(-1, batch_size, d)
  return jax.lax.map(batch_log_likelihood, rows).reshape(-1)[:n]


def parzen_validation_scores(validation: jax.Array, centres: jax.Array, sigmas=SIGMAS,
                             batch_size: int = 100) -> jax.Array:
  """Mean log p̂ of the validation examples for each bandwidth: [len(sigmas)] float32, nats.

  validation: [n, d], centres: [N, d], both float32. The squared distances
  are computed once (one matmul per batch of ``batch_size`` validation rows)
  and shared by every σ; jit-able, so a training loop can run it on device.
  """
  validation, centres = jnp.asarray(validation, jnp.float32), jnp.asarray(centres, jnp.float32)
  n, d = validation.shape
  sigmas = jnp.asarray(sigmas, jnp.float32)
  centre_norms = jnp.sum(centres ** 2, axis=1)
  log_normalisers = d * jnp.log(sigmas * math.sqrt(2 * math.pi))

  def batch_sums(rows_and_mask):
    rows, mask = rows_and_mask
    squared = _squared_distances(rows, centres, centre_norms)
    exponents = -squared[None] / (2.0 * sigmas[:, None, None] ** 2)  # [num_sigmas, rows, N]
    log_likelihoods = jax.nn.logsumexp(exponents, axis=2) - math.log(centres.shape[0])
    return jnp.sum(log_likelihoods * mask, axis=1)

  padded = -(-n // batch_size) * batch_size
  rows = jnp.pad(validation, ((0, padded - n), (0, 0))).reshape(-1, batch_size, d)
  mask = (jnp.arange(padded) < n).astype(jnp.float32).reshape(-1, batch_size)
  return jnp.sum(jax.lax.map(batch_sums, (rows, mask)), axis=0) / n - log_normalisers


def parzen_evaluation(samples: np.ndarray, validation: np.ndarray, test: np.ndarray,
                      sigmas=SIGMAS) -> dict[str, float]:
  """The paper's protocol: σ by validation mean log-likelihood, then test mean ± standard error.

  Returns ``parzen_ll`` (mean test log-likelihood, nats), ``parzen_se``
  (std/√n) and ``parzen_sigma`` (the chosen σ), plus ``validation_ll`` at that
  σ (what the training loop's monitor, ``ValidationMonitor``, reports).
  """
  validation_means = np.asarray(jax.jit(parzen_validation_scores)(validation, samples, sigmas), np.float64)
  best = int(np.argmax(validation_means))
  test_ll = np.asarray(parzen_log_likelihood(test, samples, sigmas[best]), np.float64)
  return {'parzen_ll': float(test_ll.mean()), 'parzen_se': float(test_ll.std() / math.sqrt(len(test_ll))),
          'parzen_sigma': sigmas[best], 'validation_ll': float(validation_means[best])}


class ValidationMonitor:
  """The training loop's estimate of Table 1's score on validation data, and optionally the classifier metrics.

  Each call generates ``num_samples`` samples G(z) from one fixed noise batch
  (drawn once from ``key``, so successive estimates differ only through
  the parameters) and returns the protocol's validation estimate: the best
  mean log-likelihood of ``validation`` over ``SIGMAS``. With
  ``classifier_metrics`` (a ``classifier.ClassifierMetrics`` holding
  validation images as its real images) it also returns their classifier
  score, Fréchet distance, precision and recall, prefixed ``validation_``.
  The training loop passes the run's evaluation key
  (``training.rundir.RunKeys``), which ``experiments.evaluate`` uses too,
  and both generate with ``jax.jit(generator)``: these are the numbers of
  ``parzen_evaluation`` (its ``validation_ll``) and of the same
  ``ClassifierMetrics`` on the same samples. The test set is never touched.
  """

  def __init__(self, generator, prior, validation: np.ndarray, key: jax.Array, num_samples: int = 10_000,
               classifier_metrics=None):
    """generator: pure ``(g_params, z) -> x [n, ...]``; prior: a ``priors.NoisePrior``;
    validation: [n, dim] float32 in the generator's output space (pixels in [0, 1]); classifier_metrics: a
    callable ``samples [n, dim] -> dict`` (``classifier.ClassifierMetrics``) or None."""
    self._noise = prior.sample(key, num_samples)
    self._generate = jax.jit(generator)
    self._parzen_scores = jax.jit(parzen_validation_scores)
    self._validation = jnp.asarray(validation, jnp.float32)
    self._classifier_metrics = classifier_metrics

  def __call__(self, g_params) -> dict[str, float]:
    """``{'validation_ll': nats, 'validation_sigma': σ}`` for generator parameters ``g_params``, with the
    classifier metrics ``validation_classifier_score``, ``validation_frechet_distance``,
    ``validation_precision`` and ``validation_recall`` when the monitor has a classifier."""
    samples = self._generate(g_params, self._noise).reshape(self._noise.shape[0], -1)
    by_sigma = np.asarray(self._parzen_scores(self._validation, samples), np.float64)
    best = int(np.argmax(by_sigma))
    scores = {'validation_ll': float(by_sigma[best]), 'validation_sigma': SIGMAS[best]}
    if self._classifier_metrics is not None:
      scores.update({f'validation_{name}': value for name, value in self._classifier_metrics(samples).items()})
    return scores


MODE_METRICS = ('modes_covered', 'high_quality_frac', 'reverse_kl')  # mode_metrics' keys


def _nearest_modes(samples: np.ndarray, modes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Index [n] (int) of each sample's nearest mode and its distance [n] (float64, the samples' units), for
  samples [n, dim] and modes [K, dim]."""
  samples, modes = np.asarray(samples, np.float64), np.asarray(modes, np.float64)
  distances = np.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=-1)  # [n, K]
  return distances.argmin(axis=1), distances.min(axis=1)


def mode_metrics(samples: np.ndarray, modes: np.ndarray, std: float) -> dict[str, float]:
  """``modes_covered``, ``high_quality_frac`` and ``reverse_kl`` of samples [n, dim] (see module doc)."""
  nearest, nearest_distance = _nearest_modes(samples, modes)
  high_quality = nearest_distance <= 3.0 * std
  counts = np.bincount(nearest[high_quality], minlength=len(modes))
  reverse_kl = math.inf
  if counts.sum() > 0:
    p = counts / counts.sum()
    reverse_kl = float(np.sum(p[p > 0] * np.log(len(modes) * p[p > 0])))
  return {'modes_covered': int(np.count_nonzero(counts)), 'high_quality_frac': float(high_quality.mean()),
          'reverse_kl': reverse_kl}


PLACEMENT_RADIUS = 6.0  # in mode stds: a sample this near its nearest mode counts for that mode's placement


def mode_placement(samples: np.ndarray, modes: np.ndarray, std: float) -> dict[str, float | list[float | None]]:
  """``near_miss_frac``, ``between_modes_frac``, and ``mode_offsets`` and ``mode_spreads`` (each [K], units of
  ``std``; None for a mode with < 2 samples within ``PLACEMENT_RADIUS``) of samples [n, dim] around modes
  [K, dim] (see module doc)."""
  samples, modes = np.asarray(samples, np.float64), np.asarray(modes, np.float64)
  nearest, nearest_distance = _nearest_modes(samples, modes)
  near = nearest_distance <= PLACEMENT_RADIUS * std
  offsets, spreads = [], []
  for k, mode in enumerate(modes):
    own = samples[near & (nearest == k)]
    if len(own) < 2:
      offsets.append(None)
      spreads.append(None)
      continue
    centre = own.mean(axis=0)
    offsets.append(float(np.linalg.norm(centre - mode) / std))
    spreads.append(float(np.sqrt(np.mean(np.square(own - centre))) / std))
  return {'near_miss_frac': float(np.mean(near & (nearest_distance > 3.0 * std))),
          'between_modes_frac': float(np.mean(~near)), 'mode_offsets': offsets, 'mode_spreads': spreads}


def mean_and_error(values: list[float]) -> dict[str, float]:
  """Mean, standard error (sample std / √n; 0 for one value) and n of ``values`` (one per seed)."""
  array = np.asarray(values, np.float64)
  with np.errstate(invalid='ignore'):  # an infinite value (a reverse KL) makes the error NaN, documented, not warned
    error = float(array.std(ddof=1) / math.sqrt(len(array))) if len(array) > 1 else 0.0
  return {'mean': float(array.mean()), 'se': error, 'n': len(array)}


def mode_metrics_over_seeds(records: list[dict]) -> dict[int, dict[str, dict[str, float]]]:
  """Step → {metric: ``mean_and_error`` over the seeds with that step} for records {'seed', 'step', *MODE_METRICS}.

  A seed whose samples hold no high-quality one has reverse KL +inf, and so
  has the mean of every step it is in (its standard error is then NaN).
  """
  steps = sorted({r['step'] for r in records})
  return {step: {name: mean_and_error([r[name] for r in records if r['step'] == step]) for name in MODE_METRICS}
          for step in steps}


# ---------------------------------------------------------------- classifier-based metrics

def classifier_score(probabilities: np.ndarray) -> float:
  """exp(E_x KL(p(y|x) ‖ p(y))), the Inception-score analogue; probabilities [n, classes].

  1 when every sample gets the same prediction; the number of classes when
  predictions are confident and the classes balanced.
  """
  p = np.asarray(probabilities, np.float64)
  marginal = p.mean(axis=0, keepdims=True)
  with np.errstate(divide='ignore', invalid='ignore'):
    kl = np.where(p > 0, p * (np.log(p) - np.log(marginal)), 0.0).sum(axis=1)
  return float(np.exp(kl.mean()))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
  """‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½) between Gaussians fitted to two feature sets [n, k]."""
  a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
  mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
  cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  # Tr((Σ_a Σ_b)^½) = Σ √λ over the eigenvalues λ of the symmetric PSD Σ_a^½ Σ_b Σ_a^½: no
  # non-symmetric matrix square root, so singular covariances (dead ReLU features) are fine.
  eigenvalues, eigenvectors = np.linalg.eigh(cov_a)
  root_a = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
  trace_root = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)))
  return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root)


def neighbour_averages(centres: np.ndarray, pool: np.ndarray, k: int, chunk: int = 1000) -> np.ndarray:
  """Each centre [n, d] averaged with its k nearest examples (squared L2) of ``pool`` [m, d]: [n, d] float32.

  A reference for the Parzen estimate: with k = 0 the centres themselves;
  larger k gives smoother, "prototype" images, which the estimator rewards
  (Theis et al., 2016, found k-means centroids score far above real images).
  """
  if k == 0:
    return np.asarray(centres, np.float32)
  pool = jnp.asarray(pool, jnp.float32)

  @jax.jit
  def nearest(block):
    squared = jnp.sum(block ** 2, 1)[:, None] - 2.0 * _float32_products(block, pool) + jnp.sum(pool ** 2, 1)[None, :]
    return jax.lax.top_k(-squared, k)[1]

  averages = []
  for start in range(0, len(centres), chunk):
    block = jnp.asarray(centres[start:start + chunk], jnp.float32)
    averages.append((block + pool[nearest(block)].sum(axis=1)) / (k + 1))
  return np.asarray(jnp.concatenate(averages))


def knn_radii(features: np.ndarray, k: int, chunk: int = 2000) -> np.ndarray:
  """Distance from each point [n, d] to its k-th nearest other point, ``chunk`` rows of distances at a time."""
  radii = [np.partition(_pairwise_distances(features[start:start + chunk], features), k, axis=1)[:, k]
           for start in range(0, len(features), chunk)]  # column k of the sorted row; column 0 is the point itself
  return np.concatenate(radii)


def _pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  squared = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2.0 * a @ b.T
  return np.sqrt(np.maximum(squared, 0.0))


def _inside(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int = 2000) -> np.ndarray:
  """[n] bool: whether each point lies within the radius of some centre (``chunk`` points at a time)."""
  return np.concatenate([(_pairwise_distances(points[start:start + chunk], centres) <= radii[None, :]).any(axis=1)
                         for start in range(0, len(points), chunk)])


def precision_recall(real_features: np.ndarray, fake_features: np.ndarray, k: int = 3,
                     real_radii: np.ndarray | None = None) -> dict[str, float]:
  """Improved precision and recall (Kynkäänniemi et al., 2019) with k-nearest-neighbour manifolds.

  precision: the fraction of generated points inside the real manifold (within
  the k-NN radius of some real point); recall: the fraction of real points
  inside the generated manifold. ``real_radii``: ``knn_radii(real, k)`` if
  already known (a monitor scoring many sample sets against one real set).
  """
  real, fake = np.asarray(real_features, np.float64), np.asarray(fake_features, np.float64)
  real_radii = knn_radii(real, k) if real_radii is None else real_radii
  return {'precision': float(_inside(fake, real, real_radii).mean()),
          'recall': float(_inside(real, fake, knn_radii(fake, k)).mean())}
