#!/usr/bin/env bash
# Test the epoch checkpoints of a folder with several test.py processes, one per device, each taking a
# contiguous share of the checkpoint epochs found in START..END.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/test_distribute.sh CKPT_DIR DATA_DIR GROUND_TRUTH_PATH SAVE_DIR START END NUM_PROCESSES
                                       [DEVICE_TARGET] [FIRST_DEVICE_ID] [--key value ...]
  CKPT_DIR           folder of 0-{epoch}_{step}.ckpt files (rank 0's)
  START END          epochs to test (inclusive); the epochs present are split into NUM_PROCESSES shares
  NUM_PROCESSES      processes run at once; process i uses device FIRST_DEVICE_ID + i (default 0 + i)
  DEVICE_TARGET      CPU (default), GPU or Ascend
  --key value        any other test.py option (e.g. --multi_scale True)
Results: SAVE_DIR/<checkpoint>/...; logs: SAVE_DIR/log/test_<i>.log. Evaluate with scripts/eval_all.sh.
Runs ${PYTHON:-python} (set PYTHON=.venv/bin/python to use the project's virtual environment).
USAGE
}

check_arguments 7 "" "$@"
CKPT_DIR="$1"; DATA_DIR="$2"; GT_PATH="$3"; SAVE_DIR="$4"; START="$5"; END="$6"; NUM="$7"
shift 7
DEVICE_TARGET="CPU"; FIRST_DEVICE_ID="0"
if next_is_value "$@"; then DEVICE_TARGET="$1"; shift; fi
if next_is_value "$@"; then FIRST_DEVICE_ID="$1"; shift; fi

require_dir CKPT_DIR "${CKPT_DIR}"
require_dir DATA_DIR "${DATA_DIR}"
require_path GROUND_TRUTH_PATH "${GT_PATH}" "folder or file"
require_nonnegative_int START "${START}"
require_nonnegative_int END "${END}"
(( 10#${END} >= 10#${START} )) || fail "START ${START} > END ${END}"
require_positive_int NUM_PROCESSES "${NUM}"
require_choice DEVICE_TARGET "${DEVICE_TARGET}" CPU GPU Ascend
require_nonnegative_int FIRST_DEVICE_ID "${FIRST_DEVICE_ID}"

# Epochs that have a checkpoint in START..END, ascending and distinct.
epochs=()
for path in "${CKPT_DIR}"/*.ckpt; do
  name="$(basename "${path}")"
  if [[ "${name}" =~ ^0-([0-9]+)_[0-9]+\.ckpt$ ]]; then
    epoch=$((10#${BASH_REMATCH[1]}))
    if (( epoch >= 10#${START} && epoch <= 10#${END} )); then epochs+=("${epoch}"); fi
  fi
done
[[ ${#epochs[@]} -gt 0 ]] || fail "CKPT_DIR ${CKPT_DIR}: no 0-{epoch}_{step}.ckpt with epoch in ${START}..${END}"
mapfile -t epochs < <(printf '%s\n' "${epochs[@]}" | sort -n -u)

mkdir -p "${SAVE_DIR}/log"
count=${#epochs[@]}
processes=$((NUM < count ? NUM : count))   # no process without an epoch
pids=(); shares=()
for ((i = 0; i < processes; i++)); do
  first=$((i * count / processes)); last=$(((i + 1) * count / processes - 1))
  share_start="${epochs[first]}"; share_end="${epochs[last]}"
  device_id=$((FIRST_DEVICE_ID + i))
  log="${SAVE_DIR}/log/test_${i}.log"
  echo "process ${i}: epochs ${share_start}..${share_end} on ${DEVICE_TARGET}:${device_id}, log ${log}"
  test_py "${CKPT_DIR}" "${DATA_DIR}" "${GT_PATH}" "${SAVE_DIR}" "${DEVICE_TARGET}" "${device_id}" \
    --start "${share_start}" --end "${share_end}" "$@" >"${log}" 2>&1 &
  pids+=("$!"); shares+=("${i}")
done

failed=0
for k in "${!pids[@]}"; do
  if wait "${pids[k]}"; then
    echo "process ${shares[k]}: done"
  else
    status=$?
    echo "process ${shares[k]}: failed with exit code ${status}; see ${SAVE_DIR}/log/test_${shares[k]}.log" >&2
    failed=$((failed + 1))
  fi
done
echo "test_distribute: ${#pids[@]} process(es), ${count} epoch(s), ${failed} failed -> ${SAVE_DIR}"
[[ ${failed} -eq 0 ]]
