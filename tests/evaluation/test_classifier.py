"""The MNIST classifier behind the classifier metrics."""

import jax
import jax.numpy as jnp


def test_a_loaded_classifier_takes_float32_products_whatever_the_default_matmul_precision(tmp_path):
  """Its features feed the classifier score, the Fréchet distance and precision/recall: the same on every device."""
  from flax import nnx

  from gan_jax import models
  from gan_jax.evaluation import classifier
  _, params = models.as_pure_function(classifier.MLPClassifier(12, (8, 4), rngs=nnx.Rngs(0)))
  classifier.save(tmp_path / 'classifier', params)
  apply, loaded = classifier.restore(tmp_path / 'classifier', 12, (8, 4))
  with jax.default_matmul_precision('bfloat16'):
    program = jax.jit(apply).lower(loaded, jnp.zeros((2, 12)))
  products = [line for line in program.as_text().splitlines() if 'dot_general' in line]
  assert len(products) == 3 and all('precision = [HIGHEST, HIGHEST]' in line for line in products), products
