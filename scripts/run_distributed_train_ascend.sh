#!/usr/bin/env bash
# Data-parallel CenterNet training on the Ascend NPUs of this server with the old model zoo's arguments: one train.py
# process per device of an HCCL rank table (DEVICE_ID, RANK_ID, RANK_SIZE set per process), or msrun. Pose by
# default; another model with a trailing --config_path FILE.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  centernet_usage run_distributed_train_ascend.sh "MINDRECORD_DIR RANK_TABLE_FILE|DEVICE_NUM [CKPT]" train \
    "RANK_TABLE_FILE HCCL rank table (.json): one process per device of this server (SERVER_ID picks the" \
    "                server of a multi-server table), logs OUTPUT_PATH/log/train_rank{r}.log" \
    "DEVICE_NUM      a number instead: msrun starts DEVICE_NUM workers here (MASTER_PORT, default 8118)," \
    "                logs OUTPUT_PATH/msrun_log/worker_{r}.log"
}

centernet_train_launcher distributed_ascend "$@"
