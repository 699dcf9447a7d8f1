# shellcheck shell=bash
# The CenterNet launchers (run_{standalone,distributed}_train_*.sh, run_standalone_eval_*.sh) and the model config
# every config-driven launcher takes (centernet_config).
# Sourced by scripts/common.sh (which sets ROOT and PYTHON), never on its own.
#
# The old model zoo's launchers (research/cv/centernet: run_standalone_train_ascend.sh DEVICE_ID MINDRECORD_DIR
# [CKPT], run_distributed_train_ascend.sh MINDRECORD_DIR RANK_TABLE [CKPT], run_standalone_train_cpu.sh
# MINDRECORD_DIR [CKPT], run_standalone_eval_{ascend,cpu}.sh ...) with their argument lists, plus the GPU and CPU
# data-parallel ones. They run in the foreground (the zoo's went to the background) and write under one folder.
# They serve every CenterNet model: the zoo's pose model by default, another one by its config, given as a
# trailing `--config_path FILE` (like any train.py/eval.py option) or as CONFIG=FILE in the environment.
POSE_CONFIG="${ROOT}/configs/centernet_pose.yaml"

# centernet_config ARG...: the model config of a CenterNet launcher (model_config, lib/config.sh; default: the pose
# config). Sets CENTERNET_CONFIG to it, CENTERNET_CONFIG_GIVEN (1 when it was given, 0 for the default) and
# CENTERNET_MODEL to a short name for messages and default folders (the file name without .yaml and without a
# leading "centernet_": pose, det, ...), and the array `centernet_args` = the ARGs without --config_path (it is
# given once, first).
centernet_config() {
  local name
  model_config "${POSE_CONFIG}" "$@"
  # shellcheck disable=SC2154  # model_args: set by model_config (lib/config.sh)
  centernet_args=("${model_args[@]}")
  # shellcheck disable=SC2034  # used by the sourcing script
  CENTERNET_CONFIG_GIVEN="${MODEL_CONFIG_GIVEN}"
  CENTERNET_CONFIG="${MODEL_CONFIG}"
  name="$(basename "${CENTERNET_CONFIG}")"
  name="${name%.yaml}"
  # shellcheck disable=SC2034  # used by the sourcing script
  CENTERNET_MODEL="${name#centernet_}"
}

# centernet_usage SCRIPT ARGUMENTS KIND LINE...: the usage of a CenterNet launcher: "usage: bash scripts/SCRIPT
# ARGUMENTS [--key value ...]", one LINE per argument of its own, then the lines every KIND (train or eval)
# launcher shares.
centernet_usage() {
  local script="$1" arguments="$2" kind="$3"
  shift 3
  {
    echo "usage: bash scripts/${script} ${arguments} [--key value ...]"
    printf '  %s\n' "$@"
    if [[ "${kind}" == train ]]; then
      cat <<USAGE
  MINDRECORD_DIR  the MindRecord shards of scripts/convert_dataset_to_mindrecord.sh (pose: coco_hp.train.mind*;
                  detection: coco_det.train.mind*), or a COCO folder (annotations/person_keypoints_train2017.json
                  or instances_train2017.json, and train2017/), read directly
  CKPT            optional initial weights (--load_checkpoint_path): a converted original CenterNet checkpoint or
                  an ImageNet backbone (src/convert_weight_centernet.py); "" or nothing for none
  --key value     any other train.py option, e.g. --epochs 10 --batch_size 8 --resume True; --output_path DIR
                  (default outputs/train_<model>: outputs/train_pose, outputs/train_det): ckpt/0-{epoch}_{step}.ckpt,
                  log_rank{r}.txt, config.yaml, loss_history.csv, loss_curve.png
USAGE
    else
      cat <<USAGE
  RUN_MODE        val (val2017 + its annotations: results and COCO AP) or test (test-dev images: results only)
  DATA_DIR        the COCO folder
  CKPT            a checkpoint, or a folder of 0-{epoch}_{step}.ckpt files (with --start E1 --end E2)
  --key value     any other eval.py option, e.g. --flip_test True --keep_res True --visual_image True;
                  --output_path DIR (default outputs/eval_<model>; the zoo's --save_result_dir too):
                  DIR/<ckpt stem>/RUN_MODE_pred_eval.json, DIR/eval.log
USAGE
    fi
    echo "The model: configs/centernet_pose.yaml (CenterNet pose, the default), or the config given as a trailing"
    echo "--config_path FILE or as CONFIG=FILE (e.g. configs/centernet_det.yaml for CenterNet object detection)."
    echo "Runs \${PYTHON:-python} (e.g. PYTHON=.venv/bin/python); DRY_RUN=1 prints the command(s) instead."
  } >&2
}

# centernet_train_args DEVICE_TARGET DEVICE_ID MINDRECORD_DIR CKPT TRAIN_PY_ARGS...: checks DEVICE_ID (empty: no
# --device_id), MINDRECORD_DIR (a folder; one with annotations/ is read as a COCO folder), CKPT (empty: none) and
# the config (centernet_config), then sets OUTPUT_PATH (see output_path_option; default
# outputs/train_<model>) and the global array `train` = train.py and its arguments for one process.
centernet_train_args() {
  local target="$1" device_id="$2" data_dir="$3" ckpt="$4" device=() data=() init=()
  shift 4
  if [[ -n "${device_id}" ]]; then
    require_nonnegative_int DEVICE_ID "${device_id}"
    device=(--device_id "${device_id}")
  fi
  require_dir MINDRECORD_DIR "${data_dir}"
  data=(--mindrecord_dir "${data_dir}")
  if [[ -d "${data_dir}/annotations" ]]; then data=(--data_dir "${data_dir}"); fi
  if [[ -n "${ckpt}" ]]; then
    require_file CKPT "${ckpt}"
    init=(--load_checkpoint_path "${ckpt}")
  fi
  centernet_config "$@"
  OUTPUT_PATH="$(output_path_option "${CENTERNET_CONFIG}" "outputs/train_${CENTERNET_MODEL}" \
    "${centernet_args[@]}")" || exit 2
  # shellcheck disable=SC2034  # used by the sourcing script
  train=("${ROOT}/train.py" --config_path "${CENTERNET_CONFIG}" --device_target "${target}" "${device[@]}"
         "${data[@]}" "${init[@]}" --output_path "${OUTPUT_PATH}" "${centernet_args[@]}")
}

# centernet_train_standalone: runs `train` (centernet_train_args) as one process, its output also in
# OUTPUT_PATH/train.log.
centernet_train_standalone() {
  cmd=("${PYTHON}" "${train[@]}")
  run_logged "${OUTPUT_PATH}" train.log \
    "train CenterNet ${CENTERNET_MODEL} -> ${OUTPUT_PATH}; log ${OUTPUT_PATH}/train.log"
}

# centernet_train_msrun WORKERS: runs `train` (centernet_train_args) data-parallel in WORKERS local msrun workers.
centernet_train_msrun() {
  train+=(--is_distributed True)
  msrun_command "$1" "${OUTPUT_PATH}" "${train[@]}"
  launch_distributed "${OUTPUT_PATH}" msrun_log "${MSRUN_BIN_DIR}" \
    "train CenterNet ${CENTERNET_MODEL} (${1} workers, msrun) -> ${OUTPUT_PATH}; logs ${OUTPUT_PATH}/msrun_log/"
}

# centernet_train_launcher KIND "$@": the whole of a CenterNet training launcher after its usage(), KIND naming it:
# standalone_{ascend,gpu} DEVICE_ID MINDRECORD_DIR [CKPT], standalone_cpu MINDRECORD_DIR [CKPT],
# distributed_ascend MINDRECORD_DIR RANK_TABLE_FILE|DEVICE_NUM [CKPT], distributed_gpu DEVICE_NUM MINDRECORD_DIR
# [CKPT] (LAUNCHER msrun or mpirun), distributed_cpu WORKER_NUM MINDRECORD_DIR [CKPT] (msrun); then train.py
# options (--config_path among them picks the model). An empty CKPT ("", the zoo's way of giving none) is no
# checkpoint.
centernet_train_launcher() {
  local kind="$1" target=Ascend first="" data ckpt=""
  shift
  case "${kind}" in
    *_gpu) target=GPU ;;
    *_cpu) target=CPU ;;
  esac
  if [[ "${kind}" == standalone_cpu ]]; then
    check_arguments 1 "" "$@"
    data="$1"
    shift
  else
    check_arguments 2 "" "$@"
    first="$1"; data="$2"
    if [[ "${kind}" == distributed_ascend ]]; then first="$2"; data="$1"; fi
    shift 2
  fi
  if next_is_value "$@"; then ckpt="$1"; shift; fi
  case "${kind}" in
    standalone_*)
      centernet_train_args "${target}" "${first}" "${data}" "${ckpt}" "$@"
      centernet_train_standalone ;;
    distributed_cpu)
      require_positive_int WORKER_NUM "${first}"
      centernet_train_args CPU "" "${data}" "${ckpt}" "$@"
      centernet_train_msrun "${first}" ;;
    distributed_gpu)
      require_positive_int DEVICE_NUM "${first}"
      centernet_train_args GPU "" "${data}" "${ckpt}" "$@"
      train+=(--is_distributed True)
      launch_gpu "${first}" "${OUTPUT_PATH}" \
        "train CenterNet ${CENTERNET_MODEL} (GPU x ${first}, ${LAUNCHER:-msrun}) -> ${OUTPUT_PATH}" ;;
    distributed_ascend)
      [[ "${first}" =~ ^[1-9][0-9]*$ || -f "${first}" ]] ||
        fail "RANK_TABLE_FILE|DEVICE_NUM ${first}: neither a file nor a positive integer"
      centernet_train_args Ascend "" "${data}" "${ckpt}" "$@"
      if [[ "${first}" =~ ^[0-9]+$ ]]; then
        centernet_train_msrun "${first}"
      else
        require_python
        train+=(--is_distributed True)
        launch_rank_table "${first}" "${OUTPUT_PATH}" run_distributed_train_ascend
      fi ;;
    *) fail "centernet_train_launcher: unknown launcher kind ${kind}" ;;
  esac
  if [[ "${kind}" == distributed_* ]]; then
    echo "run_${kind%_*}_train_${kind##*_}: done; per-rank logs ${OUTPUT_PATH}/log_rank*.txt, checkpoints" \
      "${OUTPUT_PATH}/ckpt/"
  fi
}

# centernet_eval DEVICE_TARGET DEVICE_ID RUN_MODE DATA_DIR CKPT EVAL_PY_ARGS...: checks the arguments and runs
# eval.py with the model's config (centernet_config) on CKPT (with --device_id unless DEVICE_ID is empty), its
# output also in OUTPUT_PATH/eval.log (default outputs/eval_<model>).
centernet_eval() {
  local target="$1" device_id="$2" run_mode="$3" data_dir="$4" ckpt="$5" device=() output_path
  shift 5
  if [[ -n "${device_id}" ]]; then
    require_nonnegative_int DEVICE_ID "${device_id}"
    device=(--device_id "${device_id}")
  fi
  require_choice RUN_MODE "${run_mode}" val test
  require_dir DATA_DIR "${data_dir}"
  require_path CKPT "${ckpt}" "checkpoint file or folder"
  centernet_config "$@"
  output_path="$(output_path_option "${CENTERNET_CONFIG}" "outputs/eval_${CENTERNET_MODEL}" \
    "${centernet_args[@]}")" || exit 2
  # shellcheck disable=SC2034  # read by run_logged (lib/run.sh)
  cmd=("${PYTHON}" "${ROOT}/eval.py" --config_path "${CENTERNET_CONFIG}" --device_target "${target}" "${device[@]}"
       --run_mode "${run_mode}" --data_dir "${data_dir}" --load_checkpoint_path "${ckpt}"
       --output_path "${output_path}" "${centernet_args[@]}")
  run_logged "${output_path}" eval.log \
    "eval CenterNet ${CENTERNET_MODEL} (${target}${device_id:+:${device_id}}, ${run_mode}): ${ckpt} -> ${output_path}"
}
