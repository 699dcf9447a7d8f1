# shellcheck shell=bash
# The data-parallel launchers every model's training shares: msrun, OpenMPI's mpirun (GPU) and the old model zoo's
# HCCL rank table (Ascend), with the workers' exit codes passed on.
# Sourced by scripts/common.sh (which sets ROOT and PYTHON), never on its own; the training launchers
# (lib/centerface.sh, lib/centernet.sh) set the array `train` (train.py and its arguments for one rank) first.

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
    # shellcheck disable=SC2154  # train: set by the training launcher (lib/centerface.sh, lib/centernet.sh)
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
