#!/usr/bin/env bash
# CenterNet training on this machine's CPU, one process, with the old model zoo's arguments (train.py --config_path
# configs/centernet_pose.yaml --device_target CPU; another model with a trailing --config_path FILE).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() { centernet_usage run_standalone_train_cpu.sh "MINDRECORD_DIR [CKPT]" train; }

centernet_train_launcher standalone_cpu "$@"
