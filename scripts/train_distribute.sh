#!/usr/bin/env bash
# Data-parallel CenterFace training on the Ascend NPUs of this server: one train.py process per device of an
# HCCL rank table (DEVICE_ID, RANK_ID, RANK_SIZE set per process, as in the old model zoo), or msrun.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/train_distribute.sh RANK_TABLE_FILE|DEVICE_NUM TRAIN_JSON TRAIN_IMAGE_DIR OUTPUT_PATH
                                        [--key value ...]
  RANK_TABLE_FILE  HCCL rank table (.json): one process per device of this server (SERVER_ID picks the server
                   of a multi-server table), logs OUTPUT_PATH/log/train_rank{r}.log
  DEVICE_NUM       a number instead: msrun starts DEVICE_NUM workers here (MASTER_PORT, default 8118),
                   logs OUTPUT_PATH/msrun_log/worker_{r}.log
  TRAIN_JSON       COCO-format face annotations (src/data/prepare_widerface.py)
  TRAIN_IMAGE_DIR  folder the json's file_name entries are relative to
  OUTPUT_PATH      run folder: ckpt/ (rank 0), log_rank{r}.txt per rank, config.yaml, loss_curve.png
  --key value      any other train.py option, e.g. --lr 0.004 --pretrained_backbone mobilenet_v2.ckpt
Runs ${PYTHON:-python} (e.g. PYTHON=.venv/bin/python; msrun workers use `python` from PATH, so the folder
of ${PYTHON} is put first in PATH); DRY_RUN=1 prints the commands instead of running them.
USAGE
}

check_arguments 4 "" "$@"
DEVICES="$1"; TRAIN_JSON="$2"; IMAGE_DIR="$3"; OUTPUT_PATH="$4"
shift 4

[[ "${DEVICES}" =~ ^[1-9][0-9]*$ || -f "${DEVICES}" ]] ||
  fail "RANK_TABLE_FILE|DEVICE_NUM ${DEVICES}: neither a file nor a positive integer"
require_file TRAIN_JSON "${TRAIN_JSON}"
require_dir TRAIN_IMAGE_DIR "${IMAGE_DIR}"
require_python
distributed_train_args Ascend "${TRAIN_JSON}" "${IMAGE_DIR}" "${OUTPUT_PATH}" "$@"

if [[ "${DEVICES}" =~ ^[0-9]+$ ]]; then
  msrun_command "${DEVICES}" "${OUTPUT_PATH}" "${train[@]}"
  launch_distributed "${OUTPUT_PATH}" msrun_log "${MSRUN_BIN_DIR}" ""
  exit 0
fi

# Rank table: "RANK_SIZE" then "DEVICE_ID RANK_ID" per device of this server.
PARSE='
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
table="$("${PYTHON}" -c "${PARSE}" "${DEVICES}" "${SERVER_ID:-}")" || exit 2
RANK_TABLE_FILE="$(cd "$(dirname "${DEVICES}")" && pwd)/$(basename "${DEVICES}")"
RANK_SIZE="$(head -n 1 <<<"${table}")"
mapfile -t local_devices < <(tail -n +2 <<<"${table}")
is_dry_run || mkdir -p "${OUTPUT_PATH}/log"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null' INT TERM
for entry in "${local_devices[@]}"; do
  read -r device_id rank_id <<<"${entry}"
  env_vars=("RANK_TABLE_FILE=${RANK_TABLE_FILE}" "DEVICE_ID=${device_id}" "RANK_ID=${rank_id}" "RANK_SIZE=${RANK_SIZE}")
  log="${OUTPUT_PATH}/log/train_rank${rank_id}.log"
  if is_dry_run; then
    print_command env "${env_vars[@]}" "${PYTHON}" "${train[@]}" --device_id "${device_id}"
    continue
  fi
  echo "rank ${rank_id}/${RANK_SIZE} on device ${device_id}: log ${log}"
  env "${env_vars[@]}" "${PYTHON}" "${train[@]}" --device_id "${device_id}" >"${log}" 2>&1 &
  pids+=("$!")
done
if is_dry_run; then exit 0; fi
failed=0
for pid in "${pids[@]}"; do wait "${pid}" || failed=$((failed + 1)); done
echo "train_distribute: ${#pids[@]} process(es), ${failed} failed; logs ${OUTPUT_PATH}/log/, checkpoints ${OUTPUT_PATH}/ckpt/"
[[ ${failed} -eq 0 ]]
