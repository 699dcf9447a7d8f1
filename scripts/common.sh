# shellcheck shell=bash
# What the scripts/*.sh launchers share; sourced (never run) by each of them right after `set -euo pipefail`:
#   source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# Sourcing sets ROOT (the repository) and PYTHON (default python) and defines: the argument-count check, the
# argument checks (each prints "error: NAME VALUE: ..." and exits 2), the DRY_RUN switch, the train.py /
# test.py / eval.py invocations, the standalone training launcher and the distributed ones (msrun, mpirun, HCCL
# rank table), and the CenterNet launchers (pose by default, detection with its config) with the old model zoo's
# names and arguments.
# Functions that build a command leave it in the global array `cmd` (a bash function cannot return an array).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"

# ---------------------------------------------------------------- arguments

# check_arguments MIN MAX "$@": -h or --help first prints the script's usage() and exits 0; fewer than MIN
# arguments, or more than MAX (MAX empty: no limit; otherwise MIN + 1), print the count, the usage, and exit 2.
check_arguments() {
  local min="$1" max="$2" expected
  shift 2
  if [[ $# -ge 1 && ( "$1" == "-h" || "$1" == "--help" ) ]]; then usage; exit 0; fi
  if [[ -z "${max}" ]]; then expected="at least ${min}"; else expected="${min} or ${max}"; fi
  if [[ $# -lt ${min} || ( -n "${max}" && $# -gt ${max} ) ]]; then
    echo "error: expected ${expected} arguments, got $#" >&2
    usage
    exit 2
  fi
}

# next_is_value "$@": the next argument is an optional positional one (DEVICE_ID, ...), not a train.py/test.py
# option: optional positional arguments end at the first --key.
next_is_value() { [[ $# -ge 1 && "$1" != --* ]]; }

fail() { echo "error: $*" >&2; exit 2; }

require_file() { [[ -f "$2" ]] || fail "$1 $2: no such file"; }

require_dir() { [[ -d "$2" ]] || fail "$1 $2: no such folder"; }

# require_path NAME VALUE WHAT: VALUE exists (file or folder); the error says "no such WHAT".
require_path() { [[ -e "$2" ]] || fail "$1 $2: no such $3"; }

require_nonnegative_int() { [[ "$2" =~ ^[0-9]+$ ]] || fail "$1 $2: expected a non-negative integer"; }

require_positive_int() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || fail "$1 $2: expected a positive integer"; }

# require_fraction NAME VALUE: a decimal number in [0, 1] (an IoU threshold).
require_fraction() { [[ "$2" =~ ^(0(\.[0-9]+)?|1(\.0*)?)$ ]] || fail "$1 $2: expected a number in [0, 1]"; }

# require_port NAME VALUE: a TCP port a user may bind, 1024..65535 (10# so that a leading 0 is not octal).
require_port() {
  if [[ ! "$2" =~ ^[0-9]{4,5}$ ]] || (( 10#$2 < 1024 || 10#$2 > 65535 )); then
    fail "$1 $2: expected a TCP port in 1024..65535"
  fi
}

# require_choice NAME VALUE CHOICE...: VALUE is one of the CHOICEs (exact match); the error lists them as
# "a, b or c".
require_choice() {
  local name="$1" value="$2" choice listed=""
  shift 2
  for choice in "$@"; do
    if [[ "${value}" == "${choice}" ]]; then return 0; fi
  done
  for choice in "${@:1:$#-1}"; do listed+="${listed:+, }${choice}"; done
  fail "${name} ${value}: expected ${listed:+${listed} or }${!#}"
}

# require_python: PYTHON is a command; sets PYTHON_PATH to where it is.
require_python() { PYTHON_PATH="$(command -v "${PYTHON}")" || fail "PYTHON ${PYTHON}: not found"; }

# ground_truth_folder GROUND_TRUTH_PATH: prints the folder of the WIDER .mat files, given that folder or one of
# its files (use as GT_PATH="$(ground_truth_folder "${GT_PATH}")": the exit 2 of a bad path ends the script).
ground_truth_folder() {
  local path="$1"
  if [[ -f "${path}" ]]; then path="$(dirname "${path}")"; fi
  [[ -d "${path}" ]] || fail "GROUND_TRUTH_PATH ${path}: no such folder or file"
  printf '%s\n' "${path}"
}

# ---------------------------------------------------------------- DRY_RUN

is_dry_run() { [[ "${DRY_RUN:-0}" == "1" ]]; }

# print_command WORD...: one line a shell would split back into WORD... (what DRY_RUN=1 shows).
print_command() { printf '%q ' "$@"; echo; }

# run_logged OUTPUT_PATH LOG_NAME ANNOUNCE: runs `cmd` in the foreground after printing ANNOUNCE; its output is
# shown and appended to OUTPUT_PATH/LOG_NAME once the run has accepted its output folder (see log_once_accepted):
# a resumed run adds to the interrupted attempt's log, and a run refused at the start (bad flags, a folder of
# another run) creates no folder and writes no log. The exit code is the command's (pipefail). With DRY_RUN=1
# prints the command instead and exits 0 (nothing created).
run_logged() {
  if is_dry_run; then print_command "${cmd[@]}"; exit 0; fi
  local started status=0
  started="$(mktemp)"
  echo "$3"
  "${cmd[@]}" 2>&1 | log_once_accepted "$1" "$1/$2" "${started}" || status=$?
  rm -f "${started}"
  return "${status}"
}

# log_once_accepted OUTPUT_PATH LOG STARTED: copies its input to stdout line by line and appends it to LOG from the
# moment a run manifest (.run.json) newer than the file STARTED appears in OUTPUT_PATH or a folder directly inside
# it (train.py marks its folder, test.py/eval.py each checkpoint's folder, once accepted), earlier lines included;
# nothing if none appears. Ctrl-C is ignored here (it reaches the whole process group): the run's last lines,
# which say what it kept, still reach the log.
log_once_accepted() {
  local out="$1" log="$2" started="$3" line accepted="" pending=()
  trap '' INT
  while IFS= read -r line || [[ -n "${line}" ]]; do
    printf '%s\n' "${line}"
    if [[ -n "${accepted}" ]]; then
      printf '%s\n' "${line}" >>"${log}"
      continue
    fi
    pending+=("${line}")
    if run_accepted "${out}" "${started}"; then
      accepted=1
      printf '%s\n' "${pending[@]}" >>"${log}"
      pending=()
    fi
  done
  if [[ -z "${accepted}" && ${#pending[@]} -gt 0 ]] && run_accepted "${out}" "${started}"; then
    printf '%s\n' "${pending[@]}" >>"${log}"
  fi
}

# run_accepted OUTPUT_PATH STARTED: a .run.json newer than STARTED is in OUTPUT_PATH or a folder directly inside.
run_accepted() {
  [[ -d "$1" && -n "$(find "$1" -maxdepth 2 -name .run.json -newer "$2" -print -quit 2>/dev/null)" ]]
}

# output_path_option CONFIG DEFAULT ARG...: the folder a train.py/eval.py run with the ARGs and --config_path CONFIG
# writes to: the value of the last --output_path among them (by any name CONFIG gives it; "--key value" or
# "--key=value"), else DEFAULT. The config answers (src.model_utils.config.flag_value), so no name list is copied
# here.
output_path_option() {
  require_python
  "${PYTHON}" -c 'import sys; sys.path.insert(0, sys.argv[1])
from src.model_utils.config import flag_value
print(flag_value(sys.argv[4:], "output_path", sys.argv[3], sys.argv[2]))' "${ROOT}" "$@"
}

# ---------------------------------------------------------------- the Python entry points

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

# ---------------------------------------------------------------- training launchers

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

# msrun_command WORKERS OUTPUT_PATH TRAIN_PY_ARGS...: checks MASTER_PORT (default 8118), then PYTHON; sets
# MSRUN_BIN_DIR and `cmd` = msrun starting WORKERS local workers (logs OUTPUT_PATH/msrun_log/worker_{r}.log).
# msrun is the module behind the `msrun` command, run by ${PYTHON} so it comes from the same installation; its
# workers are started with `python` from PATH, hence MSRUN_BIN_DIR (the folder of PYTHON) to put first in PATH.
msrun_command() {
  MASTER_PORT="${MASTER_PORT:-8118}"
  require_port MASTER_PORT "${MASTER_PORT}"
  require_python
  # shellcheck disable=SC2034  # used by the sourcing script
  MSRUN_BIN_DIR="$(cd "$(dirname "${PYTHON_PATH}")" && pwd)"
  cmd=("${PYTHON}" -m mindspore.parallel.cluster.run --worker_num="$1" --local_worker_num="$1"
       --master_port="${MASTER_PORT}" --log_dir="$2/msrun_log" --join=True "${@:3}")
}

# mpirun_command PROCESSES OUTPUT_PATH PYTHON_ARGS...: sets `cmd` = OpenMPI's mpirun starting PROCESSES
# `${PYTHON} PYTHON_ARGS...` (as the old zoo's GPU launchers; --allow-run-as-root when run as root), their output
# in OUTPUT_PATH/mpirun_log/.
mpirun_command() {
  local root_flag=()
  if [[ ${EUID} -eq 0 ]]; then root_flag=(--allow-run-as-root); fi
  cmd=(mpirun "${root_flag[@]}" -n "$1" --output-filename "$2/mpirun_log" --merge-stderr-to-stdout "${PYTHON}"
       "${@:3}")
}

# launch_gpu DEVICE_NUM OUTPUT_PATH ANNOUNCE: runs `train` (the train.py arguments of one rank) on DEVICE_NUM
# GPUs of this server, started by LAUNCHER msrun (default) or mpirun; see launch_distributed.
launch_gpu() {
  local launcher="${LAUNCHER:-msrun}" bin_dir=""
  require_python
  require_choice LAUNCHER "${launcher}" msrun mpirun
  if [[ "${launcher}" == msrun ]]; then
    msrun_command "$1" "$2" "${train[@]}"
    bin_dir="${MSRUN_BIN_DIR}"
  else
    mpirun_command "$1" "$2" "${train[@]}"
  fi
  launch_distributed "$2" "${launcher}_log" "${bin_dir}" "$3"
}

# launch_distributed OUTPUT_PATH LOG_DIR BIN_DIR ANNOUNCE: runs `cmd`. With DRY_RUN=1 prints it (after
# "PATH=BIN_DIR:$PATH" when BIN_DIR is set) and exits 0. Otherwise puts BIN_DIR (if set) first in PATH, creates
# OUTPUT_PATH, prints ANNOUNCE (if set) and runs cmd; if that fails, prints the last 2 lines of every file in
# OUTPUT_PATH/LOG_DIR (the launcher's per-worker logs) and exits 1.
launch_distributed() {
  local output_path="$1" log_dir="$1/$2" bin_dir="$3" announce="$4" logs=()
  if is_dry_run; then
    if [[ -n "${bin_dir}" ]]; then printf '%s ' "PATH=${bin_dir}:\$PATH"; fi
    print_command "${cmd[@]}"
    exit 0
  fi
  if [[ -n "${bin_dir}" ]]; then export PATH="${bin_dir}:${PATH}"; fi
  mkdir -p "${output_path}"
  if [[ -n "${announce}" ]]; then echo "${announce}"; fi
  if ! "${cmd[@]}"; then
    if [[ -d "${log_dir}" ]]; then mapfile -d '' -t logs < <(find "${log_dir}" -type f -print0 | sort -z); fi
    local code
    code="$(worker_exit_code "${logs[@]}")"
    if [[ "${code}" == 1 ]]; then
      echo "distributed training done, but some images could not be read and were skipped (each named in the" \
        "worker logs in ${log_dir}); exit code 1" >&2
      exit 1
    fi
    echo "error: distributed training failed; last lines of the worker logs in ${log_dir}:" >&2
    if [[ ${#logs[@]} -gt 0 ]]; then tail -n 2 "${logs[@]}" >&2 || true; fi
    exit "${code:-1}"
  fi
}

# worker_exit_code LOG...: the exit code the workers' logs end with ("worker exit code N", written by every root
# script started by msrun: src/model_utils/cli.py), for the launcher to pass on: the most serious one (130, 3, 2
# before 1); empty when no log says (msrun then stopped the workers before they could).
worker_exit_code() {
  local codes
  if [[ $# -eq 0 ]]; then return 0; fi
  codes="$(grep -h -o '^worker exit code [0-9]*$' "$@" 2>/dev/null | awk '{print $4}' | sort -u)" || true
  for code in 130 3 2 1; do
    if grep -qx "${code}" <<<"${codes}"; then echo "${code}"; return 0; fi
  done
}

# launch_rank_table RANK_TABLE_FILE OUTPUT_PATH NAME: the old zoo's Ascend launch: one `${PYTHON} train...` process
# per device of this server listed in the HCCL rank table (SERVER_ID picks the server of a multi-server table),
# with DEVICE_ID, RANK_ID, RANK_SIZE and RANK_TABLE_FILE set and --device_id added, in the background, logs
# OUTPUT_PATH/log/train_rank{r}.log; waits for all, prints "NAME: N process(es), F failed" and returns non-zero
# when one failed. A table that is not one exits 2. DRY_RUN=1 prints the commands and exits 0.
launch_rank_table() {
  local parse table rank_table_file rank_size entry device_id rank_id log failed=0 pid env_vars pids=()
  local local_devices=()
  parse='
import json, sys
path, server = sys.argv[1], sys.argv[2]
try:
    servers = json.load(open(path))["server_list"]
    devices = [(s["server_id"], int(d["device_id"]), int(d["rank_id"])) for s in servers for d in s["device"]]
except (OSError, ValueError, KeyError, TypeError) as err:
    sys.exit(f"error: RANK_TABLE_FILE {path}: not an HCCL rank table (server_list/device/device_id/rank_id): {err!r}")
ids = sorted({s for s, _, _ in devices})
if not server and len(ids) != 1:
    sys.exit(f"error: RANK_TABLE_FILE {path} lists servers {ids}: set SERVER_ID to this one")
local = [(d, r) for s, d, r in devices if s == (server or ids[0])]
if not local:
    sys.exit(f"error: SERVER_ID {server}: not in RANK_TABLE_FILE {path} (servers {ids})")
print(len(devices))
for d, r in local:
    print(d, r)
'
  # "RANK_SIZE" then "DEVICE_ID RANK_ID" per device of this server.
  table="$("${PYTHON}" -c "${parse}" "$1" "${SERVER_ID:-}")" || exit 2
  rank_table_file="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  rank_size="$(head -n 1 <<<"${table}")"
  mapfile -t local_devices < <(tail -n +2 <<<"${table}")
  is_dry_run || mkdir -p "$2/log"
  trap 'kill "${pids[@]}" 2>/dev/null' INT TERM
  for entry in "${local_devices[@]}"; do
    read -r device_id rank_id <<<"${entry}"
    env_vars=("RANK_TABLE_FILE=${rank_table_file}" "DEVICE_ID=${device_id}" "RANK_ID=${rank_id}"
              "RANK_SIZE=${rank_size}")
    log="$2/log/train_rank${rank_id}.log"
    if is_dry_run; then
      print_command env "${env_vars[@]}" "${PYTHON}" "${train[@]}" --device_id "${device_id}"
      continue
    fi
    echo "rank ${rank_id}/${rank_size} on device ${device_id}: log ${log}"
    env "${env_vars[@]}" "${PYTHON}" "${train[@]}" --device_id "${device_id}" >"${log}" 2>&1 &
    pids+=("$!")
  done
  if is_dry_run; then exit 0; fi
  for pid in "${pids[@]}"; do wait "${pid}" || failed=$((failed + 1)); done
  echo "$3: ${#pids[@]} process(es), ${failed} failed; logs $2/log/, checkpoints $2/ckpt/"
  [[ ${failed} -eq 0 ]]
}

# ---------------------------------------------------------------- CenterNet launchers

# The old model zoo's launchers (research/cv/centernet: run_standalone_train_ascend.sh DEVICE_ID MINDRECORD_DIR
# [CKPT], run_distributed_train_ascend.sh MINDRECORD_DIR RANK_TABLE [CKPT], run_standalone_train_cpu.sh
# MINDRECORD_DIR [CKPT], run_standalone_eval_{ascend,cpu}.sh ...) with their argument lists, plus the GPU and CPU
# data-parallel ones. They run in the foreground (the zoo's went to the background) and write under one folder.
# They serve every CenterNet model: the zoo's pose model by default, another one by its config, given as a
# trailing `--config_path FILE` (like any train.py/eval.py option) or as CONFIG=FILE in the environment.
POSE_CONFIG="${ROOT}/configs/centernet_pose.yaml"

# centernet_config ARG...: the model config of a CenterNet launcher: the last --config_path among the ARGs (as
# "--config_path FILE" or "--config_path=FILE"), else CONFIG, else the pose config; a missing file exits 2. Sets
# CENTERNET_CONFIG to it, CENTERNET_CONFIG_GIVEN (1 when it was given, 0 for the default) and CENTERNET_MODEL to a
# short name for messages and default folders (the file name without .yaml and without a leading "centernet_":
# pose, det, ...), and the array `centernet_args` = the ARGs without --config_path (it is given once, first).
centernet_config() {
  local config="${CONFIG:-}" name
  centernet_args=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --config_path=*) config="${1#*=}" ;;
      --config_path)
        [[ $# -ge 2 ]] || fail "--config_path: expected a config file after it"
        config="$2"; shift ;;
      *) centernet_args+=("$1") ;;
    esac
    shift
  done
  # shellcheck disable=SC2034  # used by the sourcing script
  CENTERNET_CONFIG_GIVEN="$([[ -n "${config}" ]] && echo 1 || echo 0)"
  config="${config:-${POSE_CONFIG}}"
  require_file CONFIG "${config}"
  CENTERNET_CONFIG="${config}"
  name="$(basename "${config}")"
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
  cmd=("${PYTHON}" "${ROOT}/eval.py" --config_path "${CENTERNET_CONFIG}" --device_target "${target}" "${device[@]}"
       --run_mode "${run_mode}" --data_dir "${data_dir}" --load_checkpoint_path "${ckpt}"
       --output_path "${output_path}" "${centernet_args[@]}")
  run_logged "${output_path}" eval.log \
    "eval CenterNet ${CENTERNET_MODEL} (${target}${device_id:+:${device_id}}, ${run_mode}): ${ckpt} -> ${output_path}"
}
