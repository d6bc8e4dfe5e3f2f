"""What a user sees of a run: console lines, metrics.jsonl, TensorBoard events, sample PNGs.

Written in the run directory (``rundir.RunDirectory`` names the paths):
  metrics.jsonl        one JSON object per logged chunk: step, epoch, the
                       chunk's mean d_loss, g_loss, d_real (mean D(x)),
                       d_fake (mean D(G(z))), d_fake_g, it_per_s (of the chunk's
                       compute), wall_time (seconds since this process started the run),
                       run_time (seconds of the run so far, summed over resumed
                       processes: wall_time plus the run_time of the record it
                       resumed after); with the Parzen monitor also validation_ll,
                       validation_sigma, best_validation_ll (and *_ema), eval_seconds;
                       a VAE's run logs elbo, reconstruction and kl (nats per image)
                       in place of the players' losses
  tensorboard/         event files (tensorboardX: no TensorFlow at run time),
                       the same scalars and the sample pictures
  samples/step_XXXXXXX.png   G(z) for a fixed noise batch, every sample_every_steps
  samples_ema/step_XXXXXXX.png  the same for the average of G's weights (g_ema_decay > 0)
"""

import json
import pathlib

import numpy as np
from tensorboardX import SummaryWriter

from gan_jax.evaluation import viz
from gan_jax.training import files, rundir

CONSOLE_METRICS = (('d_loss', 'd_loss', '.4f'), ('g_loss', 'g_loss', '.4f'),
                   ('d_real', 'D(x)', '.3f'), ('d_fake', 'D(G(z))', '.3f'),  # a GAN's
                   ('elbo', 'ELBO', '.2f'), ('kl', 'KL', '.2f'))  # a VAE's (nats per image)


def console_line(step: int, num_steps: int, epoch: float, metrics: dict, it_per_s: float) -> str:
  """'step 1000/5000  epoch 2.00  d_loss … D(x) … D(G(z)) …  31.2 it/s  ETA 128 s' (a VAE: 'ELBO … KL …')."""
  eta = (num_steps - step) / it_per_s if it_per_s > 0 else float('inf')
  values = '  '.join(f'{label} {metrics[name]:{spec}}' for name, label, spec in CONSOLE_METRICS if name in metrics)
  return f'step {step:>7d}/{num_steps}  epoch {epoch:7.2f}  {values}  {it_per_s:7.1f} it/s  ETA {eta:6.0f} s'


def evaluation_line(step: int, epoch: float, scores: dict[str, float]) -> str:
  """'eval    2500  epoch    5.00  validation_ll  123.45 (σ 0.167, best  123.45)  ema …' from ``_evaluate``'s scores,
  with 'FD 2.41 recall 0.83' after each estimate when the monitor has a classifier."""
  parts = [f'eval {step:>7d}  epoch {epoch:7.2f}']
  for suffix, label in (('', 'validation_ll'), ('_ema', 'ema')):
    if f'validation_ll{suffix}' in scores:
      best = scores.get(f'best_validation_ll{suffix}')
      part = (f"{label} {scores[f'validation_ll{suffix}']:8.2f} (σ {scores[f'validation_sigma{suffix}']:.3f}, "
              f"best {'    none' if best is None else f'{best:8.2f}'})")
      if f'validation_frechet_distance{suffix}' in scores:
        part += (f" FD {scores[f'validation_frechet_distance{suffix}']:.2f} "
                 f"recall {scores[f'validation_recall{suffix}']:.2f}")
      parts.append(part)
  return '  '.join(parts)


def _complete_lines(path: pathlib.Path) -> list[str]:
  """The non-empty lines of a metrics.jsonl, less a last line cut short by a kill (it does not end in a newline)."""
  if not path.exists():
    return []
  text = path.read_text(encoding='utf-8')
  lines = text.split('\n')
  complete = lines[:-1]  # the part after the last newline is '' or a cut record
  return [line for line in complete if line.strip()]


class RunLog:
  """Appends metrics to metrics.jsonl and TensorBoard, and writes sample pictures.

  A run resumed at ``start_step`` continues the same files: records of later
  steps (logged after the checkpoint it resumes from) are dropped first, so
  metrics.jsonl reads as if the run had never stopped; TensorBoard hides its
  events of those steps (a purge event in the new event file).
  """

  def __init__(self, directory: rundir.RunDirectory, start_step: int = 0):
    self.directory = directory
    path = directory.metrics
    kept = [line for line in _complete_lines(path) if json.loads(line)['step'] <= start_step]
    files.write_text_atomically(path, ''.join(line + '\n' for line in kept))
    self._earlier_run_time = float(json.loads(kept[-1]).get('run_time', 0.0)) if kept else 0.0
    self._jsonl = open(path, 'a', encoding='utf-8')
    # Event files are named by the second they are opened in: the suffix keeps a resume within the same second
    # from overwriting the earlier file.
    self._tensorboard = SummaryWriter(str(directory.tensorboard), filename_suffix=f'.from_step_{start_step}',
                                      purge_step=start_step + 1 if start_step else None)

  def scalars(self, step: int, values: dict[str, float], wall_time: float) -> None:
    """Logs ``values`` at ``step``; ``wall_time`` (seconds since the process started the run) goes to jsonl only."""
    record = {'step': step, **values, 'wall_time': wall_time, 'run_time': self._earlier_run_time + wall_time}
    self._jsonl.write(json.dumps(record) + '\n')
    self._jsonl.flush()
    for name, value in values.items():
      self._tensorboard.add_scalar(f'train/{name}', value, step)

  def picture(self, step: int, image: np.ndarray, generator: str = 'raw') -> pathlib.Path:
    """Saves the picture of ``generator``'s samples at ``step`` (a PNG and a TensorBoard image); returns the path."""
    path = self.directory.sample_picture(generator, step)
    viz.save_png(path, image)
    self._tensorboard.add_image(path.parent.name, image, step, dataformats='HWC')
    return path

  def close(self) -> None:
    self._jsonl.close()
    self._tensorboard.close()


class NoLog:
  """RunLog's interface, writing nothing: the log of every process but process 0."""

  def scalars(self, step: int, values: dict[str, float], wall_time: float) -> None:
    del step, values, wall_time

  def picture(self, step: int, image: np.ndarray, generator: str = 'raw') -> None:
    del step, image, generator

  def close(self) -> None:
    pass
