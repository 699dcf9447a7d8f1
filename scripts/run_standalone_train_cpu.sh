#!/usr/bin/env bash
# CenterNet pose training on this machine's CPU, one process, with the old model zoo's arguments (train.py
# --config_path configs/centernet_pose.yaml --device_target CPU).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() { pose_usage run_standalone_train_cpu.sh "MINDRECORD_DIR [CKPT]" train; }

pose_train_launcher standalone_cpu "$@"
