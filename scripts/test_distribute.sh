#!/usr/bin/env bash
# Test the epoch checkpoints of a folder with several test.py processes, one per device, each taking a
# contiguous share of the checkpoint epochs found in START..END.
set -euo pipefail

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

if [[ $# -ge 1 && ( "$1" == "-h" || "$1" == "--help" ) ]]; then usage; exit 0; fi
if [[ $# -lt 7 ]]; then
  echo "error: expected at least 7 arguments, got $#" >&2
  usage
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
CKPT_DIR="$1"; DATA_DIR="$2"; GT_PATH="$3"; SAVE_DIR="$4"; START="$5"; END="$6"; NUM="$7"
shift 7
DEVICE_TARGET="CPU"; FIRST_DEVICE_ID="0"
if [[ $# -ge 1 && "$1" != --* ]]; then DEVICE_TARGET="$1"; shift; fi
if [[ $# -ge 1 && "$1" != --* ]]; then FIRST_DEVICE_ID="$1"; shift; fi

fail() { echo "error: $*" >&2; exit 2; }
[[ -d "${CKPT_DIR}" ]] || fail "CKPT_DIR ${CKPT_DIR}: no such folder"
[[ -d "${DATA_DIR}" ]] || fail "DATA_DIR ${DATA_DIR}: no such folder"
[[ -e "${GT_PATH}" ]] || fail "GROUND_TRUTH_PATH ${GT_PATH}: no such folder or file"
[[ "${START}" =~ ^[0-9]+$ ]] || fail "START ${START}: expected a non-negative integer"
[[ "${END}" =~ ^[0-9]+$ ]] || fail "END ${END}: expected a non-negative integer"
(( 10#${END} >= 10#${START} )) || fail "START ${START} > END ${END}"
[[ "${NUM}" =~ ^[1-9][0-9]*$ ]] || fail "NUM_PROCESSES ${NUM}: expected a positive integer"
case "${DEVICE_TARGET}" in
  CPU|GPU|Ascend) ;;
  *) fail "DEVICE_TARGET ${DEVICE_TARGET}: expected CPU, GPU or Ascend" ;;
esac
[[ "${FIRST_DEVICE_ID}" =~ ^[0-9]+$ ]] || fail "FIRST_DEVICE_ID ${FIRST_DEVICE_ID}: expected a non-negative integer"

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
  "${PYTHON}" "${ROOT}/test.py" --ckpt_path "${CKPT_DIR}" --data_dir "${DATA_DIR}" --ground_truth_path "${GT_PATH}" \
    --save_dir "${SAVE_DIR}" --start "${share_start}" --end "${share_end}" --device_target "${DEVICE_TARGET}" \
    --device_id "${device_id}" "$@" >"${log}" 2>&1 &
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
