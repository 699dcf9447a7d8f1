#!/usr/bin/env bash
# Train CenterFace on one Ascend device (train.py --device_target Ascend --device_id DEVICE_ID).
set -euo pipefail

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/train_standalone.sh TRAIN_JSON TRAIN_IMAGE_DIR OUTPUT_PATH [DEVICE_ID] [--key value ...]
  TRAIN_JSON       COCO-format face annotations (src/data/prepare_widerface.py or src/data/synthetic.py)
  TRAIN_IMAGE_DIR  folder the json's file_name entries are relative to
  OUTPUT_PATH      run folder: ckpt/0-{epoch}_{step}.ckpt, log_rank0.txt, config.yaml, loss_curve.png, train.log
  DEVICE_ID        device to use (default 0)
  --key value      any other train.py option, e.g. --pretrained_backbone mobilenet_v2.ckpt --resume True
Runs ${PYTHON:-python} (set PYTHON=.venv/bin/python to use the project's virtual environment);
DRY_RUN=1 prints the command instead of running it.
USAGE
}

if [[ $# -ge 1 && ( "$1" == "-h" || "$1" == "--help" ) ]]; then usage; exit 0; fi
if [[ $# -lt 3 ]]; then
  echo "error: expected at least 3 arguments, got $#" >&2
  usage
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
TRAIN_JSON="$1"; IMAGE_DIR="$2"; OUTPUT_PATH="$3"
shift 3
DEVICE_ID="0"
if [[ $# -ge 1 && "$1" != --* ]]; then DEVICE_ID="$1"; shift; fi

fail() { echo "error: $*" >&2; exit 2; }
[[ -f "${TRAIN_JSON}" ]] || fail "TRAIN_JSON ${TRAIN_JSON}: no such file"
[[ -d "${IMAGE_DIR}" ]] || fail "TRAIN_IMAGE_DIR ${IMAGE_DIR}: no such folder"
[[ "${DEVICE_ID}" =~ ^[0-9]+$ ]] || fail "DEVICE_ID ${DEVICE_ID}: expected a non-negative integer"

cmd=("${PYTHON}" "${ROOT}/train.py" --device_target Ascend --device_id "${DEVICE_ID}"
     --train_json "${TRAIN_JSON}" --train_image_dir "${IMAGE_DIR}" --output_path "${OUTPUT_PATH}" "$@")
if [[ "${DRY_RUN:-0}" == "1" ]]; then printf '%q ' "${cmd[@]}"; echo; exit 0; fi
mkdir -p "${OUTPUT_PATH}"
echo "train (Ascend:${DEVICE_ID}): ${TRAIN_JSON} -> ${OUTPUT_PATH}; log ${OUTPUT_PATH}/train.log"
"${cmd[@]}" 2>&1 | tee "${OUTPUT_PATH}/train.log"
