#!/usr/bin/env bash
# Distributed evaluation with torchrun:  bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [args]
# The args are tools/test.py's (--out, --split, --show-dir, --cfg-options ...).
# Works on GPUs (NCCL) and on CPU-only machines (gloo).
set -euo pipefail
DIR=$(cd "$(dirname "$0")" && pwd)
exec bash "$DIR/dist_run.sh" "$3" "$DIR/test.py" "$1" "$2" --launcher pytorch "${@:4}"
