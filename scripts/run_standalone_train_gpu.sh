#!/usr/bin/env bash
# CenterNet training on one GPU (train.py --config_path configs/centernet_pose.yaml --device_target GPU; another model
# with a trailing --config_path FILE), arguments as the old model zoo's Ascend launcher.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  centernet_usage run_standalone_train_gpu.sh "DEVICE_ID MINDRECORD_DIR [CKPT]" train \
    "DEVICE_ID       the GPU to use"
}

centernet_train_launcher standalone_gpu "$@"
