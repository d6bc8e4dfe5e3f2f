"""Training throughput of the paper's MNIST GAN: gan_jax against PyTorch, in one interleaved run.

  python -m benchmarks.throughput                 # the full benchmark (about 5 minutes on 2 cores)
  python -m benchmarks.throughput --json_out bench.json

Model and update: the paper's MNIST G (100 → 1200 → 1200 → 784) and maxout D
(240×5, 240×5) with dropout on, batch 100, Algorithm 1 with k = 1
(alternating updates), non-saturating G loss, momentum SGD with the paper's
schedules. Variants, each run for ``--iterations`` iterations per round, the
rounds interleaved (A B C D A B C D …), medians over rounds:

  jax_jit     one jitted ``train_step`` call per iteration, state donated
  jax_scan    ``train_steps``: ``--scan_length`` iterations in one compiled call
  jax_pmap_loop  ``make_pmap_train_loop`` over the local devices, the driver the
              training loop runs: minibatches drawn on device from a
              50,000-image training set, NaN/Inf checks (scan inside)
  full_loop   the training loop itself (``loop.run``, what ``experiments.train``
              runs) on a synthetic 50,000-image IDX dataset (5,000 with
              --small): on-device minibatch sampling, metrics, console,
              metrics.jsonl, TensorBoard, and a sample grid and a checkpoint
              every 2 chunks, more often than any preset. Each round resumes
              the same run for ``--loop_steps`` iterations; its rate is that
              of the round's chunks after its first (which compiles and
              restores), from metrics.jsonl wall times.
  torch_eager the same model and update in PyTorch eager (benchmarks/torch_reference.py)

For jax_jit and jax_scan, real minibatches are pre-generated on device
(uniform pixels), so those rates are of the step alone. Interleaving the
rounds makes the ratios (full_loop / jax_scan above all) independent of how
fast the machine is from one minute to the next.

Also reported: XLA's FLOP count of one iteration, the matmul ceiling for this
model's shapes (every dot_general of one iteration, each timed alone in a
jitted loop, those of equal shapes once; ceiling = 1 / Σ time), the fraction of it reached, compile times
and the process's peak resident memory.
"""

import collections
import functools
import json
import math
import pathlib
import resource
import statistics
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging

import gan_jax
from gan_jax import parallel
from gan_jax.configs import mnist_paper
from gan_jax.data import datasets
from gan_jax.training import construction, loop, plan, rundir

_ITERATIONS = flags.DEFINE_integer('iterations', 100, 'Iterations per variant per round.')
_ROUNDS = flags.DEFINE_integer('rounds', 5, 'Interleaved rounds; medians are over rounds.')
_SCAN_LENGTH = flags.DEFINE_integer('scan_length', 100, 'Iterations per compiled call for jax_scan/jax_pmap.')
_LOOP_STEPS = flags.DEFINE_integer('loop_steps', 500, 'Iterations of the full training loop per round, at least 3 '
                                   'scan lengths (0: leave it out).')
_MATMUL_REPEATS = flags.DEFINE_integer('matmul_repeats', 50, 'Timed repetitions of each matmul shape.')
_SMALL = flags.DEFINE_bool('small', False, 'Shrink the model (for tests of this script, not for numbers).')
_TORCH = flags.DEFINE_bool('torch', True, 'Include the PyTorch reference (needs the bench extra).')
_JSON_OUT = flags.DEFINE_string('json_out', None, 'Also write the results as JSON here.')

BATCH = 100


def _sizes() -> dict:
  if _SMALL.value:
    return dict(g_hidden_dims=(64, 64), d_hidden_dims=(16, 16), maxout_pieces=2)
  return dict(g_hidden_dims=(1200, 1200), d_hidden_dims=(240, 240), maxout_pieces=5)


def _config(**overrides):
  """``mnist_paper`` with Algorithm 1's alternating updates."""
  config = mnist_paper.get_config()
  config.update(dict(update_rule='alternating', **_sizes(), **overrides))
  return config


def _gan_and_state():
  synthetic = datasets.Dataset('synthetic', np.zeros((50_000, 784), np.uint8), np.zeros((0, 784), np.uint8),
                                np.zeros((0, 784), np.uint8), (28, 28, 1))
  config = _config(g_output_bias_from_data=False)
  return construction.build_on_one_device(plan.game_spec(config), synthetic, config.seed)


def _real_batches(num_iterations: int) -> jax.Array:
  return jax.random.uniform(jax.random.key(1), (num_iterations, 1, BATCH, 784))


# ---------------------------------------------------------------- variants

class JaxJit:
  name = 'jax_jit'

  def __init__(self):
    self.gan, self.state = _gan_and_state()
    self.step = jax.jit(functools.partial(gan_jax.train_step, self.gan), donate_argnums=0)
    self.batches = _real_batches(_ITERATIONS.value)
    self.key = jax.random.key(0)
    start = time.perf_counter()
    self.step = self.step.lower(self.state, self.batches[0], self.key).compile()
    self.compile_seconds = time.perf_counter() - start

  def run(self, iterations: int) -> float:
    start = time.perf_counter()
    for i in range(iterations):
      self.state, _ = self.step(self.state, self.batches[i], self.key)
    jax.block_until_ready(self.state)
    return iterations / (time.perf_counter() - start)


class JaxScan:
  name = 'jax_scan'

  def __init__(self):
    gan, self.state = _gan_and_state()
    self.batches = _real_batches(_SCAN_LENGTH.value)
    self.key = jax.random.key(0)
    start = time.perf_counter()
    self.steps = jax.jit(functools.partial(gan_jax.train_steps, gan), donate_argnums=0).lower(
        self.state, self.batches, self.key).compile()
    self.compile_seconds = time.perf_counter() - start

  def run(self, iterations: int) -> float:
    start = time.perf_counter()
    calls = math.ceil(iterations / _SCAN_LENGTH.value)
    for _ in range(calls):
      self.state, _ = self.steps(self.state, self.batches, self.key)
    jax.block_until_ready(self.state)
    return calls * _SCAN_LENGTH.value / (time.perf_counter() - start)


class JaxPmapLoop:
  """The training loop's driver: ``make_pmap_train_loop`` with minibatches drawn on device.

  As in ``experiments.train``: a 50,000-image uint8 training set sharded over
  the local devices, each device drawing its share of every minibatch
  (``data.make_minibatch_sampler``), the NaN/Inf checks included. The
  devices are the most local ones over which the batch of 100 divides (4 of
  8), so that the global minibatch is the other variants'.
  """

  def __init__(self):
    gan, state = _gan_and_state()
    local = jax.local_devices()
    devices = local[:max(n for n in range(1, len(local) + 1) if BATCH % n == 0)]
    self.name = f'jax_pmap_loop ({len(devices)} device{"s" * (len(devices) > 1)})'
    self.state = parallel.replicate(state, devices)
    images = np.random.default_rng(0).integers(0, 256, (50_000, 784), np.uint8)
    self.shards = parallel.put_shards(images.reshape(len(devices), -1, 784), devices)
    sampler = datasets.make_minibatch_sampler(jax.random.key(2), 1, BATCH // len(devices))
    self.loop = parallel.make_pmap_train_loop(gan, sampler, devices)
    self.key, self.step = jax.random.key(0), 0
    start = time.perf_counter()
    self.run(_SCAN_LENGTH.value)  # compiles
    self.compile_seconds = time.perf_counter() - start  # includes one call's compute

  def run(self, iterations: int) -> float:
    start = time.perf_counter()
    calls = math.ceil(iterations / _SCAN_LENGTH.value)
    for _ in range(calls):
      self.state, _, _ = self.loop(self.state, self.shards, self.key, self.step, _SCAN_LENGTH.value)
      self.step += _SCAN_LENGTH.value
    jax.block_until_ready(self.state)
    return calls * _SCAN_LENGTH.value / (time.perf_counter() - start)


class TorchEager:
  name = 'torch_eager'

  def __init__(self):
    import torch  # pylint: disable=g-import-not-at-top  (optional: the bench extra)
    from benchmarks.torch_reference import TorchGAN  # pylint: disable=g-import-not-at-top
    self.torch = torch
    self.gan = TorchGAN(batch_size=BATCH, **_sizes())
    self.batches = torch.rand(_ITERATIONS.value, BATCH, 784)
    start = time.perf_counter()
    self.gan.iteration(self.batches[0])
    self.compile_seconds = time.perf_counter() - start  # eager: first-call warm-up only
    self.name = f'torch_eager ({torch.get_num_threads()} threads)'

  def run(self, iterations: int) -> float:
    start = time.perf_counter()
    for i in range(iterations):
      self.gan.iteration(self.batches[i % len(self.batches)])
    return iterations / (time.perf_counter() - start)


class FullLoop:
  """The training loop (``loop.run``), resumed for ``--loop_steps`` more iterations each round (module docstring)."""
  name = 'full_loop'

  def __init__(self, scratch: pathlib.Path):
    idx_dir = scratch / 'idx'
    _write_synthetic_idx(idx_dir, 6_000 if _SMALL.value else 60_000)
    every = 2 * _SCAN_LENGTH.value
    self.config = _config(dataset=f'idx:{idx_dir}', steps_per_call=_SCAN_LENGTH.value,
                          checkpoint_every_steps=every, sample_every_steps=every, log_every_seconds=1e9,
                          eval_every_steps=0)
    self.directory = rundir.RunDirectory(scratch / 'run')
    self.config.num_steps = _SCAN_LENGTH.value
    start = time.perf_counter()
    loop.run(self.config, self.directory.root, print_fn=lambda _: None)
    self.compile_seconds = time.perf_counter() - start  # includes set-up and one call's compute

  def run(self, iterations: int) -> float:
    del iterations  # each round trains --loop_steps
    before = self.config.num_steps
    self.config.num_steps = before + _LOOP_STEPS.value
    loop.run(self.config, self.directory.root, print_fn=lambda _: None)
    records = [json.loads(line) for line in self.directory.metrics.read_text().splitlines()]
    this_round = [r for r in records if r['step'] > before]
    first, last = this_round[0], this_round[-1]  # from the end of the round's first chunk
    return (last['step'] - first['step']) / (last['wall_time'] - first['wall_time'])


# ---------------------------------------------------------------- measurements

def interleaved_rates(variants, iterations: int, rounds: int) -> dict[str, list[float]]:
  """it/s of each variant in each round, variants run one after another within a round.

  A scanned variant runs whole calls, ``iterations`` rounded up to a multiple
  of ``--scan_length``; its rate counts the iterations it ran.
  """
  rates = {v.name: [] for v in variants}
  for _ in range(rounds):
    for variant in variants:
      rates[variant.name].append(variant.run(iterations))
  return rates


def _dot_generals(jaxpr) -> list:
  """Every dot_general equation of a closed jaxpr, its sub-jaxprs (scan, pjit, …) included."""
  found = []
  for eqn in jaxpr.eqns:
    if eqn.primitive.name == 'dot_general':
      found.append(eqn)
    for param in eqn.params.values():
      for sub in (param if isinstance(param, (list, tuple)) else [param]):
        inner = getattr(sub, 'jaxpr', None)
        if inner is not None and hasattr(inner, 'eqns'):
          found.extend(_dot_generals(inner))
        elif hasattr(sub, 'eqns'):
          found.extend(_dot_generals(sub))
  return found


@functools.partial(jax.jit, static_argnames=('dimension_numbers', 'repeats'))
def _repeated_product(a: jax.Array, b: jax.Array, dimension_numbers, repeats: int) -> jax.Array:
  """``repeats`` dot_generals of ``a`` and ``b`` in a scan, each depending on the last (so none is dropped)."""
  def body(carry, _):
    out = jax.lax.dot_general(a + carry, b, dimension_numbers)
    return carry + 1e-12 * jnp.sum(out), None
  return jax.lax.scan(body, jnp.zeros((), a.dtype), None, length=repeats)[0]


def matmul_ceiling(jit: JaxJit, repeats: int) -> dict:
  """Times each dot_general of one iteration of ``jit``'s step alone; returns FLOPs and the ceiling it/s.

  Products of the same shapes and dimension numbers (a layer's forward pass on
  the real and the fake minibatch, say) are compiled and timed once and counted
  as often as they occur.
  """
  closed = jax.make_jaxpr(functools.partial(gan_jax.train_step, jit.gan))(jit.state, jit.batches[0], jit.key)
  products = collections.Counter(
      (eqn.invars[0].aval.shape, eqn.invars[1].aval.shape, np.dtype(eqn.invars[0].aval.dtype),
       eqn.params['dimension_numbers'], eqn.outvars[0].aval.shape) for eqn in _dot_generals(closed.jaxpr))
  rng = np.random.default_rng(0)
  total_seconds, total_flops = 0.0, 0.0
  for (lhs_shape, rhs_shape, dtype, dimension_numbers, out_shape), count in products.items():
    (lhs_contract, _), _ = dimension_numbers
    a, b = (jnp.asarray(rng.standard_normal(shape).astype(dtype)) for shape in (lhs_shape, rhs_shape))
    jax.block_until_ready(_repeated_product(a, b, dimension_numbers, repeats))  # compiles
    start = time.perf_counter()
    jax.block_until_ready(_repeated_product(a, b, dimension_numbers, repeats))
    total_seconds += count * (time.perf_counter() - start) / repeats
    total_flops += count * 2.0 * math.prod(out_shape) * math.prod(lhs_shape[d] for d in lhs_contract)
  return {'matmul_flops': total_flops, 'matmul_seconds': total_seconds, 'ceiling_it_per_s': 1.0 / total_seconds,
          'matmul_gflops_per_s': total_flops / total_seconds / 1e9}


def xla_flops(jit: JaxJit) -> float:
  """XLA's cost_analysis FLOPs of one iteration (the jitted single step, as compiled for ``jit``)."""
  analysis = jit.step.cost_analysis()
  analysis = analysis[0] if isinstance(analysis, (list, tuple)) else analysis
  return float(analysis['flops'])


def _write_synthetic_idx(directory: pathlib.Path, num_images: int) -> None:
  """The four MNIST IDX files of ``num_images`` uniform random 28×28 training images (and 100 test images)."""
  images = np.random.default_rng(0).integers(0, 256, (num_images, 28, 28), np.uint8)
  labels = np.zeros(num_images, np.uint8)
  directory.mkdir(parents=True)
  for name, array in (('train-images-idx3-ubyte', images), ('train-labels-idx1-ubyte', labels),
                      ('t10k-images-idx3-ubyte', images[:100]), ('t10k-labels-idx1-ubyte', labels[:100])):
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, '>u4').tobytes()
    (directory / name).write_bytes(header + array.tobytes())


def _check_torch_installed() -> None:
  """Exits with status 2 and one line when the PyTorch reference cannot be imported."""
  try:
    import torch  # pylint: disable=g-import-not-at-top,unused-import  (optional: the bench extra)
  except ImportError as error:
    print(f"error: --torch needs PyTorch ({error}); install the bench extra (pip install -e '.[bench]') "
          'or pass --notorch', file=sys.stderr)
    sys.exit(2)


def main(argv):
  if len(argv) > 1:
    print(f'error: unexpected arguments {argv[1:]}', file=sys.stderr)
    sys.exit(2)
  logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint save at INFO
  if _TORCH.value:
    _check_torch_installed()  # before minutes of JAX work
  if _LOOP_STEPS.value and _LOOP_STEPS.value < 3 * _SCAN_LENGTH.value:
    print(f'error: --loop_steps={_LOOP_STEPS.value} must be 0 or at least 3 × --scan_length={_SCAN_LENGTH.value} '
          '(a round is timed from the end of its first chunk)', file=sys.stderr)
    sys.exit(2)
  if _LOOP_STEPS.value and BATCH % jax.device_count():
    print(f'error: --loop_steps: the full training loop trains on all {jax.device_count()} devices, over which a '
          f'batch of {BATCH} does not divide; pass --loop_steps=0 to leave it out, or make fewer devices visible',
          file=sys.stderr)
    sys.exit(2)
  with tempfile.TemporaryDirectory() as scratch:
    variants = [JaxJit(), JaxScan(), JaxPmapLoop()]
    if _TORCH.value:
      variants.append(TorchEager())
    if _LOOP_STEPS.value:
      variants.append(FullLoop(pathlib.Path(scratch)))
    rates = interleaved_rates(variants, _ITERATIONS.value, _ROUNDS.value)
  medians = {name: statistics.median(values) for name, values in rates.items()}
  loop_rate = medians.get(FullLoop.name, float('nan'))
  flops = xla_flops(variants[0])
  ceiling = matmul_ceiling(variants[0], _MATMUL_REPEATS.value)

  torch_rate = next((rate for name, rate in medians.items() if name.startswith('torch')), float('nan'))
  print(f'\nThe paper\'s MNIST GAN, batch {BATCH}, k = 1, dropout on; {jax.devices()[0].device_kind}, '
        f'{len(jax.local_devices())} local device(s); medians of {_ROUNDS.value} interleaved rounds of '
        f'{_ITERATIONS.value} iterations{" (SMALL model)" if _SMALL.value else ""}\n')
  print('| variant | it/s (median) | min–max | × torch | of matmul ceiling | compile s |')
  print('|---|---|---|---|---|---|')
  for variant in variants:
    values = rates[variant.name]
    print(f'| {variant.name} | {medians[variant.name]:.1f} | {min(values):.1f}–{max(values):.1f} | '
          f'{medians[variant.name] / torch_rate:.2f} | {medians[variant.name] / ceiling["ceiling_it_per_s"]:.0%} | '
          f'{variant.compile_seconds:.1f} |')
  print(f'\nXLA cost_analysis: {flops / 1e9:.2f} GFLOP per iteration; its dot_generals: '
        f'{ceiling["matmul_flops"] / 1e9:.2f} GFLOP, {ceiling["matmul_seconds"] * 1e3:.1f} ms when each runs alone '
        f'({ceiling["matmul_gflops_per_s"]:.0f} GFLOP/s) ⇒ matmul ceiling {ceiling["ceiling_it_per_s"]:.1f} it/s')
  print(f'Full training loop / jax_scan: {loop_rate / medians[variants[1].name]:.1%}')
  peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(f'Peak resident memory of this process: {peak_mib:.0f} MiB')
  if _JSON_OUT.value:
    pathlib.Path(_JSON_OUT.value).write_text(json.dumps({
        'rates': rates, 'medians': medians, 'xla_flops': flops, **ceiling, 'full_loop_it_per_s': loop_rate,
        'compile_seconds': {v.name: v.compile_seconds for v in variants}, 'peak_rss_mib': peak_mib,
        'small': _SMALL.value, 'device': jax.devices()[0].device_kind}, indent=2))
  sys.stdout.flush()


if __name__ == '__main__':
  app.run(main)
