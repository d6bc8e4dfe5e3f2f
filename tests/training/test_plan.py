"""Config checks (plan.validate), the plan of a run, and resuming with a compatible config."""

import json
import pathlib

import pytest

from conftest import trees_equal
from experiments import cli
from gan_jax import losses, priors, train
from gan_jax.configs import base, gauss1d
from gan_jax.reports import stored_runs
from gan_jax.training import construction, loop, plan
from idx_files import write_mnist_idx
from tiny_runs import tiny_config


@pytest.mark.parametrize('name, value, message', [
    ('update_rule', 'both', "config.update_rule='both' is not allowed; allowed: ['alternating', 'simultaneous']"),
    ('prior', 'laplace', "config.prior='laplace' is not allowed; allowed: ['uniform', 'gaussian']"),
    ('model', 'resnet', "config.model='resnet' is not allowed; allowed: ['mlp', 'maxout', 'conv_maxout']"),
    ('momentum', 1.0, 'config.momentum=1.0 must be in [0, 1)'),
    ('lr_decay_factor', 0.99, 'config.lr_decay_factor=0.99 must be a finite number >= 1 (1 = no decay)'),
    ('g_hidden_dims', (), 'config.g_hidden_dims=() must be a non-empty sequence of positive integers'),
    ('seed', -1, 'config.seed=-1 must be a non-negative integer'),
    ('d_input_keep', 0.0, 'config.d_input_keep=0.0 must be a keep probability in (0, 1]'),
    ('matmul_precision', 'highest', "config.matmul_precision='highest' is not allowed; "
                                    "allowed: ['default', 'tensorfloat32', 'bfloat16', 'float32']"),
    ('checkpoint_every_steps', 150, 'config.checkpoint_every_steps=150 must be a multiple of config.steps_per_call=100'),
])
def test_validate_names_the_field_and_the_allowed_values(name, value, message):
  config = gauss1d.get_config()
  config[name] = value
  with pytest.raises(plan.ConfigError) as error:
    plan.validate(config)
  assert str(error.value) == message


@pytest.mark.parametrize('field, registry', [
    ('optimizer', construction.OPTIMIZERS), ('lr_schedule', construction.LR_SCHEDULES),
    ('model', construction.DISCRIMINATORS), ('g_output', construction.GENERATORS),
    ('g_loss', losses.GENERATOR_LOSSES), ('prior', dict.fromkeys(priors.PRIOR_NAMES)),
    ('objective', construction.OBJECTIVES),
])
def test_the_allowed_values_are_the_registry_keys(field, registry):
  config = gauss1d.get_config()
  config[field] = 'nope'
  with pytest.raises(plan.ConfigError) as error:
    plan.validate(config)
  assert str(error.value) == f"config.{field}='nope' is not allowed; allowed: {sorted(registry) if field == 'g_loss' else list(registry)}"


def test_game_rules_are_the_same_for_the_config_and_the_python_api():
  config = gauss1d.get_config()
  config.update(update_rule='simultaneous', d_steps=2)
  with pytest.raises(plan.ConfigError) as from_config:
    plan.validate(config)
  with pytest.raises(ValueError) as from_api:
    train.check_game(2, 'simultaneous', 0.0)
  assert str(from_config.value) == f'config.{from_api.value}'


def test_a_warmup_below_2_is_refused_by_the_config_check_with_the_field_named():
  config = gauss1d.get_config()
  config.update(g_ema_decay=0.999, g_ema_warmup=1.0)  # what --config.g_ema_warmup=True now parses to
  with pytest.raises(plan.ConfigError, match=r'config\.g_ema_warmup=1\.0 must be 0 \(off\) or a number c >= 2'):
    plan.validate(config)


@pytest.mark.parametrize('saved, c', [(True, 10.0), (False, 0.0), (4.0, 4.0)])
def test_a_saved_run_with_the_warmup_as_on_or_off_reads_as_c_10_or_0(saved, c):
  assert base.from_saved({'g_ema_warmup': saved, 'g_ema_decay': 0.99998}).g_ema_warmup == c


@pytest.mark.parametrize('overrides, message', [
    (dict(g_batch_norm=True, g_output='deconv'), "config.g_batch_norm=True needs g_output='dense'"),
    (dict(g_batch_norm=True, g_output_bias_from_data=True), 'config.g_output_bias_from_data=True is not allowed'),
    (dict(init_distribution='gaussian'), 'config.init_distribution'),
    (dict(adam_b1=1.0), r'config.adam_b1=1.0 must be in \[0, 1\)'),
    (dict(pack=0), r'config.pack=0 must be a positive integer'),
    (dict(pack=-2), r'config.pack=-2 must be a positive integer'),
    (dict(pack=3, batch_size=64), r"config.pack=3 must divide each device's share of the minibatch, "
                                  r'config.batch_size=64 / 1 device\(s\) = 64'),
    (dict(d_hidden_activation='tanh'), r"config.d_hidden_activation='tanh' is not allowed; "
                                       r"allowed: \['leaky_relu', 'relu', 'sigmoid'\]"),
    (dict(g_hidden_activations=('leaky_relu',)), r"config.g_hidden_activations=\('leaky_relu',\) must be \(\) "
                                                 r"\(all ReLU\) or name one of \['leaky_relu', 'relu', 'sigmoid'\] "
                                                 r'for each of the 2 g_hidden_dims'),
    (dict(g_hidden_activations=('tanh', 'relu')), r"config.g_hidden_activations=\('tanh', 'relu'\) must be \(\) "
                                                   r"\(all ReLU\) or name one of"),
    (dict(model='maxout', d_hidden_activation='leaky_relu'),
     r"config.d_hidden_activation='leaky_relu' needs model='mlp' \(model='maxout' has maxout units\)")])
def test_the_batch_norm_init_packing_and_activation_fields_are_checked_with_the_field_named(overrides, message):
  config = gauss1d.get_config()
  config.update(**overrides)
  with pytest.raises(plan.ConfigError, match=message):
    plan.validate(config)


def _bad_config_cases(tmp: pathlib.Path):
  """(config overrides of gauss1d, the one-line message): rejected by loop.run before any compute."""
  malformed = tmp / 'malformed'
  write_mnist_idx(malformed)
  (malformed / 'train-images-idx3-ubyte.gz').write_bytes(b'\x1f\x8b garbage')
  labelled = tmp / 'labelled'
  write_mnist_idx(labelled)  # labels 0 … 9
  return [
      (dict(dataset='imagenet'), "config.dataset='imagenet' is not a dataset; allowed: ['mnist', 'fashion_mnist', "
                                 "'cifar10'], ['gauss1d', 'toy_ring', 'toy_grid'], 'tfds:NAME[:CONFIG]', 'idx:DIR', "),
      (dict(dataset=f'idx:{tmp / "nowhere"}'), f"dataset='idx:{tmp / 'nowhere'}': {tmp / 'nowhere'} "
                                               'is not a directory'),
      (dict(dataset=f'idx:{malformed}'), f'cannot read IDX file {malformed / "train-images-idx3-ubyte.gz"}'),
      (dict(batch_size=0), 'config.batch_size=0 must be a positive integer'),
      (dict(num_steps=-5), 'config.num_steps=-5 must be a positive integer'),
      (dict(d_steps=0), 'config.d_steps=0 must be a positive integer'),
      (dict(keep_checkpoints=-1), 'config.keep_checkpoints=-1 must be a non-negative integer (0 = keep every one)'),
      (dict(learning_rate=0.0), 'config.learning_rate=0.0 must be a positive number'),
      (dict(learning_rate=-0.1), 'config.learning_rate=-0.1 must be a positive number'),
      (dict(g_loss='hinge'), "config.g_loss='hinge' is not allowed; allowed: ['minimax', 'non_saturating']"),
      (dict(optimizer='lion'), "config.optimizer='lion' is not allowed; allowed: ['sgd_momentum', 'adam', "
                               "'rmsprop']"),
      (dict(batch_size=12), 'config.batch_size=12: a minibatch of 12 examples does not divide over 8 devices; '
                            'use a multiple of 8'),
      (dict(d_steps=200, batch_size=512), "config.d_steps=200 minibatches per iteration exceed the 195 minibatches "
                                          "of one epoch of 'gauss1d'; lower d_steps or batch_size, or use more data"),
      (dict(eval_every_steps=3), "config.eval_every_steps=3 (the Parzen monitor) needs an image dataset, not "
                                   "'gauss1d'; use 0"),
      (dict(dataset='mnist', data_dir=str(tmp / 'empty_tfds')),
       "dataset='mnist': TFDS could not read or download the 'train' split"),
      (dict(eval_best_max_frechet=2.5), 'config.eval_best_max_frechet=2.5 is a bar on a classifier metric: set '
                                        'config.eval_classifier_dir'),
      (dict(eval_best_by='validation_recall'), "config.eval_best_by='validation_recall' is not allowed; allowed: "
                                               "['validation_ll', 'validation_frechet_distance']"),
      (dict(eval_best_by='validation_frechet_distance'), "config.eval_best_by='validation_frechet_distance' is a "
                                                         'classifier metric: set config.eval_classifier_dir'),
      (dict(eval_best_min_ll=float('nan')), 'config.eval_best_min_ll=nan must be a number (nats; 0 = no bar)'),
      (dict(eval_best_min_recall=1.5, eval_classifier_dir=str(tmp)), 'config.eval_best_min_recall=1.5 must be at '
                                                                    'most 1 (recall is a fraction)'),
      (dict(eval_classifier_dir=str(tmp)), f'config.eval_classifier_dir={str(tmp)!r} is for the validation '
                                           'monitor, which config.eval_every_steps=0 turns off'),
      (dict(eval_classifier_dir=str(tmp), eval_every_steps=3), f'config.eval_classifier_dir={str(tmp)!r} holds no '
                                                               'classifier.json: not a classifier written by '
                                                               f'experiments.train_classifier --workdir {tmp} (train '
                                                               'one there first)'),
      (dict(num_classes=-1), 'config.num_classes=-1 must be a non-negative integer (0: an unconditional game)'),
      (dict(num_classes=2, pack=2), 'config.num_classes=2 (a conditional game) is not allowed with pack=2; use pack=1'),
      (dict(num_classes=10), "config.num_classes=10 (a conditional GAN) needs labelled training examples; "
                             "dataset='gauss1d' has none"),
      (dict(num_classes=5, dataset=f'idx:{labelled}'), f"config.num_classes=5: the labels of dataset='idx:{labelled}' "
                                                       'run from 0 to 9, outside [0, 5)'),
      (dict(objective='diffusion'), "config.objective='diffusion' is not allowed; allowed: ['gan', 'vae']"),
      (dict(objective='vae'), "config.objective='vae' models pixels in [0, 1] as Bernoulli probabilities; it needs "
                              "an image dataset, not 'gauss1d'"),
      (dict(objective='vae', prior='uniform'), "config.prior='uniform' is not allowed with objective='vae'; a VAE "
                                               "needs prior='gaussian'"),
      (dict(objective='vae', d_steps=2), "config.d_steps=2 is not allowed with objective='vae'; a VAE needs "
                                         'd_steps=1'),
      (dict(objective='vae', g_ema_decay=0.9), "config.g_ema_decay=0.9 is not allowed with objective='vae'"),
      (dict(objective='vae', num_classes=10, dataset=f'idx:{labelled}'),
       "config.num_classes=10 is not allowed with objective='vae'; a VAE needs num_classes=0"),
  ]


def test_bad_configs_fail_before_compute_with_one_line(tmp_path):
  for overrides, message in _bad_config_cases(tmp_path):
    workdir = tmp_path / 'run'
    with pytest.raises(cli.BAD_INPUT) as error:
      loop.run(tiny_config(gauss1d.get_config(), **overrides), workdir, print_fn=lambda _: None)
    assert str(error.value).startswith(message), (overrides, str(error.value))
    assert '\n' not in str(error.value)
    assert not (workdir / 'checkpoints').exists(), overrides


@pytest.mark.slow
def test_a_scan_longer_than_an_epoch_is_shortened_with_a_note_and_trains_the_same(tmp_path):
  """steps_per_call only sets how many iterations one compiled call fuses: the plan shortens it to fit an epoch
  (to a divisor, so checkpoints stay on chunk ends) and says so; the iterations are those of any chunk length."""
  small_epochs = dict(batch_size=512, num_steps=250, checkpoint_every_steps=250, sample_every_steps=250)
  lines = []
  adapted = loop.run(tiny_config(gauss1d.get_config(), steps_per_call=250, **small_epochs), tmp_path / 'a',
                     print_fn=lines.append)
  assert lines[0] == ("note: config.steps_per_call=250 × d_steps=1 minibatches exceed the 195 minibatches of one "
                      "epoch of 'gauss1d'; this run fuses 125 iterations per compiled call instead (the same "
                      "training, in shorter calls)")
  assert [json.loads(line)['step'] for line in (tmp_path / 'a' / 'metrics.jsonl').read_text().splitlines()] == [
      125, 250]
  loop.run(tiny_config(gauss1d.get_config(), steps_per_call=125, **small_epochs), tmp_path / 'b', print_fn=lambda _: None)
  assert trees_equal(*(stored_runs.restore_run(tmp_path / name)[3] for name in ('a', 'b')))
  assert adapted['step'] == 250


def test_resuming_with_a_different_run_defining_field_is_rejected(tmp_path):
  loop.run(tiny_config(gauss1d.get_config()), tmp_path, print_fn=lambda _: None)
  with pytest.raises(plan.ConfigError, match=r'config.latent_dim=8 differs from 4 of the run in'):
    loop.run(tiny_config(gauss1d.get_config(), latent_dim=8), tmp_path, print_fn=lambda _: None)


def test_a_run_kept_by_one_best_rule_is_not_resumed_under_another(tmp_path):
  """Its best checkpoints are ranked by the rule's score (an old run's, saved without the field, by Parzen)."""
  saved = base.from_saved({name: value for name, value in gauss1d.get_config().to_dict().items()
                           if name != 'eval_best_by'})
  config = gauss1d.get_config()
  plan.check_resume_compatible(config.to_dict(), saved, tmp_path)
  config.eval_best_by = 'validation_frechet_distance'
  with pytest.raises(plan.ConfigError, match="config.eval_best_by='validation_frechet_distance' differs from "
                                             "'validation_ll' of the run in"):
    plan.check_resume_compatible(config.to_dict(), saved, tmp_path)


def test_the_best_rule_ranks_by_its_score_in_its_direction_and_never_keeps_a_nan():
  spec = lambda best_by: plan.EvaluationSpec(every_steps=1, num_samples=1, num_validation=1, classifier_dir='C',
                                             best_by=best_by, best_min_ll=0.0, best_max_frechet=0.0,
                                             best_min_recall=0.0)
  scores = lambda ll, fd: {'validation_ll': ll, 'validation_frechet_distance': fd, 'validation_recall': 0.5}
  by_parzen, by_frechet = spec('validation_ll'), spec('validation_frechet_distance')
  assert by_parzen.is_new_best(scores(2.0, 9.0), scores(1.0, 1.0))
  assert not by_parzen.is_new_best(scores(1.0, 0.5), scores(2.0, 9.0))
  assert by_frechet.is_new_best(scores(1.0, 0.5), scores(2.0, 9.0))
  assert not by_frechet.is_new_best(scores(2.0, 9.0), scores(1.0, 0.5))
  for rule, nan_scores in ((by_parzen, scores(float('nan'), 1.0)), (by_frechet, scores(1.0, float('nan')))):
    assert not rule.is_new_best(nan_scores, None) and not rule.is_new_best(nan_scores, scores(1.0, 1.0))
