"""A finished (or running) training run on disk: its config, its latest checkpoint, its evaluation.

``experiments/evaluate.py`` and ``experiments/figures.py`` work on runs through
these functions; the metrics themselves are in ``measures.py``.
"""

import functools
import pathlib
import re

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax import parallel, train, vae
from gan_jax.data import datasets
from gan_jax.evaluation import classifier, measures
from gan_jax.training import checkpoint, construction, plan, rundir


def load_run_config(directory: str | pathlib.Path) -> ml_collections.ConfigDict:
  """The config a run in ``directory`` was trained with (``RunDirectory.saved_config``); ConfigError if none."""
  config = rundir.RunDirectory(directory).saved_config()
  if config is None:
    raise plan.ConfigError(f'--workdir={directory} holds no training run (no {rundir.CONFIG})')
  return config


TOY_EVAL_SAMPLES = 2_500  # generator samples behind a toy run's metrics (PacGAN's protocol)

def _checkpoint_reader(run_directory: rundir.RunDirectory, which: str, params: str, best_by: str):
  """A read-only manager (``checkpoint.make_reader``) of the directory holding ``which``, and the step to
  restore (None: the latest); ``best_by``: the score the run's best checkpoints are ranked by
  (``config.eval_best_by``). The caller closes it."""
  if which == 'latest':
    return checkpoint.make_reader(run_directory.checkpoints), None
  if which == 'best':
    directory = run_directory.best_checkpoints(params)
    manager = checkpoint.make_reader(directory, ranked_by=best_by)
    if manager.best_step() is None:
      manager.close()
      raise checkpoint.CheckpointError(f'no best checkpoint in {directory}: the run was trained with '
                                       f'config.eval_every_steps=0, has not been evaluated yet, or none of its '
                                       f'scores met the bars config.eval_best_min_ll, eval_best_max_frechet and '
                                       f'eval_best_min_recall')
    return manager, manager.best_step()
  step, held = int(which), set()
  for directory in run_directory.checkpoint_directories():
    manager = checkpoint.make_reader(directory)
    if step in manager.all_steps():
      return manager, step
    held.update(manager.all_steps())
    manager.close()
  raise checkpoint.CheckpointError(f'no checkpoint step {step} in {run_directory.root}; it holds steps '
                                   f'{sorted(held)}')


def check_checkpoint_choice(which: str, params: str) -> None:
  """Raises ConfigError unless ``which`` is latest, best or a step number and ``params`` a generator's name."""
  if not (which in ('latest', 'best') or re.fullmatch('[0-9]+', which)):
    raise plan.ConfigError(f'--checkpoint={which!r} must be latest, best or a step number')
  if params not in train.GENERATORS:
    raise plan.ConfigError(f'--params={params!r} is not allowed; allowed: {list(train.GENERATORS)}')


def check_generator_kept(config: ml_collections.ConfigDict, params: str, runs_named: str) -> None:
  """Raises ConfigError if ``params`` is 'ema' and ``config`` keeps no weight average (``runs_named``: whose runs)."""
  if params == 'ema' and not config.g_ema_decay:
    raise plan.ConfigError(f'--params=ema needs a run trained with config.g_ema_decay > 0; '
                           f'{runs_named} keeps no weight average')


def restore_run(directory: str | pathlib.Path, which: str = 'latest', params: str = 'raw'):
  """(config, dataset, gan, state, keys) of a checkpoint of the run in ``directory`` (keys: ``rundir.RunKeys``).

  ``which``: 'latest', 'best' (the checkpoint of the generator chosen by
  ``params`` that the training loop's monitor kept as best, by the run's
  ``config.eval_best_by``) or a step number. ``params``: 'raw' or 'ema' (the weight
  average, for runs trained with ``g_ema_decay`` > 0): which generator
  is used from the state (``train.generators``; a VAE has only 'raw'). It only reads: nothing in
  ``directory`` is created, moved or deleted, so a run may be training there
  (an unreadable latest checkpoint is reported and the one before restored).
  """
  check_checkpoint_choice(which, params)
  run_directory = rundir.RunDirectory(directory)
  config = load_run_config(directory)
  plan.validate(config)
  check_generator_kept(config, params, f'the run in {directory}')
  # A missing step or best is said before any compute.
  manager, step = _checkpoint_reader(run_directory, which, params, config.eval_best_by)
  with manager:
    keys = rundir.RunKeys.of_seed(config.seed)
    data = plan.data_spec(config)
    dataset = datasets.load(data.dataset, keys.data, data.source)
    gan, state = construction.build_on_one_device(plan.game_spec(config), dataset, config.seed)
    if step is None:  # the keys are given for their shapes
      restored = checkpoint.restore_latest(manager, state, keys.train, keys.data, set_aside=False)
      if restored is None:
        raise checkpoint.CheckpointError(f'no checkpoint in {manager.directory} to restore')
    else:
      restored = checkpoint.restore_step(manager, step, state, keys.train, keys.data)
  return config, dataset, gan, restored[0], keys


def _load_classifier(classifier_dir: str | pathlib.Path, dataset: datasets.Dataset):
  """(apply, params) of the classifier in ``classifier_dir`` (``--classifier``); ConfigError if it was trained on
  other examples."""
  return classifier.load_for_data(classifier_dir, rundir.read_classifier_config(classifier_dir), dataset,
                                  '--classifier')


BOUND_CHUNK = 100  # test examples per compiled call of the importance-weighted bound


def likelihood_bounds(model: vae.VAE, state: vae.VAEState, test_images: np.ndarray, key: jax.Array,
                      importance_samples: int, bound_examples: int = 0) -> dict[str, float | int]:
  """A VAE's log-likelihood bounds on binarised test images, nats per image, each with its standard error.

  ``test_images``: [n, dim] uint8; each is binarised once, x ~ Bernoulli(pixel / 255), from ``key`` (the same
  binary images for every checkpoint). ``test_elbo``: the ELBO of all n (one posterior draw each, the KL
  term exact); ``test_log_likelihood_bound``: the importance-weighted bound L_k (``vae.importance_weighted_bound``,
  k = ``importance_samples``) of the first ``bound_examples`` (0: all n), a cost of about k decoder passes per
  image.
  """
  binarize_key, elbo_key, bound_key = jax.random.split(key, 3)
  images = vae.binarize(binarize_key, datasets.to_float(jnp.asarray(test_images)))
  params = {'decoder': state.decoder_params, 'encoder': state.encoder_params}
  epsilon = jax.random.normal(elbo_key, (images.shape[0], model.prior.dim))
  reconstruction, kl = jax.jit(functools.partial(vae.elbo_terms, model))(params, images, epsilon)
  elbos = np.asarray(reconstruction - kl, np.float64)
  bound = jax.jit(functools.partial(vae.importance_weighted_bound, model), static_argnums=3)
  shown = images[:bound_examples or images.shape[0]]
  bounds = np.concatenate([
      np.asarray(bound(params, shown[start:start + BOUND_CHUNK], jax.random.fold_in(bound_key, start),
                       importance_samples), np.float64)
      for start in range(0, shown.shape[0], BOUND_CHUNK)])

  def standard_error(values):
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float('nan')
  return {'test_elbo': float(elbos.mean()), 'test_elbo_se': standard_error(elbos),
          'test_log_likelihood_bound': float(bounds.mean()), 'test_log_likelihood_bound_se': standard_error(bounds),
          'importance_samples': importance_samples, 'bound_examples': len(bounds)}


def evaluate_run(directory: str | pathlib.Path, num_samples: int | None = None, real_centres: bool = False,
                 classifier_dir: str | pathlib.Path | None = None, which: str = 'latest',
                 params: str = 'raw', importance_samples: int = 5000,
                 bound_examples: int = 0) -> tuple[dict, np.ndarray]:
  """Metrics of a checkpoint (``which``, ``params``: as ``restore_run``) in ``directory``, and the samples they
  used.

  Images: the paper's Parzen protocol (``measures.parzen_evaluation``) with
  ``config.eval_num_samples`` samples (10,000), σ chosen on the first
  ``config.eval_num_validation`` (1,000) validation images, reported on the
  test set; the samples are the training loop monitor's. Toy mixtures: ``measures.mode_metrics`` and
  ``measures.mode_placement`` on 2,500 samples.
  1-D data: the samples' mean and std. Samples: [num_samples, dim], values as
  fed to the metrics (pixels in [0, 1]). With ``real_centres`` the "samples"
  are the first ``num_samples`` training examples instead: the estimator's
  value for a perfect generator (reference). With ``classifier_dir`` (a
  classifier from ``classifier.train_classifier``) image runs also get
  ``classifier_score``, ``frechet_distance``, ``precision`` and ``recall``
  (features of the samples against those of as many test images), and a
  conditional run (``num_classes`` > 0; its samples' labels drawn uniformly)
  ``conditional_accuracy`` and per class the accuracy, Fréchet distance, precision and recall against the test
  images of that class (``ClassifierMetrics.by_class``). A VAE's run (``objective='vae'``) also gets its
  likelihood bounds on the test images (``likelihood_bounds`` with ``importance_samples`` and
  ``bound_examples``); its samples are the decoder's pixel means.
  """
  config, dataset, gan, state, keys = restore_run(directory, which, params)
  if dataset.is_image and not (dataset.validation.shape[0] and dataset.test.shape[0]):
    raise plan.ConfigError(
        f'dataset={config.dataset!r} has {dataset.validation.shape[0]} validation and {dataset.test.shape[0]} '
        'test examples; the Parzen protocol needs both (a larger dataset, or config.validation_split / test_split)')
  loaded_classifier = _load_classifier(classifier_dir, dataset) if classifier_dir and dataset.is_image else None
  num_samples = num_samples or (config.eval_num_samples if dataset.is_image else TOY_EVAL_SAMPLES)
  if real_centres:
    samples = np.asarray(datasets.to_float(jnp.asarray(dataset.train[:num_samples])))
  else:
    noise = gan.prior.sample(keys.evaluation_samples, num_samples)  # as the monitor: jax.jit(generator)
    samples = np.asarray(jax.jit(gan.generator)(parallel.algorithm(gan).generators(gan, state)[params], noise))
  metrics: dict = {'step': int(state.step), 'checkpoint': which, 'params': params, 'num_samples': len(samples),
                   'real_centres': real_centres}
  if dataset.is_image:
    validation_images, test_images = (np.asarray(datasets.to_float(jnp.asarray(split))) for split in
                                      (dataset.validation[:config.eval_num_validation], dataset.test))
    metrics.update(measures.parzen_evaluation(samples, validation_images, test_images))
    if loaded_classifier:
      real_images = datasets.to_float(jnp.asarray(dataset.test[:len(samples)]))
      classifier_metrics = classifier.ClassifierMetrics(*loaded_classifier, real_images)
      metrics.update(classifier_metrics(samples), num_real_images=classifier_metrics.num_real_images)
      if gan.prior.num_classes and not real_centres:  # the labels the samples were generated for
        labels = np.asarray(jnp.argmax(gan.prior.labels_of(noise), axis=-1))
        metrics.update(classifier_metrics.by_class(samples, labels, dataset.test_labels[:len(samples)],
                                                   gan.prior.num_classes))
    if isinstance(gan, vae.VAE) and not real_centres:
      metrics.update(likelihood_bounds(gan, state, dataset.test, keys.likelihood_bounds, importance_samples,
                                       bound_examples))
  elif config.dataset in datasets.MIXTURES:
    modes_and_std = datasets.mixture_modes(config.dataset)
    metrics.update(measures.mode_metrics(samples, *modes_and_std))
    metrics.update(measures.mode_placement(samples, *modes_and_std))
  else:
    metrics.update(sample_mean=float(samples.mean()), sample_std=float(samples.std()))
  return metrics, samples
