#!/usr/bin/env bash
# Test one checkpoint (or a folder of epoch checkpoints) on the WIDER FACE val images with test.py.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/test.sh CKPT_PATH DATA_DIR GROUND_TRUTH_PATH SAVE_DIR [DEVICE_TARGET] [DEVICE_ID]
                            [--key value ...]
  CKPT_PATH          a checkpoint file, or a folder of 0-{epoch}_{step}.ckpt files (add --start E1 --end E2)
  DATA_DIR           WIDER val images: DATA_DIR/<event>/<name>.jpg
  GROUND_TRUTH_PATH  folder of wider_face_val.mat (or the file)
  SAVE_DIR           results: SAVE_DIR/<ckpt stem>/<event>/<name>.txt (+ .json with landmarks)
  DEVICE_TARGET      CPU (default), GPU or Ascend;  DEVICE_ID  default 0
  --key value        any other test.py option, e.g. --multi_scale True --flip_test True --nms soft_gaussian
Runs ${PYTHON:-python} (set PYTHON=.venv/bin/python to use the project's virtual environment).
USAGE
}

check_arguments 4 "" "$@"
CKPT_PATH="$1"; DATA_DIR="$2"; GT_PATH="$3"; SAVE_DIR="$4"
shift 4
DEVICE_TARGET="CPU"; DEVICE_ID="0"
if next_is_value "$@"; then DEVICE_TARGET="$1"; shift; fi
if next_is_value "$@"; then DEVICE_ID="$1"; shift; fi

require_path CKPT_PATH "${CKPT_PATH}" "checkpoint file or folder"
require_dir DATA_DIR "${DATA_DIR}"
require_path GROUND_TRUTH_PATH "${GT_PATH}" "folder or file"
require_choice DEVICE_TARGET "${DEVICE_TARGET}" CPU GPU Ascend
require_nonnegative_int DEVICE_ID "${DEVICE_ID}"

mkdir -p "${SAVE_DIR}"
echo "test: ${CKPT_PATH} on ${DATA_DIR} (${DEVICE_TARGET}:${DEVICE_ID}) -> ${SAVE_DIR}"
test_py "${CKPT_PATH}" "${DATA_DIR}" "${GT_PATH}" "${SAVE_DIR}" "${DEVICE_TARGET}" "${DEVICE_ID}" "$@"
