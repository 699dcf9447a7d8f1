#!/usr/bin/env bash
# Data-parallel CenterNet training on DEVICE_NUM GPUs of this server, started by msrun (default) or mpirun (train.py
# --config_path configs/centernet_pose.yaml --is_distributed True --device_target GPU; or a trailing --config_path).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  centernet_usage run_distributed_train_gpu.sh "DEVICE_NUM MINDRECORD_DIR [CKPT]" train \
    "DEVICE_NUM      number of GPUs (one process each; CUDA_VISIBLE_DEVICES picks which)" \
    "Environment: LAUNCHER msrun (default; MASTER_PORT, default 8118; logs OUTPUT_PATH/msrun_log/worker_{r}.log)" \
    "or mpirun (logs OUTPUT_PATH/mpirun_log/)."
}

centernet_train_launcher distributed_gpu "$@"
