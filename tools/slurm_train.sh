#!/usr/bin/env bash
# Training on a Slurm cluster, one task per GPU:
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] \
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [args of tools/train.py]
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [args of tools/train.py]" >&2
    exit 2
fi
DIR=$(cd "$(dirname "$0")" && pwd)
exec bash "$DIR/slurm_srun.sh" "$1" "$2" \
    python -u "$DIR/train.py" "$3" --work-dir "$4" --launcher slurm "${@:5}"
