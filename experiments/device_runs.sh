#!/usr/bin/env bash
# The runs this project keeps for a lent accelerator, each one call of at most 8 minutes (an H200's estimate):
#
#   experiments/device_runs.sh quality OUT IDX   # mnist_quality over seeds 0-4, the three-bar monitor
#   experiments/device_runs.sh pacgan OUT        # the two 10-seed, 400,000-iteration PacGAN tables, side by side
#   experiments/device_runs.sh bench OUT         # benchmarks.throughput on the card
#
# IDX is an MNIST IDX directory. Every run stops at BUDGET_S seconds of its
# own (default 400) with SIGTERM, which checkpoints; what it wrote by then
# (curves, configs, summaries, evaluation reports; never checkpoints) is
# copied to OUT, so a slower card still brings back its curves. Run
# directories are kept under RUNS (default: a temporary directory).
# STEPS_DIVISOR (default 1) divides every run's length, to try this on a CPU
# first: STEPS_DIVISOR=2500 BUDGET_S=120 experiments/device_runs.sh quality /tmp/out I
#
# quality: the mnist_quality preset (mnist_paper from a first step of 0.15 to epoch 250, scored
# through a constant-β average of G over about its last 50 epochs; the
# validation monitor with classifier A every 10 epochs, the best checkpoint
# the sharpest of those with Parzen ≥ 225, Fréchet distance ≤ 2.5 and recall ≥ 0.8) over
# seeds 0-4; the five seeds train at once, one process each; then the best
# averaged generator of each seed is scored on test with classifiers A and B
# (another seed and width). Matrix products in the card's default precision
# (TF32 on NVIDIA), as in the H200 runs of docs/table1.md. pacgan: experiments.sweep --together for
# toy_ring_pacgan and toy_grid_pacgan at once, in float32 as the
# reproduction commands ask.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 quality OUT IDX | pacgan OUT | bench OUT" >&2
  exit 2
fi
what=$1
out=$(mkdir -p "$2" && cd "$2" && pwd)
cd "$(dirname "$0")/.."
python=${PYTHON:-python}
divisor=${STEPS_DIVISOR:-1}
budget=${BUDGET_S:-400}
runs=${RUNS:-$(mktemp -d)}
mkdir -p "$runs"
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # several processes share the one accelerator

steps() { echo $(( $1 / divisor > 0 ? $1 / divisor : 1 )); }
# Copies a run's small files (never its checkpoints) to OUT/NAME.
keep() { mkdir -p "$out/$2" && find "$1" -maxdepth 1 -type f \( -name '*.json' -o -name '*.jsonl' \) \
  -exec cp {} "$out/$2/" \; ; }

case $what in
  quality)
    if [[ $# -lt 3 ]]; then echo "usage: $0 quality OUT IDX" >&2; exit 2; fi
    idx=idx:$(cd "$3" && pwd)
    "$python" -m experiments.train_classifier --config gan_jax/configs/mnist_classifier.py \
      --workdir "$runs/classifier_a" --config.dataset="$idx"
    "$python" -m experiments.train_classifier --config gan_jax/configs/mnist_classifier.py \
      --workdir "$runs/classifier_b" --config.dataset="$idx" --config.seed=1 --config.hidden_dims='(1024,)'
    for seed in 0 1 2 3 4; do
      timeout -s TERM "$budget" "$python" -m experiments.train --config gan_jax/configs/mnist_quality.py \
        --workdir "$runs/quality_seed$seed" --config.dataset="$idx" --config.seed=$seed \
        --config.eval_classifier_dir="$runs/classifier_a" --config.num_steps="$(steps 125000)" \
        --config.steps_per_call="$(steps 500)" --config.checkpoint_every_steps="$(steps 2500)" \
        --config.sample_every_steps="$(steps 5000)" --config.eval_every_steps="$(steps 5000)" \
        > "$runs/quality_seed$seed.log" 2>&1 &
    done
    wait
    for seed in 0 1 2 3 4; do
      run=$runs/quality_seed$seed
      for c in a b; do
        "$python" -m experiments.evaluate --workdir "$run" --checkpoint best --params ema \
          --classifier "$runs/classifier_$c" > "$run/eval_best_ema_$c.txt" 2>&1 \
          && cp "$run/eval_best_ema.json" "$run/eval_best_ema_$c.json" || true
      done
      keep "$run" "quality_seed$seed"
      cp "$runs/quality_seed$seed.log" "$run"/eval_best_ema_*.txt "$out/quality_seed$seed/" 2>/dev/null || true
    done
    ;;
  pacgan)
    for preset in toy_ring_pacgan toy_grid_pacgan; do
      timeout -s TERM "$budget" "$python" -m experiments.sweep --config "gan_jax/configs/$preset.py" \
        --workdir "$runs/$preset" --seeds 10 --together --config.matmul_precision=float32 \
        --config.num_steps="$(steps 400000)" > "$runs/$preset.log" 2>&1 &
    done
    wait
    for preset in toy_ring_pacgan toy_grid_pacgan; do
      keep "$runs/$preset" "$preset"
      cp "$runs/$preset.log" "$out/$preset/"
    done
    ;;
  bench)
    "$python" -m benchmarks.throughput --notorch --json_out "$out/throughput.json" | tee "$out/throughput.txt"
    ;;
  *)
    echo "error: $what: use quality, pacgan or bench" >&2
    exit 2
    ;;
esac
echo "done: $what in $out (runs in $runs)"
