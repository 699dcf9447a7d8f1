#!/usr/bin/env bash
# CenterNet training on one Ascend NPU with the old model zoo's arguments (train.py --config_path
# configs/centernet_pose.yaml --device_target Ascend; another model with a trailing --config_path FILE).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  centernet_usage run_standalone_train_ascend.sh "DEVICE_ID MINDRECORD_DIR [CKPT]" train \
    "DEVICE_ID       the NPU to use"
}

centernet_train_launcher standalone_ascend "$@"
