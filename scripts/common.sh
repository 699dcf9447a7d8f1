# shellcheck shell=bash
# What the scripts/*.sh launchers share; sourced (never run) by each of them right after `set -euo pipefail`:
#   source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# Sourcing sets ROOT (the repository) and PYTHON (default python) and defines: the argument-count check, the
# argument checks (each prints "error: NAME VALUE: ..." and exits 2), the DRY_RUN switch, the train.py /
# test.py / eval.py invocations, the standalone training launcher and the distributed (msrun / mpirun) one.
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

# ---------------------------------------------------------------- the Python entry points

# test_py CKPT_PATH DATA_DIR GT_PATH SAVE_DIR DEVICE_TARGET DEVICE_ID TEST_PY_ARGS...: runs test.py.
test_py() {
  "${PYTHON}" "${ROOT}/test.py" --ckpt_path "$1" --data_dir "$2" --ground_truth_path "$3" --save_dir "$4" \
    --device_target "$5" --device_id "$6" "${@:7}"
}

# eval_py PRED_DIR GT_DIR IOU: runs eval.py on one result folder; it prints the Easy / Medium / Hard Val AP
# lines and writes PRED_DIR/eval.json.
eval_py() {
  "${PYTHON}" "${ROOT}/eval.py" --pred "$1" --gt "$2" --iou "$3" --json "$1/eval.json"
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
  if is_dry_run; then print_command "${cmd[@]}"; exit 0; fi
  mkdir -p "${output_path}"
  echo "train (${target}${device_id:+:${device_id}}): ${train_json} -> ${output_path}; log ${output_path}/train.log"
  "${cmd[@]}" 2>&1 | tee "${output_path}/train.log"
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
    echo "error: distributed training failed; last lines of the worker logs in ${log_dir}:" >&2
    if [[ -d "${log_dir}" ]]; then mapfile -d '' -t logs < <(find "${log_dir}" -type f -print0 | sort -z); fi
    if [[ ${#logs[@]} -gt 0 ]]; then tail -n 2 "${logs[@]}" >&2 || true; fi
    exit 1
  fi
}
