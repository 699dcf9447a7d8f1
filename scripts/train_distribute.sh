#!/usr/bin/env bash
# Data-parallel CenterFace training on the Ascend NPUs of this server: one train.py process per device of an
# HCCL rank table (DEVICE_ID, RANK_ID, RANK_SIZE set per process, as in the old model zoo), or msrun.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/train_distribute.sh RANK_TABLE_FILE|DEVICE_NUM TRAIN_JSON TRAIN_IMAGE_DIR OUTPUT_PATH
                                        [--key value ...]
  RANK_TABLE_FILE  HCCL rank table (.json): one process per device of this server (SERVER_ID picks the server
                   of a multi-server table), logs OUTPUT_PATH/log/train_rank{r}.log
  DEVICE_NUM       a number instead: msrun starts DEVICE_NUM workers here (MASTER_PORT, default 8118),
                   logs OUTPUT_PATH/msrun_log/worker_{r}.log
  TRAIN_JSON       COCO-format face annotations (src/data/prepare_widerface.py)
  TRAIN_IMAGE_DIR  folder the json's file_name entries are relative to
  OUTPUT_PATH      run folder: ckpt/ (rank 0), log_rank{r}.txt per rank, config.yaml, loss_curve.png
  --key value      any other train.py option, e.g. --lr 0.004 --pretrained_backbone mobilenet_v2.ckpt
Runs ${PYTHON:-python} (e.g. PYTHON=.venv/bin/python; msrun workers use `python` from PATH, so the folder
of ${PYTHON} is put first in PATH); DRY_RUN=1 prints the commands instead of running them.
USAGE
}

check_arguments 4 "" "$@"
DEVICES="$1"; TRAIN_JSON="$2"; IMAGE_DIR="$3"; OUTPUT_PATH="$4"
shift 4

[[ "${DEVICES}" =~ ^[1-9][0-9]*$ || -f "${DEVICES}" ]] ||
  fail "RANK_TABLE_FILE|DEVICE_NUM ${DEVICES}: neither a file nor a positive integer"
require_file TRAIN_JSON "${TRAIN_JSON}"
require_dir TRAIN_IMAGE_DIR "${IMAGE_DIR}"
require_python
distributed_train_args Ascend "${TRAIN_JSON}" "${IMAGE_DIR}" "${OUTPUT_PATH}" "$@"

if [[ "${DEVICES}" =~ ^[0-9]+$ ]]; then
  msrun_command "${DEVICES}" "${OUTPUT_PATH}" "${train[@]}"
  launch_distributed "${OUTPUT_PATH}" msrun_log "${MSRUN_BIN_DIR}" ""
  exit 0
fi

launch_rank_table "${DEVICES}" "${OUTPUT_PATH}" train_distribute
