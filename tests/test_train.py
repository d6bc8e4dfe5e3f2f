"""Algorithm 1: key threading, determinism, k D-steps per G-step, scan, simultaneous rule."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import gan_jax
from conftest import make_batchnorm_toy_gan, make_paper_mnist_gan, make_toy_gan, tree_max_abs_diff, trees_equal
from gan_jax import losses, train


def _real_batches(key, *shape):
  return jax.random.normal(key, shape) + 2.0


def _update_count(opt_state) -> int:
  return int(opt_state.count)


def test_same_state_and_key_give_bit_identical_results():
  gan, state = make_toy_gan()
  batches = _real_batches(jax.random.key(1), 1, 32, 2)
  step_a = jax.jit(functools.partial(gan_jax.train_step, gan))
  step_b = jax.jit(functools.partial(gan_jax.train_step, gan))  # compiled separately
  out_a = step_a(state, batches, jax.random.key(7))
  out_b = step_b(state, batches, jax.random.key(7))
  assert trees_equal(out_a, out_b)


def test_paper_model_step_is_bit_identical_across_calls():
  gan, state = make_paper_mnist_gan(hidden=(64, 64), maxout_units=(32, 32))
  batches = jax.random.uniform(jax.random.key(1), (1, 16, 784))
  step = jax.jit(functools.partial(gan_jax.train_step, gan))
  assert trees_equal(step(state, batches, jax.random.key(3)), step(state, batches, jax.random.key(3)))


def test_different_keys_give_different_samples_and_updates():
  gan, state = make_toy_gan()
  batches = _real_batches(jax.random.key(1), 1, 32, 2)
  s1, _ = gan_jax.train_step(gan, state, batches, jax.random.key(1))
  s2, _ = gan_jax.train_step(gan, state, batches, jax.random.key(2))
  assert tree_max_abs_diff(s1.g_params, s2.g_params) > 0
  assert tree_max_abs_diff(s1.d_params, s2.d_params) > 0
  x1 = gan_jax.sample(gan, state.g_params, jax.random.key(1), 8)
  x2 = gan_jax.sample(gan, state.g_params, jax.random.key(2), 8)
  assert float(jnp.abs(x1 - x2).min()) > 0


def test_consecutive_iterations_use_fresh_keys():
  """The same base key at two different steps must draw different noise."""
  gan, state = make_toy_gan(optimizer=optax.sgd(0.0))  # parameters never move
  batches = _real_batches(jax.random.key(1), 1, 32, 2)
  state1, metrics0 = gan_jax.train_step(gan, state, batches, jax.random.key(0))
  _, metrics1 = gan_jax.train_step(gan, state1, batches, jax.random.key(0))
  assert trees_equal(state1.g_params, state.g_params)
  assert float(metrics0['d_fake']) != float(metrics1['d_fake'])


def test_k3_does_three_discriminator_updates_and_one_generator_update():
  gan, state = make_toy_gan(d_steps=3)
  batches = _real_batches(jax.random.key(1), 3, 16, 2)
  key = jax.random.key(5)
  new_state, _ = gan_jax.train_step(gan, state, batches, key)
  assert int(new_state.step) == 1
  assert _update_count(new_state.d_opt_state) == 3
  assert _update_count(new_state.g_opt_state) == 1

  # The same iteration, written out: D on minibatches 0, 1, 2 with fresh keys, then G.
  keys = jax.random.split(jax.random.fold_in(key, state.step), 4)
  manual = state
  for i in range(3):
    manual, _ = gan_jax.d_step(gan, manual, batches[i], keys[i])
  manual, _ = gan_jax.g_step(gan, manual, keys[3], 16)
  assert tree_max_abs_diff(manual.d_params, new_state.d_params) < 1e-6
  assert tree_max_abs_diff(manual.g_params, new_state.g_params) < 1e-6

  # Each of the three D updates moved D; G moved once.
  partial = state
  snapshots = [state.d_params]
  for i in range(3):
    partial, _ = gan_jax.d_step(gan, partial, batches[i], keys[i])
    snapshots.append(partial.d_params)
  assert all(tree_max_abs_diff(a, b) > 0 for a, b in zip(snapshots[:-1], snapshots[1:]))


def test_d_step_leaves_generator_untouched_and_g_step_leaves_discriminator_untouched():
  gan, state = make_toy_gan()
  after_d, _ = gan_jax.d_step(gan, state, _real_batches(jax.random.key(1), 32, 2), jax.random.key(2))
  assert trees_equal(after_d.g_params, state.g_params)
  assert not trees_equal(after_d.d_params, state.d_params)
  after_g, _ = gan_jax.g_step(gan, state, jax.random.key(3), 32)
  assert trees_equal(after_g.d_params, state.d_params)
  assert not trees_equal(after_g.g_params, state.g_params)


def test_d_step_ascends_the_value_function_and_g_step_descends_it():
  """With plain SGD and a small step, one D update raises V̂ and one G update lowers log(1 − D(G(z)))."""
  gan, state = make_toy_gan(optimizer=optax.sgd(1e-2), g_loss='minimax')
  x_real = _real_batches(jax.random.key(1), 256, 2)
  z = jax.random.normal(jax.random.key(2), (256, 4))

  def v_hat(s):
    return losses.value_function(gan.discriminator(s.d_params, x_real, None),
                                 gan.discriminator(s.d_params, gan.generator(s.g_params, z), None))

  after_d, _ = gan_jax.d_step(gan, state, x_real, jax.random.key(3))
  assert float(v_hat(after_d)) > float(v_hat(state))
  after_g, _ = gan_jax.g_step(gan, state, jax.random.key(4), 256)
  assert float(v_hat(after_g)) < float(v_hat(state))


def test_metrics_report_losses_and_discriminator_outputs():
  gan, state = make_toy_gan()
  _, metrics = gan_jax.train_step(gan, state, _real_batches(jax.random.key(1), 1, 32, 2), jax.random.key(0))
  assert set(metrics) == {'d_loss', 'g_loss', 'd_real', 'd_fake', 'd_fake_g'}
  for name in ('d_real', 'd_fake', 'd_fake_g'):
    assert 0.0 < float(metrics[name]) < 1.0
  # J(D) = −½ [mean log D(x) + mean log(1 − D(G(z)))] ≥ 0.
  assert float(metrics['d_loss']) > 0


def test_n_scanned_iterations_equal_n_single_iterations():
  gan, state = make_toy_gan(d_steps=2)
  batches = _real_batches(jax.random.key(1), 5, 2, 16, 2)
  key = jax.random.key(9)
  scanned_state, scanned_metrics = jax.jit(functools.partial(gan_jax.train_steps, gan))(state, batches, key)
  single = jax.jit(functools.partial(gan_jax.train_step, gan))
  loop_state, loop_metrics = state, []
  for i in range(5):
    loop_state, metrics = single(loop_state, batches[i], key)
    loop_metrics.append(metrics)
  assert int(scanned_state.step) == 5
  assert tree_max_abs_diff(scanned_state, loop_state) < 1e-6
  for name in scanned_metrics:
    np.testing.assert_allclose(scanned_metrics[name], [m[name] for m in loop_metrics], rtol=1e-5, atol=1e-7)


def test_simultaneous_rule_uses_one_forward_pass_for_both_players():
  """Against a hand-written version: both gradients at the old parameters, same noise and masks."""
  lr = 0.1
  gan, state = make_paper_mnist_gan(hidden=(32,), maxout_units=(16,), update_rule='simultaneous')
  gan = train.GAN(**{**gan.__dict__, 'g_optimizer': optax.sgd(lr), 'd_optimizer': optax.sgd(lr)})
  state = gan_jax.init_state(gan, state.g_params, state.d_params)
  x_real = jax.random.uniform(jax.random.key(1), (8, 784))
  key = jax.random.key(4)
  new_state, metrics = jax.jit(functools.partial(gan_jax.simultaneous_update, gan))(state, x_real, key)

  z_key, real_key, fake_key = jax.random.split(key, 3)
  examples = jnp.arange(8)  # example i draws its noise and dropout masks from keys folded with i
  z = jax.vmap(lambda i: gan.prior.sample(jax.random.fold_in(z_key, i), 1)[0])(examples)

  def logits(d_params, x, dropout_key):
    return jax.vmap(lambda x_i, i: gan.discriminator(d_params, x_i[None], jax.random.fold_in(dropout_key, i))[0])(
        x, examples)

  def d_loss(d_params):
    return losses.discriminator_loss(logits(d_params, x_real, real_key),
                                     logits(d_params, gan.generator(state.g_params, z), fake_key))

  def g_loss(g_params):
    return losses.non_saturating_generator_loss(logits(state.d_params, gan.generator(g_params, z), fake_key))

  (d_value, d_grad), (g_value, g_grad) = (jax.jit(jax.value_and_grad(loss))(params) for loss, params in (
      (d_loss, state.d_params), (g_loss, state.g_params)))
  expected_d = jax.tree.map(lambda p, g: p - lr * g, state.d_params, d_grad)
  expected_g = jax.tree.map(lambda p, g: p - lr * g, state.g_params, g_grad)
  assert tree_max_abs_diff(new_state.d_params, expected_d) < 1e-6
  assert tree_max_abs_diff(new_state.g_params, expected_g) < 1e-6
  np.testing.assert_allclose(metrics['d_loss'], d_value, rtol=1e-5)
  np.testing.assert_allclose(metrics['g_loss'], g_value, rtol=1e-5)


def test_simultaneous_and_alternating_rules_differ():
  """Alternating: G's update sees the already-updated D; simultaneous: the old one."""
  batches = _real_batches(jax.random.key(1), 1, 32, 2)
  results = []
  for rule in ('alternating', 'simultaneous'):
    gan, state = make_toy_gan(update_rule=rule)
    results.append(gan_jax.train_step(gan, state, batches, jax.random.key(0))[0])
  assert tree_max_abs_diff(results[0].g_params, results[1].g_params) > 0
  assert int(results[1].step) == 1
  assert _update_count(results[1].d_opt_state) == _update_count(results[1].g_opt_state) == 1


@pytest.mark.parametrize('kwargs, message', [
    ({'d_steps': 0}, r'd_steps=0 must be a positive integer'),
    ({'g_loss': 'hinge'}, r"g_loss='hinge'.*allowed: \['minimax', 'non_saturating'\]"),
    ({'update_rule': 'lookahead'}, r"update_rule='lookahead'.*\['alternating', 'simultaneous'\]"),
    ({'update_rule': 'simultaneous', 'd_steps': 2}, r'needs d_steps=1'),
])
def test_invalid_game_definitions_are_rejected_with_the_field_named(kwargs, message):
  with pytest.raises(ValueError, match=message):
    make_toy_gan(**kwargs)


def test_wrong_number_of_minibatches_is_a_clear_error():
  gan, state = make_toy_gan(d_steps=3)
  with pytest.raises(ValueError, match=r'leading dimension 1; expected d_steps=3'):
    gan_jax.train_step(gan, state, _real_batches(jax.random.key(0), 1, 8, 2), jax.random.key(0))


def test_first_step_golden_values():
  """Pins the numbers of the first iteration (same machine, same versions): any change to
  the math, the key derivation or the initialisation shows up here."""
  gan, state = make_toy_gan(seed=0)
  batches = _real_batches(jax.random.key(1), 1, 32, 2)
  _, metrics = jax.jit(functools.partial(gan_jax.train_step, gan))(state, batches, jax.random.key(0))
  assert sorted(metrics) == sorted(GOLDEN_FIRST_STEP)
  for name, expected in GOLDEN_FIRST_STEP.items():
    np.testing.assert_allclose(float(metrics[name]), expected, rtol=1e-5, err_msg=name)


GOLDEN_FIRST_STEP = {'d_fake': 0.45388427, 'd_fake_g': 0.45231345, 'd_loss': 0.39237833,
                     'd_real': 0.84476775, 'g_loss': 0.80160058}


def test_one_discriminator_pass_over_real_and_fake_equals_two_separate_passes():
  """The D step's fused pass (2m rows, one set of matmuls) against the reference: two passes of m."""
  gan, state = make_paper_mnist_gan(hidden=(64,), maxout_units=(32,))
  x_real = jax.random.uniform(jax.random.key(1), (16, 784))
  x_fake = jax.random.uniform(jax.random.key(2), (16, 784))
  real_key, fake_key = jax.random.key(3), jax.random.key(4)
  fused_real, fused_fake = train._discriminate_real_and_fake(gan, state.d_params, x_real, x_fake, real_key, fake_key)
  separate_real = train._discriminate(gan, state.d_params, x_real, real_key)
  separate_fake = train._discriminate(gan, state.d_params, x_fake, fake_key)
  np.testing.assert_allclose(fused_real, separate_real, rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(fused_fake, separate_fake, rtol=1e-6, atol=1e-7)
  assert float(jnp.abs(fused_real - gan.discriminator(state.d_params, x_real, None)).max()) > 0  # dropout on


def test_the_generator_average_follows_its_recursion_and_never_feeds_back():
  beta = 0.75
  averaged, state = make_toy_gan(g_ema_decay=beta)
  plain, _ = make_toy_gan()
  assert plain.g_ema_decay == 0 and gan_jax.init_state(plain, state.g_params, state.d_params).g_params_ema is None
  batches = _real_batches(jax.random.key(1), 2, 1, 32, 2)
  expected = state.g_params
  plain_state = gan_jax.init_state(plain, state.g_params, state.d_params)
  for i in range(2):
    state, _ = gan_jax.train_step(averaged, state, batches[i], jax.random.key(0))
    plain_state, _ = gan_jax.train_step(plain, plain_state, batches[i], jax.random.key(0))
    expected = jax.tree.map(lambda e, g: beta * e + (1 - beta) * g, expected, state.g_params)
  assert tree_max_abs_diff(state.g_params_ema, expected) == 0
  assert trees_equal(state.g_params, plain_state.g_params)  # the average changes nothing else


def test_init_state_copies_the_parameters_so_donation_leaves_the_callers_arrays():
  gan, state = make_toy_gan()
  g_params, d_params = state.g_params, state.d_params
  before = jax.tree.map(np.array, (g_params, d_params))
  step = jax.jit(functools.partial(gan_jax.train_step, gan), donate_argnums=0)
  step(gan_jax.init_state(gan, g_params, d_params), _real_batches(jax.random.key(1), 1, 32, 2), jax.random.key(0))
  # Reading a donated buffer raises "Buffer has been deleted or donated"; the caller's arrays are intact.
  for leaf, copy in zip(jax.tree.leaves((g_params, d_params)), jax.tree.leaves(before)):
    np.testing.assert_array_equal(np.asarray(leaf), copy)


def test_the_average_warmup_caps_beta_by_the_step():
  gan, state = make_toy_gan(g_ema_decay=0.9999, g_ema_warmup=10.0)
  assert float(train.average_decay(gan, jnp.asarray(0))) == pytest.approx(0.1)
  assert float(train.average_decay(gan, jnp.asarray(990))) == pytest.approx(0.991)
  assert float(train.average_decay(gan, jnp.asarray(10**6))) == pytest.approx(0.9999)
  assert train.average_decay(make_toy_gan(g_ema_decay=0.9999)[0], jnp.asarray(0)) == 0.9999
  c4 = make_toy_gan(g_ema_decay=0.9999, g_ema_warmup=4.0)[0]
  assert float(train.average_decay(c4, jnp.asarray(2))) == pytest.approx(3 / 6)
  # Iterations 0 and 1 use β = 0.1 and 2/11: the initial weights keep 0.1 · 2/11 of the average.
  batches = _real_batches(jax.random.key(1), 2, 1, 32, 2)
  expected = state.g_params
  for i, beta in enumerate((0.1, 2 / 11)):
    state, _ = gan_jax.train_step(gan, state, batches[i], jax.random.key(0))
    expected = jax.tree.map(lambda e, g, b=beta: b * e + (1 - b) * g, expected, state.g_params)
  assert tree_max_abs_diff(state.g_params_ema, expected) < 1e-6


def test_the_warmup_with_c_2_keeps_the_plain_mean_of_all_iterates():
  gan, state = make_toy_gan(g_ema_decay=0.9999, g_ema_warmup=2.0)
  iterates = [state.g_params]
  batches = _real_batches(jax.random.key(2), 5, 1, 32, 2)
  for batch in batches:
    state, _ = gan_jax.train_step(gan, state, batch, jax.random.key(0))
    iterates.append(state.g_params)
  mean = jax.tree.map(lambda *leaves: sum(leaves) / len(leaves), *iterates)
  # Five float32 recursions against one float32 sum of six terms: a few ulps of values of size ~1.
  assert tree_max_abs_diff(state.g_params_ema, mean) < 1e-5


@pytest.mark.parametrize('decay, warmup, message', [(0.999, 1.5, 'g_ema_warmup=1.5 must be 0'),
                                                    (0.0, 10.0, 'needs an average: set g_ema_decay > 0')])
def test_a_warmup_below_2_or_without_an_average_is_refused(decay, warmup, message):
  with pytest.raises(ValueError, match=message):
    make_toy_gan(g_ema_decay=decay, g_ema_warmup=warmup)


# ---------------------------------------------------------------- packing (PacGAN)

def test_pack_examples_joins_groups_along_the_last_axis_of_an_example():
  vectors = jnp.arange(8.0).reshape(4, 2)
  np.testing.assert_array_equal(train.pack_examples(vectors, 2), [[0, 1, 2, 3], [4, 5, 6, 7]])
  assert train.pack_examples(vectors, 1) is vectors
  images = jnp.arange(24.0).reshape(4, 3, 2, 1)  # 4 images, H 3, W 2, C 1
  packed = train.pack_examples(images, 2)
  assert packed.shape == (2, 3, 2, 2)
  for group, first in ((0, 0), (1, 2)):  # channel c of packed image i is image 2i + c
    np.testing.assert_array_equal(packed[group, ..., 0], images[first, ..., 0])
    np.testing.assert_array_equal(packed[group, ..., 1], images[first + 1, ..., 0])
  # Images fed flat are packed by their layout: the flat form of the same packed images.
  flat = train.pack_examples(images.reshape(4, 6), 2, example_shape=(3, 2, 1))
  np.testing.assert_array_equal(flat, packed.reshape(2, 12))
  with pytest.raises(ValueError, match='4 examples cannot be packed in groups of pack=3'):
    train.pack_examples(vectors, 3)


def test_a_packed_discriminator_judges_consecutive_pairs():
  gan, state = make_toy_gan(pack=2)  # D takes 4 features: two points
  x_real = _real_batches(jax.random.key(3), 32, 2)
  _, metrics = jax.jit(functools.partial(gan_jax.d_step, gan))(state, x_real, jax.random.key(0))
  pairs = x_real.reshape(16, 4)
  expected = jnp.mean(jax.nn.sigmoid(gan.discriminator(state.d_params, pairs, None)))
  # The step applies D pair by pair, this check on all 16 at once: float32 rounding of the same sums (~1e-7).
  assert float(metrics['d_real']) == pytest.approx(float(expected), rel=1e-5)


# ---------------------------------------------------------------- a generator with state (batch norm)

@pytest.mark.parametrize('update_rule', ['simultaneous', 'alternating'])
def test_a_batch_norm_generator_carries_its_state_through_the_steps(update_rule):
  gan, state = make_batchnorm_toy_gan(update_rule=update_rule)
  batches = _real_batches(jax.random.key(3), 4, 1, 32, 2)
  scanned, scanned_metrics = jax.jit(functools.partial(gan_jax.train_steps, gan))(state, batches, jax.random.key(0))
  assert int(scanned.step) == 4
  # Each training pass of G moves the running means by 0.05 of the way: four iterations of one pass
  # (simultaneous) or two (alternating: D's update and G's) leave 1 − 0.95^passes of a batch mean.
  passes = 4 if update_rule == 'simultaneous' else 8
  means = [np.abs(np.asarray(layer['running_mean'])) for layer in scanned.g_state['norms'].values()]
  assert all(m.max() > 0 for m in means)
  # s̄ = 0.95^passes · 1 + Σ 0.05 · 0.95^j · s_j with batch stds s_j ≈ 0.03 (N(0, 0.02²) weights on 2-D z).
  stds = np.asarray(scanned.g_state['norms'][0]['running_std'])
  kept = 0.95 ** passes
  assert np.all(stds > kept) and np.all(stds < kept + 0.5 * (1 - kept))  # every batch std below 0.5
  assert np.isfinite(np.asarray(scanned_metrics['g_loss'])).all()
  variables = gan_jax.train.generator_variables(gan, scanned.g_params, scanned.g_state)
  assert gan_jax.sample(gan, variables, jax.random.key(5), 7).shape == (7, 2)


def test_init_state_wants_g_state_exactly_for_a_generator_with_state():
  gan, state = make_batchnorm_toy_gan()
  with pytest.raises(ValueError, match='g_state must be given exactly when'):
    gan_jax.init_state(gan, state.g_params, state.d_params)
  plain, plain_state = make_toy_gan()
  with pytest.raises(ValueError, match='g_state must be given exactly when'):
    gan_jax.init_state(plain, plain_state.g_params, plain_state.d_params, state.g_state)


@pytest.mark.slow
def test_small_gan_learns_the_mean_and_std_of_a_1d_gaussian():
  """p_data = N(3, 0.5²); p_g starts near N(0, ·) and must end within 0.1 in mean and std.

  Non-saturating loss, Adam, D's learning rate 10× G's: with equal rates D
  lags behind G and p_g settles on the right mean with the wrong spread.
  """
  mean, std, steps = 3.0, 0.5, 3000
  rngs = nnx.Rngs(0)
  g_apply, g_params = gan_jax.as_pure_function(gan_jax.MLPGenerator(
      4, (32, 32), 1, output_activation='identity', init_range=None, rngs=rngs))
  d_apply, d_params = gan_jax.as_pure_function(gan_jax.MLPDiscriminator(1, (32, 32), rngs=rngs))
  gan = gan_jax.GAN(
      g_apply, d_apply, gan_jax.NoisePrior('gaussian', 4),
      g_optimizer=gan_jax.optim.adam(optax.cosine_decay_schedule(5e-4, steps, alpha=0.05)),
      d_optimizer=gan_jax.optim.adam(optax.cosine_decay_schedule(5e-3, steps, alpha=0.05)))
  state = gan_jax.init_state(gan, g_params, d_params)
  x0 = gan_jax.sample(gan, state.g_params, jax.random.key(3), 10_000)
  assert abs(float(x0.mean()) - mean) > 2.0

  batches = mean + std * jax.random.normal(jax.random.key(1), (steps, 1, 512, 1))
  state, metrics = jax.jit(functools.partial(gan_jax.train_steps, gan))(state, batches, jax.random.key(2))
  x = gan_jax.sample(gan, state.g_params, jax.random.key(3), 10_000)
  assert abs(float(x.mean()) - mean) <= 0.1
  assert abs(float(x.std()) - std) <= 0.1
  assert abs(float(metrics['d_real'][-100:].mean()) - 0.5) < 0.05  # near the equilibrium D ≈ ½


def test_the_mean_over_one_device_is_the_tree_itself_without_an_all_reduce_and_over_eight_the_mean(eight_devices):
  average = lambda x: train.mean_over_devices({'g': x}, 'batch')
  one = jax.pmap(average, axis_name='batch', devices=eight_devices[:1])
  x = jnp.arange(3.0)[None]
  assert 'all_reduce' not in one.lower(x).as_text()  # XLA would copy every leaf for it (docs/performance.md)
  assert trees_equal(one(x), {'g': x})
  eight = jax.pmap(average, axis_name='batch', devices=eight_devices)
  xs = jnp.arange(24.0).reshape(8, 3)
  np.testing.assert_array_equal(eight(xs)['g'], np.broadcast_to(xs.mean(axis=0), (8, 3)))  # small integers: exact
  assert train.mean_over_devices({'g': x}, None)['g'] is x
