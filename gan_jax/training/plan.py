"""The run plan: a config read and checked once, into the frozen specs that everything below runs from.

A config is an ``ml_collections.ConfigDict`` with exactly the fields of
``configs/base.py`` (``FIELDS``, taken from it). ``validate`` checks every
field before anything is read or compiled: fields that name a choice allow
the keys of its registry (``construction``, ``priors``, ``losses``,
``train.UPDATE_RULES``); the rules of the game itself (k with the update
rule, the weight-average decay) are ``train.check_game``'s, the same that
``train.GAN`` enforces. ``check`` adds the runs' seeds and the configs of
the runs they resume, and returns the ``DataSpec`` (what to read and how).
``make_plan`` then checks what depends on the dataset and turns the config
into a ``RunPlan``: the ``DataSpec``, a ``GameSpec`` (the networks, losses and optimisers), a
``LoopSpec`` (how long, how often to log, picture and checkpoint) and an
``EvaluationSpec`` (the validation monitor). Nothing below this module takes
a ``ConfigDict``. Every refusal is a ``ConfigError`` whose one line names the
field and what is allowed; a field that only sets the speed of the loop
(``steps_per_call``) is adapted instead, with a note saying so.
"""

import dataclasses
import math
import pathlib
from collections.abc import Mapping, Sequence

import ml_collections

from gan_jax import losses, models, parallel, priors, train
from gan_jax.configs import base
from gan_jax.configs.base import ConfigError
from gan_jax.data import datasets, sources
from gan_jax.training import checkpoint, construction, rundir

FIELDS = tuple(base.get_config().keys())
# Fields a resumed run must share with the run that wrote the checkpoints.
RUN_DEFINING_FIELDS = ('dataset', 'objective', 'batch_size', 'seed', 'd_steps', 'update_rule', 'optimizer', 'model',
                       'prior', 'latent_dim', 'g_hidden_dims', 'd_hidden_dims', 'maxout_pieces', 'g_output',
                       'd_conv_channels', 'g_ema_decay', 'g_ema_warmup', 'image_size', 'image_feature', 'train_split',
                       'validation_split', 'g_batch_norm', 'init_distribution', 'pack', 'g_hidden_activations',
                       'd_hidden_activation', 'num_classes', 'eval_best_by')
__all__ = ['ConfigError', 'DataSpec', 'EvaluationSpec', 'FIELDS', 'LoopSpec', 'RUN_DEFINING_FIELDS',
           'RunPlan', 'check', 'check_resume_compatible', 'data_spec', 'game_spec', 'make_plan', 'validate']


# ---------------------------------------------------------------- validation

def _require(condition: bool, message: str) -> None:
  if not condition:
    raise ConfigError(message)


def _is_int(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_positive_ints(config, names) -> None:
  for name in names:
    _require(_is_int(config[name]) and config[name] > 0,
             f'config.{name}={config[name]!r} must be a positive integer')


def _check_one_of(config, name: str, allowed) -> None:
  _require(config[name] in allowed, f'config.{name}={config[name]!r} is not allowed; allowed: {list(allowed)}')


def _check_dims(config, name: str) -> None:
  dims = config[name]
  _require(isinstance(dims, (tuple, list)) and len(dims) > 0 and all(_is_int(d) and d > 0 for d in dims),
           f'config.{name}={dims!r} must be a non-empty sequence of positive integers')


def _check_source_options(config) -> None:
  """The types and ranges of the fields that say how an image source is read (``_check_source`` checks what
  the named source accepts)."""
  for name in ('data_dir', 'image_feature', 'train_split', 'validation_split', 'test_split', 'cache_dir'):
    _require(isinstance(config[name], str), f'config.{name}={config[name]!r} must be a string')
  _require(_is_int(config.image_size) and config.image_size >= 0,
           f'config.image_size={config.image_size!r} must be a non-negative integer (0 = images as stored)')
  _require(_is_number(config.device_memory_mib) and config.device_memory_mib >= 0,
           f'config.device_memory_mib={config.device_memory_mib!r} must be a non-negative number (0 = ask the device)')
  _require(not config.image_size or config.dataset not in datasets.TOY_DATASETS,
           f'config.image_size={config.image_size} applies to image datasets, not {config.dataset!r}; use 0')


def _check_source(dataset: str, tfds_fields: dict[str, str]) -> None:
  """Raises ConfigError unless ``dataset`` names a kind of dataset that takes the TFDS-only ``tfds_fields`` given
  (image_feature and the three split strings, field → value; '' = not given)."""
  try:
    datasets.check_name(dataset)
  except datasets.DataError as error:
    raise ConfigError(str(error)) from None
  is_tfds = dataset not in datasets.TOY_DATASETS and sources.kind_of(dataset)[0] == 'tfds'
  for name, text in tfds_fields.items():
    _require(not text or is_tfds,
             f'config.{name}={text!r} applies to TFDS datasets only, not dataset={dataset!r}; use \'\'')
    if text and name.endswith('_split'):
      try:
        sources.parse_split(text)
      except ValueError as error:
        raise ConfigError(f'config.{name}={error}') from None
  _require(bool(tfds_fields['train_split']) == bool(tfds_fields['validation_split']),
           f"config.train_split={tfds_fields['train_split']!r} and "
           f"validation_split={tfds_fields['validation_split']!r}: "
           "set both, or neither (then the last 1/6 of 'train' is validation)")


def _check_monitor_classifier(config) -> None:
  """The monitor's classifier (a directory from experiments.train_classifier) and the best rule: its ranking
  and its bars."""
  directory = config.eval_classifier_dir
  _require(isinstance(directory, str), f'config.eval_classifier_dir={directory!r} must be a string')
  _check_one_of(config, 'eval_best_by', checkpoint.BEST_RANKINGS)
  _require(config.eval_best_by == 'validation_ll' or directory,
           f'config.eval_best_by={config.eval_best_by!r} is a classifier metric: set config.eval_classifier_dir')
  _require(_is_number(config.eval_best_min_ll),
           f'config.eval_best_min_ll={config.eval_best_min_ll!r} must be a number (nats; 0 = no bar)')
  for name in ('eval_best_max_frechet', 'eval_best_min_recall'):
    _require(_is_number(config[name]) and config[name] >= 0,
             f'config.{name}={config[name]!r} must be a non-negative number (0 = no bar)')
    _require(not config[name] or directory,
             f'config.{name}={config[name]} is a bar on a classifier metric: set config.eval_classifier_dir')
  _require(config.eval_best_min_recall <= 1,
           f'config.eval_best_min_recall={config.eval_best_min_recall!r} must be at most 1 (recall is a fraction)')
  if directory:
    _require(config.eval_every_steps > 0, f'config.eval_classifier_dir={directory!r} is for the validation monitor, '
                                          'which config.eval_every_steps=0 turns off; set eval_every_steps')
    _require((pathlib.Path(directory) / rundir.CLASSIFIER_CONFIG).is_file(),
             f'config.eval_classifier_dir={directory!r} holds no {rundir.CLASSIFIER_CONFIG}: not a classifier '
             f'written by experiments.train_classifier --workdir {directory} (train one there first)')


def _check_vae(config) -> None:
  """A VAE (``objective='vae'``): G's dense network as its decoder, a standard normal prior, one minibatch per
  step, no weight average, no classes."""
  needs = {'prior': 'gaussian', 'd_steps': 1, 'g_ema_decay': 0.0, 'num_classes': 0, 'pack': 1, 'g_output': 'dense',
           'g_batch_norm': False}
  for name, value in needs.items():
    _require(config[name] == value, f"config.{name}={config[name]!r} is not allowed with objective='vae'; "
                                    f'a VAE needs {name}={value!r}')


def _check_fields(config: ml_collections.ConfigDict) -> None:
  """The plan's own rules: every field's type and range, the choices allowed by name, the fields that go
  together."""
  missing = [name for name in FIELDS if name not in config]
  _require(not missing, f'config is missing fields {missing}')
  unknown = sorted(set(config.keys()) - set(FIELDS))
  _require(not unknown, f'config has unknown fields {unknown}; allowed: {list(FIELDS)}')
  _require(isinstance(config.dataset, str), f'config.dataset={config.dataset!r} must be a string')
  _check_source_options(config)
  _check_positive_ints(config, ('batch_size', 'num_steps', 'latent_dim', 'maxout_pieces',
                                'lr_decay_steps', 'steps_per_call', 'checkpoint_every_steps',
                                'sample_every_steps', 'num_shown_samples',
                                'eval_num_samples', 'eval_num_validation', 'pack'))
  _require(_is_int(config.seed) and config.seed >= 0, f'config.seed={config.seed!r} must be a non-negative integer')
  _require(_is_int(config.keep_checkpoints) and config.keep_checkpoints >= 0,
           f'config.keep_checkpoints={config.keep_checkpoints!r} must be a non-negative integer (0 = keep every one)')
  _check_one_of(config, 'objective', list(construction.OBJECTIVES))
  _check_one_of(config, 'g_loss', sorted(losses.GENERATOR_LOSSES))
  _check_one_of(config, 'optimizer', list(construction.OPTIMIZERS))
  _check_one_of(config, 'lr_schedule', list(construction.LR_SCHEDULES))
  _require(config.lr_schedule != 'paper' or config.optimizer == 'sgd_momentum',
           f"config.lr_schedule='paper' needs optimizer='sgd_momentum', not {config.optimizer!r}")
  _require(_is_number(config.lr_decay_factor) and config.lr_decay_factor >= 1,
           f'config.lr_decay_factor={config.lr_decay_factor!r} must be a finite number >= 1 (1 = no decay)')
  _check_one_of(config, 'model', list(construction.DISCRIMINATORS))
  _check_one_of(config, 'prior', priors.PRIOR_NAMES)
  for name in ('learning_rate', 'd_learning_rate_scale', 'log_every_seconds'):
    _require(_is_number(config[name]) and config[name] > 0, f'config.{name}={config[name]!r} must be a positive number')
  for name in ('momentum', 'rmsprop_decay', 'g_ema_decay', 'adam_b1'):
    _require(_is_number(config[name]) and 0 <= config[name] < 1, f'config.{name}={config[name]!r} must be in [0, 1)')
  for name in ('d_input_keep', 'd_hidden_keep'):
    _require(_is_number(config[name]) and 0 < config[name] <= 1,
             f'config.{name}={config[name]!r} must be a keep probability in (0, 1]')
  for name in ('g_init_range', 'd_init_range'):
    _require(_is_number(config[name]) and config[name] >= 0,
             f"config.{name}={config[name]!r} must be >= 0 (0 means Flax's default initialiser)")
  for name in ('g_output_bias_from_data', 'g_batch_norm'):
    _require(isinstance(config[name], bool), f'config.{name}={config[name]!r} must be True or False')
  _require(not config.g_batch_norm or config.g_output == 'dense',
           f"config.g_batch_norm=True needs g_output='dense', not {config.g_output!r}")
  _require(not (config.g_batch_norm and config.g_output_bias_from_data),
           'config.g_output_bias_from_data=True is not allowed with g_batch_norm=True (that generator has no '
           'data-derived output bias); set one of them to False')
  _check_one_of(config, 'init_distribution', list(construction.INIT_DISTRIBUTIONS))
  _check_one_of(config, 'matmul_precision', list(models.MATMUL_PRECISIONS))
  _check_dims(config, 'g_hidden_dims')
  _check_dims(config, 'd_hidden_dims')
  _check_one_of(config, 'g_output', list(construction.GENERATORS))
  activations = tuple(config.g_hidden_activations)
  _require(activations == () or (len(activations) == len(config.g_hidden_dims) and
                                 set(activations) <= set(models.HIDDEN_ACTIVATIONS)),
           f'config.g_hidden_activations={activations!r} must be () (all ReLU) or name one of '
           f'{sorted(models.HIDDEN_ACTIVATIONS)} for each of the {len(config.g_hidden_dims)} g_hidden_dims')
  _check_one_of(config, 'd_hidden_activation', sorted(models.HIDDEN_ACTIVATIONS))
  _require(config.d_hidden_activation == 'relu' or config.model == 'mlp',
           f"config.d_hidden_activation={config.d_hidden_activation!r} needs model='mlp' "
           f"(model={config.model!r} has maxout units); leave it 'relu' there")
  _check_positive_ints(config, ('d_conv_pieces',))
  for name in ('d_conv_channels', 'd_conv_kernels', 'd_pool_shapes', 'd_pool_strides'):
    _check_dims(config, name)
  _require(isinstance(config.d_conv_pads, (tuple, list)) and all(_is_int(p) and p >= 0 for p in config.d_conv_pads),
           f'config.d_conv_pads={config.d_conv_pads!r} must be a sequence of non-negative integers')
  conv_lengths = {len(config[name]) for name in ('d_conv_channels', 'd_conv_kernels', 'd_conv_pads',
                                                  'd_pool_shapes', 'd_pool_strides')}
  _require(len(conv_lengths) == 1, 'config.d_conv_channels, d_conv_kernels, d_conv_pads, d_pool_shapes and '
                                   'd_pool_strides must have one entry per conv layer')
  _require(_is_int(config.eval_every_steps) and config.eval_every_steps >= 0,
           f'config.eval_every_steps={config.eval_every_steps!r} must be a non-negative integer (0 = never)')
  _check_monitor_classifier(config)
  for name in ('checkpoint_every_steps', 'sample_every_steps'):
    _require(config[name] % config.steps_per_call == 0,
             f'config.{name}={config[name]} must be a multiple of config.steps_per_call={config.steps_per_call}')
  if config.objective == 'vae':
    _check_vae(config)


def _check_lower_rules(config: ml_collections.ConfigDict, num_devices: int) -> None:
  """The rules that modules below the plan own: the data source's, data parallelism's, the game's."""
  _check_source(config.dataset, {name: config[name] for name in ('image_feature', 'train_split',
                                                                   'validation_split', 'test_split')})
  try:
    parallel.check_divisible(config.batch_size, num_devices)
  except ValueError as error:
    raise ConfigError(f'config.batch_size={config.batch_size}: {error}') from None
  _require(config.batch_size // num_devices % config.pack == 0,
           f'config.pack={config.pack} must divide each device\'s share of the minibatch, '
           f'config.batch_size={config.batch_size} / {num_devices} device(s) = {config.batch_size // num_devices}')
  try:
    train.check_game(config.d_steps, config.update_rule, config.g_ema_decay, config.g_ema_warmup, config.pack,
                     config.num_classes)
  except ValueError as error:
    raise ConfigError(f'config.{error}') from None


def validate(config: ml_collections.ConfigDict, num_devices: int = 1) -> None:
  """Raises ConfigError for the first field whose value is not allowed; reads no data.

  ``num_devices``: the devices the minibatch is split over (it must divide).
  """
  _check_fields(config)
  _check_lower_rules(config, num_devices)


# ---------------------------------------------------------------- the plan

@dataclasses.dataclass(frozen=True)
class DataSpec:
  """What a run reads and how: the ``dataset`` string, how its source is read, the first ``num_validation``
  validation examples (the monitor's; 0 without it), the global minibatch size m, and one device's memory for
  the fit check (MiB, 0 = ask the device)."""
  dataset: str
  source: sources.SourceOptions
  num_validation: int
  batch_size: int
  device_memory_mib: float


@dataclasses.dataclass(frozen=True)
class LoopSpec:
  """How long a run trains and what it writes when (steps are iterations of Algorithm 1); an epoch is
  ``minibatches_per_epoch`` minibatches (``datasets.minibatches_per_epoch`` of the run's data and devices)."""
  num_steps: int
  steps_per_call: int
  log_every_seconds: float
  checkpoint_every_steps: int
  keep_checkpoints: int
  sample_every_steps: int
  num_shown_samples: int
  minibatches_per_epoch: int


@dataclasses.dataclass(frozen=True)
class EvaluationSpec:
  """The validation monitor: Table 1's Parzen estimate every ``every_steps`` (0 = never) with ``num_samples``
  generator samples against the first ``num_validation`` validation images; with ``classifier_dir`` also the
  classifier metrics against the first ``num_samples`` validation images.

  The best checkpoint is the one ranked best by the score ``best_by`` (a key
  of ``checkpoint.BEST_RANKINGS``: the highest Parzen estimate, or the lowest
  Fréchet distance) among those within the bars ``best_min_ll`` (nats),
  ``best_max_frechet`` and ``best_min_recall`` (0 = no bar).
  """
  every_steps: int
  num_samples: int
  num_validation: int
  classifier_dir: str
  best_by: str
  best_min_ll: float
  best_max_frechet: float
  best_min_recall: float

  def is_new_best(self, scores: Mapping[str, float], best: Mapping[str, float] | None) -> bool:
    """Whether a checkpoint with these validation ``scores`` (the monitor's) is within the bars and ranks above
    ``best``, the scores saved with the best checkpoint kept (None while none is). A NaN or infinite score to
    rank by never does (nothing could rank above a NaN kept as best)."""
    within_bars = (math.isfinite(scores[self.best_by])
                   and (not self.best_min_ll or scores['validation_ll'] >= self.best_min_ll)
                   and (not self.best_max_frechet or scores['validation_frechet_distance'] <= self.best_max_frechet)
                   and (not self.best_min_recall or scores['validation_recall'] >= self.best_min_recall))
    if not within_bars or best is None:
      return within_bars
    score, kept = scores[self.best_by], best[self.best_by]
    return score > kept if checkpoint.BEST_RANKINGS[self.best_by] == 'max' else score < kept


@dataclasses.dataclass(frozen=True)
class RunPlan:
  """Everything a run needs from its config, checked; ``notes`` say what was adapted (one line each).

  ``config`` is the config as a plain mapping, what a run directory's config.json holds.
  """
  data: DataSpec
  game: construction.GameSpec
  loop: LoopSpec
  evaluation: EvaluationSpec
  config: Mapping
  notes: tuple[str, ...] = ()


def _spec(spec_type: type, config: ml_collections.ConfigDict, renamed: Mapping[str, str] | None = None, **given):
  """``spec_type`` from the config fields of its field names (``renamed``: field → config field), the fields in
  ``given`` aside; sequences as tuples."""
  values = dict(given)
  for field in dataclasses.fields(spec_type):
    if field.name not in given:
      value = config[(renamed or {}).get(field.name, field.name)]
      values[field.name] = tuple(value) if isinstance(value, (list, tuple)) else value
  return spec_type(**values)


def data_spec(config: ml_collections.ConfigDict) -> DataSpec:
  """What ``config`` reads (``validate`` it first): enough to load the dataset that ``make_plan`` checks."""
  source = _spec(sources.SourceOptions, config)
  # The monitor scores its samples against eval_num_validation images, and its classifier metrics compare
  # eval_num_samples of them with as many images.
  num_validation = config.eval_num_validation
  if config.eval_classifier_dir:
    num_validation = max(num_validation, config.eval_num_samples)
  return DataSpec(config.dataset, source, num_validation if config.eval_every_steps else 0, config.batch_size,
                  config.device_memory_mib)


def game_spec(config: ml_collections.ConfigDict) -> construction.GameSpec:
  """The game of a validated ``config`` (what ``construction.build`` builds)."""
  return _spec(construction.GameSpec, config)


def check(config: ml_collections.ConfigDict, num_devices: int, seeds: Sequence[int],
          saved_configs: Sequence[ml_collections.ConfigDict | None], workdirs: Sequence) -> DataSpec:
  """Every check a run of ``config`` needs before its data are read; returns what to read.

  ``validate``'s checks, and for each of ``seeds`` (one or more distinct
  non-negative integers) the run in its workdir, whose config
  (``saved_configs``, None for a new run) must match in every run-defining
  field.
  """
  _check_fields(config)
  _require(bool(seeds) and len(set(seeds)) == len(seeds) == len(saved_configs) == len(workdirs)
           and all(_is_int(seed) and seed >= 0 for seed in seeds),
           f'seeds={list(seeds)} must be one or more distinct seeds (non-negative integers), one directory each')
  for seed, saved, workdir in zip(seeds, saved_configs, workdirs):
    check_resume_compatible({**config.to_dict(), 'seed': seed}, saved, workdir)
  data = data_spec(config)
  _check_lower_rules(config, num_devices)
  return data


def _steps_per_call(config: ml_collections.ConfigDict, minibatches_per_epoch: int) -> tuple[int, tuple[str, ...]]:
  """``config.steps_per_call``, or its largest divisor whose k-minibatch iterations fit in one epoch, with a note.

  A speed setting: a chunk of iterations may not reach past the next epoch
  (``datasets.make_minibatch_sampler``), and shorter chunks train the same
  iterations. A divisor keeps the checkpoint and picture steps on chunk ends.
  """
  fitting = [n for n in range(1, config.steps_per_call + 1)
             if config.steps_per_call % n == 0 and n * config.d_steps <= minibatches_per_epoch]
  _require(bool(fitting), f'config.d_steps={config.d_steps} minibatches per iteration exceed the '
                          f'{minibatches_per_epoch} minibatches of one epoch of {config.dataset!r}; lower d_steps or '
                          f'batch_size, or use more data')
  if fitting[-1] == config.steps_per_call:
    return config.steps_per_call, ()
  return fitting[-1], (f'note: config.steps_per_call={config.steps_per_call} × d_steps={config.d_steps} minibatches '
                       f'exceed the {minibatches_per_epoch} minibatches of one epoch of {config.dataset!r}; this run '
                       f'fuses {fitting[-1]} iterations per compiled call instead (the same training, in shorter '
                       f'calls)',)


def _check_labels(num_classes: int, dataset: datasets.Dataset) -> None:
  """A conditional game (``num_classes`` C > 0) needs a label in [0, C) for every training example."""
  if not num_classes:
    return
  labels = dataset.train_labels
  _require(labels.shape[0] == dataset.train.shape[0] and labels.size > 0,
           f'config.num_classes={num_classes} (a conditional GAN) needs labelled training examples; '
           f'dataset={dataset.name!r} has none (labels: TFDS\'s label feature, IDX label files, one subfolder '
           'per class, an .npz array labels or y); use num_classes=0')
  low, high = int(labels.min()), int(labels.max())
  _require(0 <= low and high < num_classes,
           f'config.num_classes={num_classes}: the labels of dataset={dataset.name!r} run from {low} to {high}, '
           f'outside [0, {num_classes}); set num_classes to the number of classes ({high + 1} or more)')


def make_plan(config: ml_collections.ConfigDict, dataset: datasets.Dataset, minibatches_per_epoch: int,
              shards: datasets.Shards = datasets.Shards()) -> RunPlan:
  """The plan of a ``validate``-d config for its dataset; ConfigError if the batch or the monitor does not fit it.

  (Whether the networks fit the data is ``construction.build``'s check.)

  ``dataset`` holds the training examples of ``shards`` (all of them for
  the default, one process with one device); an epoch of them is
  ``minibatches_per_epoch`` global minibatches (``datasets.minibatches_per_epoch``).
  """
  shard_size = dataset.train.shape[0] // shards.count
  _require(config.batch_size <= shard_size * shards.total,
           f'config.batch_size={config.batch_size} exceeds the {shard_size * shards.total} training examples '
           f'of dataset={config.dataset!r}')
  _check_labels(config.num_classes, dataset)
  _require(config.eval_every_steps == 0 or dataset.is_image,
           f'config.eval_every_steps={config.eval_every_steps} (the Parzen monitor) needs an image dataset, '
           f'not {config.dataset!r}; use 0')
  steps_per_call, notes = _steps_per_call(config, minibatches_per_epoch)
  loop = _spec(LoopSpec, config, steps_per_call=steps_per_call, minibatches_per_epoch=minibatches_per_epoch)
  evaluation = _spec(EvaluationSpec, config, dict(
      every_steps='eval_every_steps', num_samples='eval_num_samples', num_validation='eval_num_validation',
      classifier_dir='eval_classifier_dir', best_by='eval_best_by', best_min_ll='eval_best_min_ll',
      best_max_frechet='eval_best_max_frechet', best_min_recall='eval_best_min_recall'))
  return RunPlan(data_spec(config), game_spec(config), loop, evaluation, config.to_dict(), notes)


def check_resume_compatible(config: Mapping, saved: Mapping | None, workdir) -> None:
  """Raises ConfigError if ``saved`` (the config of the run in ``workdir``, ``RunDirectory.saved_config``; None if
  there is none) differs from ``config`` in a run-defining field."""
  if saved is None:
    return
  for name in RUN_DEFINING_FIELDS:
    value = tuple(config[name]) if isinstance(config[name], list) else config[name]
    if saved[name] != value:
      raise ConfigError(f'config.{name}={value!r} differs from {saved[name]!r} of the run in {workdir}; '
                        f'resume with the same value or use a new --workdir')
