#!/usr/bin/env bash
# CenterNet pose training on one GPU (train.py --config_path configs/centernet_pose.yaml --device_target GPU),
# arguments as the old model zoo's Ascend launcher.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  pose_usage run_standalone_train_gpu.sh "DEVICE_ID MINDRECORD_DIR [CKPT]" train \
    "DEVICE_ID       the GPU to use"
}

pose_train_launcher standalone_gpu "$@"
