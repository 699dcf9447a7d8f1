#!/usr/bin/env bash
# Offline inference chain of any model: MindIR export -> preprocess.py -> Ascend 310 runner (or the CPU MindIR
# runner) -> postprocess.py -> the model's metrics (CenterFace: WIDER FACE val AP; CenterNet: COCO AP).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/run_infer_310.sh MODEL DATA_DIR GROUND_TRUTH_PATH WORK_DIR [DEVICE_ID] [RUNNER] [INPUT_SIZE]
                                     [--key value ...]                 (CenterFace, the default config)
       bash scripts/run_infer_310.sh MODEL COCO_DIR WORK_DIR [DEVICE_ID] [RUNNER] [INPUT_SIZE] [--key value ...]
                                     --config_path FILE                (CenterNet pose or detection: a COCO model)
  MODEL              a .mindir exported with batch 1 and INPUT_SIZE, or a .ckpt (exported to WORK_DIR/<task>.mindir,
                     <task> the config's: centerface, centernet_pose, centernet_det)
  DATA_DIR           WIDER val images: DATA_DIR/<event>/<name>.jpg
  GROUND_TRUTH_PATH  folder of wider_face_val.mat and wider_{easy,medium,hard}_val.mat (or one of them)
  COCO_DIR           the COCO folder: annotations/ (person_keypoints_val2017.json or instances_val2017.json) and
                     val2017/ (--run_mode test: test2017/ and image_info_test-dev2017.json, results only)
  WORK_DIR           WORK_DIR/preprocess/{input,meta}, WORK_DIR/result (outputs), WORK_DIR/pred (result files:
                     WIDER files, or val_pred_eval.json), WORK_DIR/acc.log (the metrics printed)
  DEVICE_ID          Ascend device, default 0
  RUNNER             ascend (default: builds ascend310_infer/ and runs it) or cpu (src/infer_mindir_cpu.py)
  INPUT_SIZE         H,W of the fixed network input, default the config's (CenterFace 832,832 as the old zoo;
                     CenterNet 512,512)
  --key value        other options of preprocess.py / postprocess.py / export.py (e.g. --score_thresh 0.05)
  --config_path FILE the model (or CONFIG=FILE): default default_config.yaml (CenterFace); a config without
                     ground_truth_path (configs/centernet_pose.yaml, configs/centernet_det.yaml) takes the COCO form
Runs ${PYTHON:-python} (set PYTHON=.venv/bin/python to use the project's virtual environment); DRY_RUN=1 prints the
commands instead of running them.
USAGE
}

model_config "${ROOT}/default_config.yaml" "$@"
set -- "${model_args[@]}"
config=()
# A model whose evaluation reads a ground-truth path (its config has ground_truth_path) takes GROUND_TRUTH_PATH; a
# COCO model finds its annotations in COCO_DIR. The default config (CenterFace, the old zoo's form) is the former:
# not asked, so that this form with a .mindir and an INPUT_SIZE runs no Python before preprocess.py.
with_gt=1
if [[ "${MODEL_CONFIG_GIVEN}" == 1 ]]; then
  config=(--config_path "${MODEL_CONFIG}")
  config_values "${MODEL_CONFIG}" preprocess task input_size ground_truth_path
  [[ -v CONFIG_VALUES[ground_truth_path] ]] || with_gt=0
fi

if [[ ${with_gt} == 1 ]]; then
  check_arguments 4 "" "$@"
  MODEL="$1"; DATA_DIR="$2"; GT_PATH="$3"; WORK_DIR="$4"
  shift 4
else
  check_arguments 3 "" "$@"
  MODEL="$1"; DATA_DIR="$2"; WORK_DIR="$3"
  shift 3
fi
DEVICE_ID="0"; RUNNER="ascend"; INPUT_SIZE=""
if next_is_value "$@"; then DEVICE_ID="$1"; shift; fi
if next_is_value "$@"; then RUNNER="$1"; shift; fi
if next_is_value "$@"; then INPUT_SIZE="$1"; shift; fi

require_file MODEL "${MODEL}"
case "${MODEL}" in *.mindir|*.ckpt) ;; *) fail "MODEL ${MODEL}: expected a .mindir or a .ckpt file" ;; esac
ground_truth=()
if [[ ${with_gt} == 1 ]]; then
  require_dir DATA_DIR "${DATA_DIR}"
  GT_PATH="$(ground_truth_folder "${GT_PATH}")"
  ground_truth=(--ground_truth_path "${GT_PATH}")
else
  require_dir COCO_DIR "${DATA_DIR}"
fi
require_nonnegative_int DEVICE_ID "${DEVICE_ID}"
require_choice RUNNER "${RUNNER}" ascend cpu
if [[ -n "${INPUT_SIZE}" ]]; then
  [[ "${INPUT_SIZE}" =~ ^[0-9]+,[0-9]+$ ]] || fail "INPUT_SIZE ${INPUT_SIZE}: expected H,W (e.g. 832,832)"
fi
# The config's task names the MindIR, and its input size is the default (asked of the default config only then).
if [[ ( "${MODEL}" == *.ckpt || -z "${INPUT_SIZE}" ) && "${MODEL_CONFIG_GIVEN}" == 0 ]]; then
  config_values "${MODEL_CONFIG}" preprocess task input_size
fi
INPUT_SIZE="${INPUT_SIZE:-${CONFIG_VALUES[input_size]:-}}"
[[ "${INPUT_SIZE}" =~ ^[0-9]+,[0-9]+$ ]] ||
  fail "INPUT_SIZE: ${MODEL_CONFIG} has no fixed input_size (${INPUT_SIZE:-[]}); give H,W"

PRE_DIR="${WORK_DIR}/preprocess"; RESULT_DIR="${WORK_DIR}/result"; PRED_DIR="${WORK_DIR}/pred"
if ! is_dry_run; then
  mkdir -p "${RESULT_DIR}" "${PRED_DIR}"
  # Outputs of an earlier run would be read as this run's.
  find "${RESULT_DIR}" -maxdepth 1 -name '*.bin' -delete
  find "${PRED_DIR}" -mindepth 2 -maxdepth 2 \( -name '*.txt' -o -name '*.json' \) -delete
fi

# Exit code 1 of a step means "some images failed, the others are done": go on, and end with 1.
partial=0
# run_step NAME ANNOUNCE [LOG]: prints ANNOUNCE and runs `cmd`, its output also written to LOG if given (DRY_RUN=1:
# prints the command); exit code 1 is noted, any other failure ends the chain with its code.
run_step() {
  local name="$1" status=0
  if is_dry_run; then print_command "${cmd[@]}"; return 0; fi
  echo "$2"
  if [[ $# -ge 3 ]]; then "${cmd[@]}" | tee "$3" || status=$?; else "${cmd[@]}" || status=$?; fi
  if [[ ${status} -eq 1 ]]; then
    echo "run_infer_310: ${name} skipped some images (see above); going on with the others" >&2
    partial=1
  elif [[ ${status} -ne 0 ]]; then
    echo "run_infer_310: ${name} failed with exit code ${status}" >&2
    exit "${status}"
  fi
}

if [[ "${MODEL}" == *.ckpt ]]; then
  MINDIR="${WORK_DIR}/${CONFIG_VALUES[task]}.mindir"
  cmd=("${PYTHON}" "${ROOT}/export.py" "${config[@]}" --ckpt_path "${MODEL}" --file_format MINDIR
       --file_name "${MINDIR%.mindir}" --batch_size 1 --input_size "${INPUT_SIZE}" "$@")
  run_step export "== export ${MODEL} -> ${MINDIR} (1x3x${INPUT_SIZE/,/x})"
  MODEL="${MINDIR}"
fi

cmd=("${PYTHON}" "${ROOT}/preprocess.py" "${config[@]}" --data_dir "${DATA_DIR}" "${ground_truth[@]}"
     --preprocess_path "${PRE_DIR}" --input_size "${INPUT_SIZE}" "$@")
run_step preprocess "== preprocess ${DATA_DIR} -> ${PRE_DIR}"

if [[ "${RUNNER}" == "ascend" ]]; then
  BUILD_DIR="${BUILD_DIR:-${ROOT}/ascend310_infer/build}"
  export BUILD_DIR PYTHON
  cmd=(bash "${ROOT}/ascend310_infer/build.sh")
  if is_dry_run; then print_command "${cmd[@]}"; else "${cmd[@]}"; fi  # its failure ends the chain (set -e)
  cmd=("${BUILD_DIR}/main" --mindir_path="${MODEL}" --input_path="${PRE_DIR}/input" --output_path="${RESULT_DIR}"
       --device_id="${DEVICE_ID}")
else
  cmd=("${PYTHON}" "${ROOT}/src/infer_mindir_cpu.py" --mindir_path "${MODEL}" --input_path "${PRE_DIR}/input"
       --output_path "${RESULT_DIR}" --device_id "${DEVICE_ID}")
fi
run_step infer "== infer (${RUNNER}) ${MODEL} -> ${RESULT_DIR}"

# The metrics need the ground truth: CenterFace's GROUND_TRUTH_PATH, a COCO model's annotations in COCO_DIR.
data=(--data_dir "${DATA_DIR}")
if [[ ${with_gt} == 1 ]]; then data=("${ground_truth[@]}"); fi
cmd=("${PYTHON}" "${ROOT}/postprocess.py" "${config[@]}" --preprocess_path "${PRE_DIR}" --result_path "${RESULT_DIR}"
     --output_path "${PRED_DIR}" "${data[@]}" --input_size "${INPUT_SIZE}" "$@")
run_step postprocess "== postprocess ${RESULT_DIR} -> ${PRED_DIR}" "${WORK_DIR}/acc.log"
exit "${partial}"
