"""A small MNIST classifier trained inside the project, for classifier-based sample metrics.

No downloaded weights: ``train_classifier`` fits an MLP (784 → 512 → 256 → 10,
ReLU) on the training split with Adam, and saves its parameters with orbax.
Its softmax gives the classifier score, its 256-unit penultimate layer the
features for the Fréchet distance and precision/recall (``measures``);
``ClassifierMetrics`` computes all four for generated images against a fixed
set of real ones (``experiments.evaluate``: test images; the training loop's
monitor: validation images).

  python -m experiments.train_classifier --config gan_jax/configs/mnist_classifier.py --workdir DIR
"""

import dataclasses
import functools
import hashlib
import pathlib
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import nnx

from gan_jax import models
from gan_jax.configs.base import ConfigError
from gan_jax.data import datasets
from gan_jax.evaluation import measures

PRECISION_RECALL_K = 3  # neighbours that define a manifold's radius (Kynkäänniemi et al.'s default)


class MLPClassifier(nnx.Module):
  """x [batch, input_dim] in [0, 1] → (logits [batch, classes], features [batch, hidden_dims[-1]])."""

  def __init__(self, input_dim: int, hidden_dims=(512, 256), num_classes: int = 10, *, rngs: nnx.Rngs):
    dims = [input_dim, *hidden_dims]
    self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])
    self.output = nnx.Linear(dims[-1], num_classes, rngs=rngs)

  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    h = x
    for layer in self.hidden:
      h = jax.nn.relu(layer(h))
    return self.output(h), h


@dataclasses.dataclass(frozen=True)
class ClassifierSpec:
  """What ``train_classifier`` trains: the fields of ``configs/mnist_classifier.py``, of the same names."""
  dataset: str = 'mnist'
  data_dir: str = ''
  seed: int = 0
  hidden_dims: tuple[int, ...] = (512, 256)
  batch_size: int = 128
  num_epochs: int = 5
  learning_rate: float = 1e-3


def train_classifier(config: ClassifierSpec, workdir: str | pathlib.Path, print_fn=print) -> dict[str, float]:
  """Trains the classifier on ``config.dataset``'s training split; saves it; returns test accuracy."""
  dataset = datasets.load(config.dataset, jax.random.key(config.seed), datasets.SourceOptions(data_dir=config.data_dir))
  if not dataset.is_image or not dataset.train_labels.size:
    raise ValueError(f'config.dataset={config.dataset!r} has no class labels; the classifier needs an image '
                     'dataset with labels (a TFDS dataset with a label feature, or idx:DIR)')
  apply, params = models.as_pure_function(MLPClassifier(dataset.dim, tuple(config.hidden_dims),
                                                        rngs=nnx.Rngs(config.seed)))
  optimizer = optax.adam(config.learning_rate)
  x_train, y_train = jnp.asarray(dataset.train), jnp.asarray(dataset.train_labels)
  batches_per_epoch = x_train.shape[0] // config.batch_size

  def loss_fn(params, x, y):
    logits, _ = apply(params, datasets.to_float(x))
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

  @functools.partial(jax.jit, donate_argnums=(0, 1))
  def epoch(params, opt_state, key):
    order = jax.random.permutation(key, x_train.shape[0])[:batches_per_epoch * config.batch_size]

    def step(carry, indices):
      params, opt_state = carry
      loss, grads = jax.value_and_grad(loss_fn)(params, x_train[indices], y_train[indices])
      updates, opt_state = optimizer.update(grads, opt_state, params)
      return (optax.apply_updates(params, updates), opt_state), loss

    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state),
                                               order.reshape(batches_per_epoch, config.batch_size))
    return params, opt_state, losses.mean()

  opt_state = optimizer.init(params)
  for e in range(config.num_epochs):
    params, opt_state, loss = epoch(params, opt_state, jax.random.fold_in(jax.random.key(config.seed), e))
    print_fn(f'epoch {e + 1}/{config.num_epochs}  loss {float(loss):.4f}')
  accuracy = float(jnp.mean(jnp.argmax(apply(params, datasets.to_float(jnp.asarray(dataset.test)))[0], -1)
                            == jnp.asarray(dataset.test_labels)))
  save(workdir, params)
  print_fn(f'test accuracy {accuracy:.4f}')
  return {'test_accuracy': accuracy}


def _params_path(workdir: str | pathlib.Path) -> pathlib.Path:
  """Where a classifier's directory holds its parameters (orbax); its classifier.json lies beside them."""
  return pathlib.Path(workdir).absolute() / 'classifier'


def save(workdir: str | pathlib.Path, params) -> None:
  with ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(_params_path(workdir), params, force=True)


def restore(workdir: str | pathlib.Path, input_dim: int, hidden_dims) -> tuple:
  """(apply, params) of a classifier saved by ``train_classifier``; ValueError if it takes other inputs.

  ``apply`` takes float32 matrix products on every device (JAX's default is TF32
  on recent NVIDIA GPUs, bfloat16 on TPUs), so the metrics it feeds do not
  depend on where they run.
  """
  network = MLPClassifier(input_dim, tuple(hidden_dims), rngs=nnx.Rngs(0))
  apply, template = models.as_pure_function(network)
  target = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
  with ocp.StandardCheckpointer() as checkpointer:
    saved = checkpointer.metadata(_params_path(workdir)).item_metadata.tree
    saved_input_dim = saved['hidden']['0']['kernel'].shape[0]
    if saved_input_dim != input_dim:
      raise ValueError(f'the classifier in {workdir} takes inputs of {saved_input_dim} values, not {input_dim}')
    params = checkpointer.restore(_params_path(workdir), target)
  return models.in_matmul_precision(apply, 'float32'), params


def load_for_data(workdir: str | pathlib.Path, saved_config: Mapping, dataset: datasets.Dataset,
                  named: str) -> tuple:
  """(apply, params) of the classifier in ``workdir`` for ``dataset``'s examples; ``saved_config`` is its
  classifier.json. ConfigError, naming the setting ``named`` that gave ``workdir``, if it was trained on
  examples of another size."""
  try:
    return restore(workdir, dataset.dim, saved_config['hidden_dims'])
  except ValueError:  # its inputs are not this data's examples
    raise ConfigError(
        f"{named}={workdir} was trained on dataset={saved_config.get('dataset')!r}, whose examples are not the "
        f'{dataset.example_shape} examples of dataset={dataset.name!r}; train one on this data with '
        f'experiments.train_classifier --config.dataset={dataset.name}') from None


def fingerprint(params) -> str:
  """The classifier's identity: SHA-256 (hex) of its parameters' shapes, dtypes and bytes, in the pytree's order.

  Equal for the same weights wherever they are stored; different for a classifier trained again (another seed,
  another machine), whose features, and so Fréchet distances, are another space's."""
  digest = hashlib.sha256()
  for leaf in jax.tree.leaves(params):
    array = np.asarray(leaf)
    digest.update(f'{array.shape}{array.dtype}'.encode())
    digest.update(array.tobytes())
  return digest.hexdigest()


class ClassifierMetrics:
  """Classifier score, Fréchet distance and precision/recall (k = ``PRECISION_RECALL_K``) of generated images
  against fixed real images, in the features of a trained classifier.

  The real images' features and k-NN radii are computed once, here; each
  call classifies one set of samples (10,000 MNIST samples against 10,000
  real images: about 6 s on a 2-core CPU, mostly the neighbour searches;
  docs/long_runs.md).
  """

  def __init__(self, apply, params, real_images: jax.Array):
    """apply, params: ``load_for_data``'s; real_images: [n, dim] float32 in [0, 1]."""
    self._classify = jax.jit(apply)
    self._params = params
    self.fingerprint = fingerprint(params)
    _, real_features = self._classify(params, jnp.asarray(real_images, jnp.float32))
    self._real_features = np.asarray(real_features, np.float64)
    self._real_radii = measures.knn_radii(self._real_features, PRECISION_RECALL_K)
    self.num_real_images = len(real_images)

  def by_class(self, samples: jax.Array, labels: np.ndarray, real_labels: np.ndarray,
               num_classes: int) -> dict[str, float | list]:
    """A conditional generator's measures: ``conditional_accuracy``, the fraction of samples [n, dim] generated
    for class labels[i] that the classifier assigns to it, and per class c (lists of C entries, None where
    class c has fewer than ``PRECISION_RECALL_K`` + 1 samples or real images) ``class_accuracy``,
    ``class_frechet_distance``, ``class_precision`` and ``class_recall`` of the samples generated for c against
    the real images of class c (``real_labels`` [num_real_images], the labels of this object's real images)."""
    logits, features = self._classify(self._params, jnp.asarray(samples, jnp.float32))
    features = np.asarray(features, np.float64)
    correct = np.asarray(jnp.argmax(logits, axis=-1)) == labels
    measures_of = {name: [] for name in ('class_accuracy', 'class_frechet_distance', 'class_precision',
                                         'class_recall')}
    for c in range(num_classes):
      fake, real = features[labels == c], self._real_features[real_labels == c]
      enough = min(len(fake), len(real)) > PRECISION_RECALL_K
      measures_of['class_accuracy'].append(float(correct[labels == c].mean()) if len(fake) else None)
      measures_of['class_frechet_distance'].append(measures.frechet_distance(real, fake) if enough else None)
      pr = measures.precision_recall(real, fake, PRECISION_RECALL_K) if enough else {}
      measures_of['class_precision'].append(pr.get('precision'))
      measures_of['class_recall'].append(pr.get('recall'))
    return {'conditional_accuracy': float(correct.mean()), **measures_of}

  def __call__(self, samples: jax.Array) -> dict[str, float]:
    """``classifier_score``, ``frechet_distance``, ``precision`` and ``recall`` of samples [n, dim] in [0, 1]."""
    logits, features = self._classify(self._params, jnp.asarray(samples, jnp.float32))
    features = np.asarray(features, np.float64)
    return {'classifier_score': measures.classifier_score(np.asarray(jax.nn.softmax(logits))),
            'frechet_distance': measures.frechet_distance(self._real_features, features),
            **measures.precision_recall(self._real_features, features, PRECISION_RECALL_K, self._real_radii)}
