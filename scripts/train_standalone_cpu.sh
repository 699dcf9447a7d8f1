#!/usr/bin/env bash
# Train CenterFace on this machine's CPU, one process (train.py --device_target CPU).
set -euo pipefail

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/train_standalone_cpu.sh TRAIN_JSON TRAIN_IMAGE_DIR OUTPUT_PATH [--key value ...]
  TRAIN_JSON       COCO-format face annotations (src/data/prepare_widerface.py or src/data/synthetic.py)
  TRAIN_IMAGE_DIR  folder the json's file_name entries are relative to
  OUTPUT_PATH      run folder: ckpt/0-{epoch}_{step}.ckpt, log_rank0.txt, config.yaml, loss_curve.png, train.log
  --key value      any other train.py option, e.g. --epochs 10 --train_size 320,320 --resume True
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

fail() { echo "error: $*" >&2; exit 2; }
[[ -f "${TRAIN_JSON}" ]] || fail "TRAIN_JSON ${TRAIN_JSON}: no such file"
[[ -d "${IMAGE_DIR}" ]] || fail "TRAIN_IMAGE_DIR ${IMAGE_DIR}: no such folder"

cmd=("${PYTHON}" "${ROOT}/train.py" --device_target CPU --train_json "${TRAIN_JSON}"
     --train_image_dir "${IMAGE_DIR}" --output_path "${OUTPUT_PATH}" "$@")
if [[ "${DRY_RUN:-0}" == "1" ]]; then printf '%q ' "${cmd[@]}"; echo; exit 0; fi
mkdir -p "${OUTPUT_PATH}"
echo "train (CPU): ${TRAIN_JSON} -> ${OUTPUT_PATH}; log ${OUTPUT_PATH}/train.log"
"${cmd[@]}" 2>&1 | tee "${OUTPUT_PATH}/train.log"
