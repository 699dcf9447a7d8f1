#!/usr/bin/env bash
# COCO evaluation of CenterNet checkpoints on this machine's CPU with the old model zoo's arguments (eval.py
# --config_path configs/centernet_pose.yaml --device_target CPU; another model with a trailing --config_path FILE).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() { centernet_usage run_standalone_eval_cpu.sh "RUN_MODE DATA_DIR CKPT" eval; }

check_arguments 3 "" "$@"
centernet_eval CPU "" "$@"
