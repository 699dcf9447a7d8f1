# shellcheck shell=bash
# The CenterFace launchers of the old model zoo (WIDER FACE): the test.py / eval.py invocations of test.sh,
# test_distribute.sh, eval.sh and eval_all.sh, the standalone training launcher and the train.py arguments of
# one rank of the distributed ones (train_distribute{,_gpu,_cpu}.sh).
# Sourced by scripts/common.sh (which sets ROOT and PYTHON), never on its own.

# test_py CKPT_PATH DATA_DIR GT_PATH SAVE_DIR DEVICE_TARGET DEVICE_ID TEST_PY_ARGS...: runs test.py.
test_py() {
  "${PYTHON}" "${ROOT}/test.py" --ckpt_path "$1" --data_dir "$2" --ground_truth_path "$3" --save_dir "$4" \
    --device_target "$5" --device_id "$6" "${@:7}"
}

# eval_py PRED_DIR GT_DIR IOU: runs eval.py on one result folder; it prints the Easy / Medium / Hard Val AP
# lines and writes PRED_DIR/eval.json.
eval_py() {
  "${PYTHON}" "${ROOT}/eval.py" --pred "$1" --gt "$2" --eval_iou "$3" --eval_json "$1/eval.json"
}

# train_standalone_usage DEVICE_TARGET: the usage text of train_standalone.sh (Ascend), train_standalone_gpu.sh
# or train_standalone_cpu.sh (no DEVICE_ID: one CPU process).
train_standalone_usage() {
  local script="train_standalone.sh" device_id=" [DEVICE_ID]" example="--pretrained_backbone mobilenet_v2.ckpt"
  if [[ "$1" == GPU ]]; then script="train_standalone_gpu.sh"; fi
  if [[ "$1" == CPU ]]; then
    script="train_standalone_cpu.sh" device_id="" example="--epochs 10 --train_size 320,320"
  fi
  {
    echo "usage: bash scripts/${script} TRAIN_JSON TRAIN_IMAGE_DIR OUTPUT_PATH${device_id} [--key value ...]"
    cat <<'USAGE'
  TRAIN_JSON       COCO-format face annotations (src/data/prepare_widerface.py or src/data/synthetic.py)
  TRAIN_IMAGE_DIR  folder the json's file_name entries are relative to
  OUTPUT_PATH      run folder: ckpt/0-{epoch}_{step}.ckpt, log_rank0.txt, config.yaml, loss_curve.png, train.log
USAGE
    if [[ -n "${device_id}" ]]; then echo "  DEVICE_ID        device to use (default 0)"; fi
    echo "  --key value      any other train.py option, e.g. ${example} --resume True"
    cat <<'USAGE'
Runs ${PYTHON:-python} (set PYTHON=.venv/bin/python to use the project's virtual environment);
DRY_RUN=1 prints the command instead of running it.
USAGE
  } >&2
}

# train_standalone DEVICE_TARGET "$@": all of train_standalone{,_gpu,_cpu}.sh after their usage(). Arguments:
# TRAIN_JSON TRAIN_IMAGE_DIR OUTPUT_PATH, then (GPU, Ascend) an optional DEVICE_ID (default 0), then train.py
# options. Runs train.py in the foreground with its output also in OUTPUT_PATH/train.log; the exit code is
# train.py's (pipefail).
train_standalone() {
  local target="$1"
  shift
  check_arguments 3 "" "$@"
  local train_json="$1" image_dir="$2" output_path="$3" device_id="" device=()
  shift 3
  if [[ "${target}" != CPU ]]; then
    device_id="0"
    if next_is_value "$@"; then device_id="$1"; shift; fi
  fi
  require_file TRAIN_JSON "${train_json}"
  require_dir TRAIN_IMAGE_DIR "${image_dir}"
  if [[ "${target}" != CPU ]]; then
    require_nonnegative_int DEVICE_ID "${device_id}"
    device=(--device_id "${device_id}")
  fi
  # shellcheck disable=SC2034  # read by run_logged (lib/run.sh)
  cmd=("${PYTHON}" "${ROOT}/train.py" --device_target "${target}" "${device[@]}"
       --train_json "${train_json}" --train_image_dir "${image_dir}" --output_path "${output_path}" "$@")
  run_logged "${output_path}" train.log \
    "train (${target}${device_id:+:${device_id}}): ${train_json} -> ${output_path}; log ${output_path}/train.log"
}

# distributed_train_args DEVICE_TARGET TRAIN_JSON TRAIN_IMAGE_DIR OUTPUT_PATH TRAIN_PY_ARGS...: sets the global
# array `train` to train.py and its arguments for one rank of a data-parallel run.
distributed_train_args() {
  # shellcheck disable=SC2034  # used by the sourcing script
  train=("${ROOT}/train.py" --is_distributed True --device_target "$1" --train_json "$2" --train_image_dir "$3"
         --output_path "$4" "${@:5}")
}
