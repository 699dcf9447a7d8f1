#!/usr/bin/env bash
# COCO keypoint evaluation of CenterNet pose checkpoints on one NPU with the old model zoo's arguments (eval.py
# --config_path configs/centernet_pose.yaml --device_target Ascend).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  pose_usage run_standalone_eval_ascend.sh "DEVICE_ID RUN_MODE DATA_DIR CKPT" eval \
    "DEVICE_ID       the NPU to use"
}

check_arguments 4 "" "$@"
pose_eval Ascend "$@"
