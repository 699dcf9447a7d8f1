#!/usr/bin/env bash
# Test one checkpoint (or a folder of epoch checkpoints) on the WIDER FACE val images with test.py.
set -euo pipefail

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

if [[ $# -ge 1 && ( "$1" == "-h" || "$1" == "--help" ) ]]; then usage; exit 0; fi
if [[ $# -lt 4 ]]; then
  echo "error: expected at least 4 arguments, got $#" >&2
  usage
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
CKPT_PATH="$1"; DATA_DIR="$2"; GT_PATH="$3"; SAVE_DIR="$4"
shift 4
DEVICE_TARGET="CPU"; DEVICE_ID="0"
if [[ $# -ge 1 && "$1" != --* ]]; then DEVICE_TARGET="$1"; shift; fi
if [[ $# -ge 1 && "$1" != --* ]]; then DEVICE_ID="$1"; shift; fi

fail() { echo "error: $*" >&2; exit 2; }
[[ -e "${CKPT_PATH}" ]] || fail "CKPT_PATH ${CKPT_PATH}: no such checkpoint file or folder"
[[ -d "${DATA_DIR}" ]] || fail "DATA_DIR ${DATA_DIR}: no such folder"
[[ -e "${GT_PATH}" ]] || fail "GROUND_TRUTH_PATH ${GT_PATH}: no such folder or file"
case "${DEVICE_TARGET}" in
  CPU|GPU|Ascend) ;;
  *) fail "DEVICE_TARGET ${DEVICE_TARGET}: expected CPU, GPU or Ascend" ;;
esac
[[ "${DEVICE_ID}" =~ ^[0-9]+$ ]] || fail "DEVICE_ID ${DEVICE_ID}: expected a non-negative integer"

mkdir -p "${SAVE_DIR}"
echo "test: ${CKPT_PATH} on ${DATA_DIR} (${DEVICE_TARGET}:${DEVICE_ID}) -> ${SAVE_DIR}"
"${PYTHON}" "${ROOT}/test.py" --ckpt_path "${CKPT_PATH}" --data_dir "${DATA_DIR}" \
  --ground_truth_path "${GT_PATH}" --save_dir "${SAVE_DIR}" --device_target "${DEVICE_TARGET}" \
  --device_id "${DEVICE_ID}" "$@"
