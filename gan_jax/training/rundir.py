"""The contracts of a run: every path in its directory, and the named keys derived from its seed.

Everything that writes or reads a run directory asks this module for the
path (the loop, ``experiments.evaluate``, figures, validation curves, sweep
records, the benchmark, the notebooks); no file name is spelled anywhere
else. A run directory (``RunDirectory``)::

  config.json             the config the run was started with (run-defining fields must match to resume)
  devices.json            the device count (a resume on another count sees another data order)
  train.lock              held by the process training there; its pid inside
  metrics.jsonl           one record per chunk of steps: losses, it/s, the monitor's scores
  tensorboard/            the same scalars and the sample pictures as TensorBoard events
  checkpoints/            the latest checkpoints (orbax, one directory per step)
  checkpoints_best/       the checkpoint whose generator scored best on validation data (the monitor)
  checkpoints_best_ema/   the same for the average of G's weights
  monitor_classifier.json the classifier the monitor scored with (its directory and weights' fingerprint):
                          a resume with another one is refused, its Fréchet distances being another space's
  samples/, samples_ema/  step_NNNNNNN.png: the shown samples of each generator
  summary.json            the finished run's summary
  eval*.json              ``experiments.evaluate``'s reports

A sweep directory (``SweepDirectory``) holds one run directory per seed,
``seed_i/``, and the records of the sweep (``sweep[_ema].jsonl``, its table
``sweep[_ema].json``, ``records.lock``).

The generators of a state are named ``raw`` (G as trained) and ``ema`` (the
average of its weights); paths and metric names follow those names.

Keys (``RunKeys``): a run's seed s gives ``split(key(s), 3)`` = (train,
data, sample). ``train`` is the steps' base key (noise and dropout, folded
with the step and each example's index); ``data`` draws the toy training set
and the minibatch order; ``sample`` is the fixed noise of the pictures and
the root of the evaluation keys below, each used for one purpose only.
"""

import dataclasses
import json
import pathlib

import jax
import ml_collections

from gan_jax import train
from gan_jax.configs import base

GENERATORS = train.GENERATORS  # 'raw': G as trained; 'ema': the average of its weights (config.g_ema_decay > 0)

_SUFFIX = {'raw': '', 'ema': '_ema'}  # of the paths and metric names of each generator


# The files that a reader checks for before it reads a run (``experiments``' flag checks).
CONFIG = 'config.json'
METRICS = 'metrics.jsonl'


def suffix(generator: str) -> str:
  """'' for 'raw', '_ema' for 'ema': how a generator's paths and metric names end."""
  return _SUFFIX[generator]


def _path(name: str) -> property:
  """A property: the path ``name`` in the directory's ``root``."""
  return property(lambda directory: directory.root / name)


@dataclasses.dataclass(frozen=True)
class RunDirectory:
  """The paths of one run's directory ``root`` (the module docstring lists them)."""
  root: pathlib.Path

  config = _path(CONFIG)
  devices = _path('devices.json')
  lock = _path('train.lock')
  metrics = _path(METRICS)
  tensorboard = _path('tensorboard')
  checkpoints = _path('checkpoints')
  monitor_classifier = _path('monitor_classifier.json')
  summary = _path('summary.json')

  def __post_init__(self):
    object.__setattr__(self, 'root', pathlib.Path(self.root))

  def saved_config(self) -> ml_collections.ConfigDict | None:
    """The config the run here was started with (its config.json), None if there is none; fields the project
    added after it was written take their defaults from ``configs/base.py``, the behaviour the run had."""
    return base.from_saved(json.loads(self.config.read_text())) if self.config.exists() else None

  def best_checkpoints(self, generator: str) -> pathlib.Path:
    """The monitor's best checkpoint of ``generator`` ('raw' or 'ema')."""
    return self.root / f'checkpoints_best{suffix(generator)}'

  def checkpoint_directories(self) -> tuple[pathlib.Path, ...]:
    """Every directory a checkpoint of this run can be in: the latest ones, then the best ones."""
    return (self.checkpoints, *(self.best_checkpoints(generator) for generator in GENERATORS))

  def samples(self, generator: str) -> pathlib.Path:
    """The sample pictures of ``generator``: ``samples`` or ``samples_ema``."""
    return self.root / f'samples{suffix(generator)}'

  def sample_picture(self, generator: str, step: int) -> pathlib.Path:
    return self.samples(generator) / f'step_{step:07d}.png'

  def evaluation_report(self, checkpoint: str = 'latest', generator: str = 'raw', real_centres: bool = False
                        ) -> pathlib.Path:
    """Where ``experiments.evaluate`` writes the metrics of a checkpoint ('latest', 'best' or a step)."""
    if real_centres:
      return self.root / 'eval_real_centres.json'
    if (checkpoint, generator) == ('latest', 'raw'):
      return self.root / 'eval.json'
    return self.root / f'eval_{checkpoint}_{generator}.json'


@dataclasses.dataclass(frozen=True)
class SweepDirectory:
  """The paths of a sweep of seeds of one config in ``root`` (``experiments.sweep``)."""
  root: pathlib.Path

  records_lock = _path('records.lock')

  def __post_init__(self):
    object.__setattr__(self, 'root', pathlib.Path(self.root))

  def seed(self, seed: int) -> RunDirectory:
    return RunDirectory(self.root / f'seed_{seed}')

  def records(self, generator: str) -> pathlib.Path:
    """One JSON line per seed and checkpoint: the mode metrics of ``generator``."""
    return self.root / f'sweep{suffix(generator)}.jsonl'

  def table(self, generator: str) -> pathlib.Path:
    """The mean and standard error over seeds of ``records(generator)``, per step."""
    return self.root / f'sweep{suffix(generator)}.json'


CLASSIFIER_CONFIG = 'classifier.json'  # in a classifier's directory (experiments.train_classifier)


def read_classifier_config(directory: str | pathlib.Path) -> dict:
  """The classifier.json of a classifier's directory: its training config and test accuracy."""
  return json.loads((pathlib.Path(directory) / CLASSIFIER_CONFIG).read_text())


# ---------------------------------------------------------------- keys

# What each key folded from a run's sample key is for: one purpose each.
_SAMPLE_KEY_USES = {'summary_samples': 1, 'evaluation_samples': 2, 'interpolation': 3, 'figure_samples': 4,
                    'likelihood_bounds': 5}


@dataclasses.dataclass(frozen=True)
class RunKeys:
  """The keys of a run with seed ``seed`` (the module docstring says what each is for)."""
  train: jax.Array
  data: jax.Array
  sample: jax.Array

  @classmethod
  def of_seed(cls, seed: int) -> 'RunKeys':
    return cls(*jax.random.split(jax.random.key(seed), 3))

  @property
  def evaluation_samples(self) -> jax.Array:
    """The noise of every evaluation of a checkpoint: the monitor's, ``experiments.evaluate``'s, sweep records'."""
    return jax.random.fold_in(self.sample, _SAMPLE_KEY_USES['evaluation_samples'])

  @property
  def summary_samples(self) -> jax.Array:
    """The samples of a 1-D run's summary (their mean and std)."""
    return jax.random.fold_in(self.sample, _SAMPLE_KEY_USES['summary_samples'])

  @property
  def interpolation(self) -> jax.Array:
    """The latent end points of Figure 3's interpolation (``experiments.figures``)."""
    return jax.random.fold_in(self.sample, _SAMPLE_KEY_USES['interpolation'])

  @property
  def figure_samples(self) -> jax.Array:
    """The samples of ``experiments.figures``' sample grid."""
    return jax.random.fold_in(self.sample, _SAMPLE_KEY_USES['figure_samples'])

  @property
  def likelihood_bounds(self) -> jax.Array:
    """A VAE's likelihood bounds on test images (their binarisation and the posterior draws), in every evaluation."""
    return jax.random.fold_in(self.sample, _SAMPLE_KEY_USES['likelihood_bounds'])
