#!/usr/bin/env bash
# Trains on every worker of a Cloud TPU VM pod slice: all workers run the same command.
#
#   experiments/launch_tpu_pod.sh TPU_NAME ZONE WORKDIR [CONFIG] [--config.FIELD=VALUE ...]
#
# CONFIG defaults to gan_jax/configs/mnist_paper.py. WORKDIR must be one
# directory that every worker sees (a shared filesystem such as Filestore
# NFS, or a gcsfuse mount): orbax writes each checkpoint from all workers
# into it, and worker 0 writes the logs. `--distributed` makes each worker
# call jax.distributed.initialize(), which finds the other workers from the
# TPU environment. After a preemption (SIGTERM: each worker checkpoints and
# exits 0), recreate the slice if needed and run the same command: it resumes.
# REPO_URL overrides where the workers clone gan_jax from.
#
# Not run by this project's CI (it has no TPU); the multi-process code path it
# uses is tested on CPU in tests/test_robustness.py.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: $0 TPU_NAME ZONE WORKDIR [CONFIG] [--config.FIELD=VALUE ...]" >&2
  exit 2
fi
tpu_name=$1 zone=$2 workdir=$3
shift 3
config=gan_jax/configs/mnist_paper.py
if [[ $# -gt 0 && $1 != --* ]]; then
  config=$1
  shift
fi
repo_url=${REPO_URL:-https://github.com/gan-jax/gan_jax}
overrides=$(printf ' %q' "$@")

gcloud compute tpus tpu-vm ssh "$tpu_name" --zone="$zone" --worker=all --command="
  set -euo pipefail
  [[ -d gan_jax ]] || git clone --quiet $(printf '%q' "$repo_url") gan_jax
  cd gan_jax
  [[ -d .venv ]] || python3 -m venv .venv
  .venv/bin/pip install --quiet -e . 'jax[tpu]>=0.10.2,<0.11'
  .venv/bin/python -m experiments.train --config $(printf '%q' "$config") --workdir $(printf '%q' "$workdir") --distributed${overrides}"
