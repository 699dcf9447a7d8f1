#!/usr/bin/env bash
# Offline inference chain: MindIR export -> preprocess.py -> Ascend 310 runner (or the CPU MindIR runner)
# -> postprocess.py -> WIDER FACE val AP.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/run_infer_310.sh MODEL DATA_DIR GROUND_TRUTH_PATH WORK_DIR [DEVICE_ID] [RUNNER] [INPUT_SIZE]
                                     [--key value ...]
  MODEL              a .mindir exported with batch 1 and INPUT_SIZE, or a .ckpt (exported to WORK_DIR/centerface.mindir)
  DATA_DIR           WIDER val images: DATA_DIR/<event>/<name>.jpg
  GROUND_TRUTH_PATH  folder of wider_face_val.mat and wider_{easy,medium,hard}_val.mat (or one of them)
  WORK_DIR           WORK_DIR/preprocess/{input,meta}, WORK_DIR/result (outputs), WORK_DIR/pred (WIDER files),
                     WORK_DIR/acc.log (AP lines)
  DEVICE_ID          Ascend device, default 0
  RUNNER             ascend (default: builds ascend310_infer/ and runs it) or cpu (src/infer_mindir_cpu.py)
  INPUT_SIZE         H,W of the test canvas, default 832,832 (the old zoo's)
  --key value        other options of preprocess.py / postprocess.py / export.py (e.g. --score_thresh 0.05)
Runs ${PYTHON:-python} (set PYTHON=.venv/bin/python to use the project's virtual environment).
USAGE
}

check_arguments 4 "" "$@"
MODEL="$1"; DATA_DIR="$2"; GT_PATH="$3"; WORK_DIR="$4"
shift 4
DEVICE_ID="0"; RUNNER="ascend"; INPUT_SIZE="832,832"
if next_is_value "$@"; then DEVICE_ID="$1"; shift; fi
if next_is_value "$@"; then RUNNER="$1"; shift; fi
if next_is_value "$@"; then INPUT_SIZE="$1"; shift; fi

require_file MODEL "${MODEL}"
case "${MODEL}" in *.mindir|*.ckpt) ;; *) fail "MODEL ${MODEL}: expected a .mindir or a .ckpt file" ;; esac
require_dir DATA_DIR "${DATA_DIR}"
GT_PATH="$(ground_truth_folder "${GT_PATH}")"
require_nonnegative_int DEVICE_ID "${DEVICE_ID}"
require_choice RUNNER "${RUNNER}" ascend cpu
[[ "${INPUT_SIZE}" =~ ^[0-9]+,[0-9]+$ ]] || fail "INPUT_SIZE ${INPUT_SIZE}: expected H,W (e.g. 832,832)"
INPUT_H="${INPUT_SIZE%,*}"; INPUT_W="${INPUT_SIZE#*,}"

PRE_DIR="${WORK_DIR}/preprocess"; RESULT_DIR="${WORK_DIR}/result"; PRED_DIR="${WORK_DIR}/pred"
mkdir -p "${RESULT_DIR}" "${PRED_DIR}"
# Outputs of an earlier run would be read as this run's.
find "${RESULT_DIR}" -maxdepth 1 -name '*.bin' -delete
find "${PRED_DIR}" -mindepth 2 -maxdepth 2 \( -name '*.txt' -o -name '*.json' \) -delete

if [[ "${MODEL}" == *.ckpt ]]; then
  echo "== export ${MODEL} -> ${WORK_DIR}/centerface.mindir (1x3x${INPUT_H}x${INPUT_W})"
  "${PYTHON}" "${ROOT}/export.py" --ckpt_file "${MODEL}" --file_format MINDIR --file_name "${WORK_DIR}/centerface" \
    --batch_size 1 --input_size "${INPUT_SIZE}" "$@"
  MODEL="${WORK_DIR}/centerface.mindir"
fi

# Exit code 1 of a step means "some images failed, the others are done": go on, and end with 1.
partial=0
step_status() {
  local name="$1" status="$2"
  if [[ ${status} -eq 1 ]]; then
    echo "run_infer_310: ${name} skipped some images (see above); going on with the others" >&2
    partial=1
  elif [[ ${status} -ne 0 ]]; then
    echo "run_infer_310: ${name} failed with exit code ${status}" >&2
    exit "${status}"
  fi
}

echo "== preprocess ${DATA_DIR} -> ${PRE_DIR}"
status=0
"${PYTHON}" "${ROOT}/preprocess.py" --data_dir "${DATA_DIR}" --ground_truth_path "${GT_PATH}" \
  --preprocess_path "${PRE_DIR}" --input_size "${INPUT_SIZE}" "$@" || status=$?
step_status preprocess "${status}"

echo "== infer (${RUNNER}) ${MODEL} -> ${RESULT_DIR}"
status=0
if [[ "${RUNNER}" == "ascend" ]]; then
  BUILD_DIR="${BUILD_DIR:-${ROOT}/ascend310_infer/build}"
  export BUILD_DIR PYTHON
  bash "${ROOT}/ascend310_infer/build.sh"
  "${BUILD_DIR}/main" --mindir_path="${MODEL}" --input_path="${PRE_DIR}/input" --output_path="${RESULT_DIR}" \
    --device_id="${DEVICE_ID}" || status=$?
else
  "${PYTHON}" "${ROOT}/src/infer_mindir_cpu.py" --mindir_path "${MODEL}" --input_path "${PRE_DIR}/input" \
    --output_path "${RESULT_DIR}" --device_id "${DEVICE_ID}" || status=$?
fi
step_status infer "${status}"

echo "== postprocess ${RESULT_DIR} -> ${PRED_DIR}"
status=0
"${PYTHON}" "${ROOT}/postprocess.py" --preprocess_path "${PRE_DIR}" --result_path "${RESULT_DIR}" \
  --save_dir "${PRED_DIR}" --ground_truth_path "${GT_PATH}" "$@" | tee "${WORK_DIR}/acc.log" || status=$?
step_status postprocess "${status}"
exit "${partial}"
