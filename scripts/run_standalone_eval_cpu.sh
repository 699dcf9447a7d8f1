#!/usr/bin/env bash
# COCO keypoint evaluation of CenterNet pose checkpoints on this machine's CPU with the old model zoo's arguments
# (eval.py --config_path configs/centernet_pose.yaml --device_target CPU).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() { pose_usage run_standalone_eval_cpu.sh "RUN_MODE DATA_DIR CKPT" eval; }

check_arguments 3 "" "$@"
pose_eval CPU "" "$@"
