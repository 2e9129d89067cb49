#!/usr/bin/env bash
# Evaluation on a Slurm cluster, one task per GPU:
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] \
#   bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [args of tools/test.py]
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [args of tools/test.py]" >&2
    exit 2
fi
DIR=$(cd "$(dirname "$0")" && pwd)
exec bash "$DIR/slurm_srun.sh" "$1" "$2" \
    python -u "$DIR/test.py" "$3" "$4" --launcher slurm "${@:5}"
