"""Table 1's number and good digits from one generator: ``mnist_paper`` from a larger first step, scored through a
long weight average of G.

Commands (the classifier first: the monitor keeps as best the sharpest checkpoint, the lowest validation Fréchet
distance by it, among those whose validation Parzen estimate is ≥ 225, Fréchet distance ≤ 2.5 and recall ≥ 0.80):
  python -m experiments.train_classifier --config gan_jax/configs/mnist_classifier.py --workdir runs/classifier
  python -m experiments.train --config gan_jax/configs/mnist_quality.py --workdir runs/mnist_quality
  python -m experiments.evaluate --workdir runs/mnist_quality --checkpoint best --params ema \\
      --classifier runs/classifier
(add --config.dataset=idx:/path/to/mnist to both trainings without network; another classifier:
--config.eval_classifier_dir=DIR; where no checkpoint met the bars, none is kept: score --checkpoint latest).

The training is ``mnist_paper``'s (the paper's model, losses, dropout, simultaneous updates, the original SGD with
its learning-rate decay and momentum ramp) from a larger first step, ε₀ = 0.15 instead of 0.1, for 250 epochs.
Why: from 0.1, D wins the first epochs outright on some seeds and G never recovers (seed 3 of seeds 0-9: within 5
epochs G draws one near-black image for every z); from 0.15, G recovers from D's early lead by epoch 5 on all ten
seeds, and sharpens sooner (seed 1's G as trained: validation Fréchet distance 3.55 at epoch 60, against 8.16 from
0.1). The scored generator is an exponential moving average of G's weights with a constant β = 0.99996 (a window
of about 50 epochs, ``g_ema_warmup=0``); it never feeds back into training. The window trades a little of G's
sharpness for the smoothness the Parzen estimate rewards (docs/table1.md, "One generator for both"). The monitor
scores G and its average every 10 epochs (Parzen estimate and the classifier metrics on validation data, ~15 s per
evaluation on 2 CPU cores).

Results (2-core AMD EPYC, 2026-12-06/07; docs/table1.md, "`mnist_quality` over five seeds"): over seeds 0-4 the
rule keeps epoch 250 on four, which meet all three bars on test: 231.9 ± 2.2 / 2.06 ± 0.32 / 0.84 ± 0.00 (mean ±
std), all three first on validation at epochs 170-240 and on test at 170-230 (about 35-50 minutes of training
alone on this CPU, ~45 it/s with the monitor). Seed 2 never meets the Fréchet-distance bar on validation, so no
best is kept; its last checkpoint scores 232.7 / 3.20 / 0.82 on test (resumed to epoch 300: 230.5 / 3.14 / 0.82).
From ε₀ = 0.1 (this preset until 2026-12-06), over seeds 0-2 at epoch 250: test 229.2 ± 1.1 / 3.08 ± 1.05 /
0.83 ± 0.02 (the Fréchet-distance bar on seed 0 only), and seed 3 did not train.
"""

from gan_jax.configs import mnist_paper


def get_config():
  config = mnist_paper.get_config()
  config.update(dict(learning_rate=0.15, num_steps=125_000, g_ema_decay=0.99996, steps_per_call=500,
                     checkpoint_every_steps=2500, sample_every_steps=5000, eval_every_steps=5000,
                     eval_classifier_dir='runs/classifier', eval_best_by='validation_frechet_distance',
                     eval_best_min_ll=225.0, eval_best_max_frechet=2.5, eval_best_min_recall=0.8))
  return config
