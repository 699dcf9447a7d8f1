#!/usr/bin/env bash
# COCO evaluation of CenterNet checkpoints on one NPU with the old model zoo's arguments (eval.py --config_path
# configs/centernet_pose.yaml --device_target Ascend; another model with a trailing --config_path FILE).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  centernet_usage run_standalone_eval_ascend.sh "DEVICE_ID RUN_MODE DATA_DIR CKPT" eval \
    "DEVICE_ID       the NPU to use"
}

check_arguments 4 "" "$@"
centernet_eval Ascend "$@"
