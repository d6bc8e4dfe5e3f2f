"""The conditional GAN of the paper's §7.1: a label c joined one-hot to the inputs of G and D."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from PIL import Image

import gan_jax
from conftest import trees_equal
from gan_jax import priors, train
from gan_jax.configs import mnist_paper
from gan_jax.data import datasets
from gan_jax.evaluation import classifier
from gan_jax.reports import stored_runs
from gan_jax.training import loop
from test_parallel import assert_pmap_step_equals_single_device_step
from tiny_runs import random_classifier, tiny_config

C = 10


def test_a_conditional_prior_draws_z_then_a_one_hot_label():
  prior = priors.NoisePrior('uniform', 5, num_classes=C)
  noise = prior.sample(jax.random.key(0), 2000)
  assert noise.shape == (2000, 5 + C) and prior.input_dim == 5 + C
  one_hot = np.asarray(prior.labels_of(noise))
  assert set(np.unique(one_hot)) == {0.0, 1.0} and (one_hot.sum(axis=1) == 1).all()
  counts = np.bincount(one_hot.argmax(axis=1), minlength=C)
  assert counts.min() > 0  # every class is drawn (2,000 uniform draws: each class ~200)
  assert np.abs(np.asarray(noise[:, :5])).max() <= np.sqrt(3.0)
  chosen = prior.join_labels(noise[:3, :5], jnp.array([7, 0, 7]))
  assert (np.asarray(prior.labels_of(chosen)).argmax(axis=1) == [7, 0, 7]).all()


def test_class_rows_put_one_class_in_each_row_and_one_z_in_each_column():
  prior = priors.NoisePrior('gaussian', 4, num_classes=3)
  noise = np.asarray(prior.class_rows(jax.random.key(1), columns=5)).reshape(3, 5, 4 + 3)
  assert (noise[:, :, 4:].argmax(axis=-1) == np.arange(3)[:, None]).all()
  assert (noise[:, :, :4] == noise[:1, :, :4]).all() and len(np.unique(noise[0, :, 0])) == 5


def test_an_unconditional_prior_draws_what_it_drew_before_labels_existed():
  key = jax.random.key(3)
  limit = np.sqrt(3.0)
  expected = jax.random.uniform(key, (6, 4), jnp.float32, minval=-limit, maxval=limit)
  assert (np.asarray(priors.NoisePrior('uniform', 4).sample(key, 6)) == np.asarray(expected)).all()


def test_the_label_reaches_g_and_d():
  rngs = nnx.Rngs(0)
  g_apply, g_params = gan_jax.as_pure_function(gan_jax.MLPGenerator(100 + C, (32,), 784, rngs=rngs))
  d_apply, d_params = gan_jax.as_pure_function(gan_jax.MaxoutDiscriminator(784 + C, (16,), 2, unmasked_inputs=C,
                                                                            rngs=rngs))
  prior = priors.NoisePrior('uniform', 100, num_classes=C)
  z = prior.sample(jax.random.key(0), 4)[:, :100]
  x_for = {c: g_apply(g_params, prior.join_labels(z, jnp.full(4, c))) for c in (2, 5)}
  assert np.abs(np.asarray(x_for[2] - x_for[5])).min() > 0  # the same z, another class: every pixel moves
  logit_for = {c: d_apply(d_params, prior.join_labels(x_for[2], jnp.full(4, c)), None) for c in (2, 5)}
  assert (np.asarray(logit_for[2]) != np.asarray(logit_for[5])).all()


def test_the_input_dropout_of_a_conditional_d_never_drops_the_label():
  """With x = 0 the input dropout of the pixels changes nothing; D(·, key) = D(·, None) then holds exactly iff the
  label is neither dropped nor rescaled (hidden dropout off)."""
  d_apply, d_params = gan_jax.as_pure_function(gan_jax.MaxoutDiscriminator(
      6 + C, (16,), 2, input_keep=0.5, hidden_keep=1.0, unmasked_inputs=C, init_range=0.5, rngs=nnx.Rngs(0)))
  examples = jnp.concatenate([jnp.zeros((C, 6)), jnp.eye(C)], axis=1)
  without_dropout = np.asarray(d_apply(d_params, examples, None))
  for seed in range(5):
    assert (np.asarray(d_apply(d_params, examples, jax.random.key(seed))) == without_dropout).all()
  masked = gan_jax.as_pure_function(gan_jax.MaxoutDiscriminator(
      6 + C, (16,), 2, input_keep=0.5, hidden_keep=1.0, init_range=0.5, rngs=nnx.Rngs(0)))[0]
  assert any((np.asarray(masked(d_params, examples, jax.random.key(seed))) != without_dropout).any()
             for seed in range(5))  # the same D with every input masked does drop labels


def _label_echo_game(update_rule: str):
  """G(z, c) = one_hot(c) (a 'sample' of C pixels); D's logit is +8 when the pixels equal the label it is shown
  with, −8 otherwise: D(G(z)) is sigmoid(8) exactly when every sample is judged with the label it was made for."""
  prior = priors.NoisePrior('uniform', 3, num_classes=C)
  generator = lambda params, noise: prior.labels_of(noise) + 0.0 * params['w']
  discriminator = lambda params, x, key: jnp.where((x[:, :C] == x[:, C:]).all(axis=1), 8.0, -8.0) + 0.0 * params['w']
  sgd = optax.sgd(0.1)
  gan = train.GAN(generator, discriminator, prior, sgd, sgd, update_rule=update_rule)
  return gan, train.init_state(gan, {'w': jnp.zeros(())}, {'w': jnp.zeros(())})


@pytest.mark.parametrize('update_rule', ['alternating', 'simultaneous'])
def test_each_generated_sample_is_judged_with_the_label_it_was_generated_for(update_rule):
  gan, state = _label_echo_game(update_rule)
  labels = jnp.arange(8) % C
  real = jnp.concatenate([jax.nn.one_hot(labels, C), jax.nn.one_hot(labels, C)], axis=1)[None]  # [k=1, 8, 2C]
  _, metrics = train.train_step(gan, state, real, jax.random.key(0))
  assert float(metrics['d_real']) == pytest.approx(float(jax.nn.sigmoid(8.0)), rel=1e-6)
  for name in ('d_fake', 'd_fake_g'):
    assert float(metrics[name]) == pytest.approx(float(jax.nn.sigmoid(8.0)), rel=1e-6), name


def test_join_labels_makes_one_hot_columns_that_to_float_reads_as_one():
  pixels = np.array([[0, 255], [10, 20]], np.uint8)
  joined = datasets.join_labels(pixels, np.array([2, 0], np.int32), 3)
  assert joined.dtype == np.uint8
  assert (np.asarray(datasets.to_float(jnp.asarray(joined)))[:, 2:] == [[0, 0, 1], [1, 0, 0]]).all()
  floats = datasets.join_labels(np.zeros((1, 2), np.float32), np.array([1], np.int32), 2)
  assert floats.dtype == np.float32 and (floats == [[0, 0, 0, 1]]).all()


def _conditional_paper_gan(hidden=(64, 64), maxout_units=(32, 32), **gan_kwargs):
  rngs = nnx.Rngs(0)
  g_apply, g_params = gan_jax.as_pure_function(gan_jax.MLPGenerator(100 + C, hidden, 784, rngs=rngs))
  d_apply, d_params = gan_jax.as_pure_function(gan_jax.MaxoutDiscriminator(784 + C, maxout_units,
                                                                            unmasked_inputs=C, rngs=rngs))
  optimizer = gan_jax.optim.paper_sgd(steps_per_epoch=500)
  gan = gan_jax.GAN(g_apply, d_apply, priors.NoisePrior('uniform', 100, num_classes=C), optimizer, optimizer,
                    **gan_kwargs)
  return gan, g_params, d_params


@pytest.mark.slow
def test_a_conditional_pmap_step_equals_the_single_device_step_on_the_same_global_batch(eight_devices):
  """As test_parallel's equivalence test (float64, the same bound), with labelled examples and labelled noise."""
  float64 = lambda tree: jax.tree.map(lambda x: x.astype(jnp.float64), tree)
  with jax.enable_x64(True):
    gan, g_params, d_params = _conditional_paper_gan(d_steps=2)
    state = gan_jax.init_state(gan, float64(g_params), float64(d_params))
    pixels = jax.random.uniform(jax.random.key(1), (3, 2, 32, 784), jnp.float64)
    labels = jax.random.randint(jax.random.key(2), (3, 2, 32), 0, C)
    batches = jnp.concatenate([pixels, jax.nn.one_hot(labels, C, dtype=jnp.float64)], axis=-1)
  assert_pmap_step_equals_single_device_step(gan, state, batches, eight_devices, ('d_params', 'g_params'))


def _conditional_config(idx_dir, **overrides):
  return tiny_config(mnist_paper.get_config(), dataset=f'idx:{idx_dir}', num_classes=C, keep_checkpoints=10,
                     **overrides)


@pytest.mark.slow
def test_a_conditional_run_resumes_bit_identically_and_pictures_one_row_per_class(tmp_path, idx_dir):
  config = _conditional_config(idx_dir, num_steps=12, num_shown_samples=20)
  loop.run(config, tmp_path / 'straight', print_fn=lambda _: None)
  loop.run(_conditional_config(idx_dir, num_steps=6, num_shown_samples=20), tmp_path / 'resumed',
           print_fn=lambda _: None)
  loop.run(config, tmp_path / 'resumed', print_fn=lambda _: None)
  straight, resumed = (stored_runs.restore_run(tmp_path / name)[3] for name in ('straight', 'resumed'))
  assert int(resumed.step) == 12 and trees_equal(straight, resumed)
  assert json.loads((tmp_path / 'straight' / 'config.json').read_text())['num_classes'] == C
  picture = np.asarray(Image.open(tmp_path / 'straight' / 'samples' / 'step_0000012.png'))
  rows, columns = C, 2  # 20 shown samples: 2 columns of one z each, a row per class
  assert picture.shape[:2] == (rows * (28 + 2) + 2, columns * (28 + 2) + 2)
  random_classifier(tmp_path / 'classifier', 784)
  metrics, _ = stored_runs.evaluate_run(tmp_path / 'straight', num_samples=40, classifier_dir=tmp_path / 'classifier')
  assert 0 <= metrics['conditional_accuracy'] <= 1
  assert all(len(metrics[f'class_{name}']) == C for name in ('accuracy', 'frechet_distance', 'precision', 'recall'))


def test_conditional_measures_count_the_samples_classified_as_their_label_and_compare_each_class_alone():
  apply = lambda params, x: (x[:, :3] * 10.0, x)  # a 'classifier' that reads the class off the first 3 pixels
  rng = np.random.default_rng(0)
  real_labels = np.arange(30) % 3
  real = np.eye(3, 5, dtype=np.float32)[real_labels] + rng.normal(0, 0.01, (30, 5)).astype(np.float32)
  metrics = classifier.ClassifierMetrics(apply, None, real)
  labels = np.array([0] * 8 + [1] * 8 + [2] * 2)
  samples = real[:18].copy()
  samples[:8] = real[real_labels == 0][:8]   # class 0: real images of class 0
  samples[8:16] = real[real_labels == 2][:8]  # 'class 1': images of class 2
  result = metrics.by_class(samples, labels, real_labels, num_classes=4)
  # 'class 2' holds real[16:18], images of classes 1 and 2: 8 + 0 + 1 of the 18 are read as their label.
  assert result['conditional_accuracy'] == 0.5
  assert result['class_accuracy'] == [1.0, 0.0, 0.5, None]
  assert result['class_frechet_distance'][0] < 0.01 < result['class_frechet_distance'][1]
  assert result['class_recall'][1] == 0.0 and result['class_precision'][0] == 1.0
  assert result['class_frechet_distance'][2:] == [None, None]  # 2 samples, and none: too few for k = 3
