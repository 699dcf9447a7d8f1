#!/usr/bin/env bash
# Data-parallel CenterNet training on this machine's CPU: msrun starts WORKER_NUM train.py processes that all-reduce
# their gradients (train.py --config_path configs/centernet_pose.yaml --is_distributed True; or --config_path FILE).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  centernet_usage run_distributed_train_cpu.sh "WORKER_NUM MINDRECORD_DIR [CKPT]" train \
    "WORKER_NUM      number of training processes (ranks); each reads 1/WORKER_NUM of every epoch" \
    "Environment: MASTER_PORT (default 8118, a free TCP port); logs OUTPUT_PATH/msrun_log/worker_{r}.log."
}

centernet_train_launcher distributed_cpu "$@"
