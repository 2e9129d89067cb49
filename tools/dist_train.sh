#!/usr/bin/env bash
# Distributed training with torchrun:  bash tools/dist_train.sh CONFIG NUM_PROCS [args]
# Works on GPUs (NCCL) and on CPU-only machines (gloo).
set -euo pipefail
DIR=$(cd "$(dirname "$0")" && pwd)
exec bash "$DIR/dist_run.sh" "$2" "$DIR/train.py" "$1" --launcher pytorch "${@:3}"
