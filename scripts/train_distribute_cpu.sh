#!/usr/bin/env bash
# Data-parallel CenterFace training on this machine's CPU: msrun starts WORKER_NUM train.py processes that
# all-reduce their gradients (train.py --is_distributed True --device_target CPU).
set -euo pipefail

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/train_distribute_cpu.sh WORKER_NUM TRAIN_JSON TRAIN_IMAGE_DIR OUTPUT_PATH [--key value ...]
  WORKER_NUM       number of training processes (ranks); each reads 1/WORKER_NUM of every epoch
  TRAIN_JSON       COCO-format face annotations (src/data/prepare_widerface.py or src/data/synthetic.py)
  TRAIN_IMAGE_DIR  folder the json's file_name entries are relative to
  OUTPUT_PATH      run folder: ckpt/ (rank 0), log_rank{r}.txt per rank, msrun_log/worker_{r}.log, config.yaml
  --key value      any other train.py option, e.g. --epochs 10 --batch_size 4 --train_size 320,320
Environment: MASTER_PORT (default 8118, a free TCP port), PYTHON (default python; msrun starts the workers
with `python` from PATH, so the folder of ${PYTHON} is put first in PATH, e.g. PYTHON=.venv/bin/python),
DRY_RUN=1 prints the command instead of running it.
USAGE
}

if [[ $# -ge 1 && ( "$1" == "-h" || "$1" == "--help" ) ]]; then usage; exit 0; fi
if [[ $# -lt 4 ]]; then
  echo "error: expected at least 4 arguments, got $#" >&2
  usage
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
MASTER_PORT="${MASTER_PORT:-8118}"
WORKER_NUM="$1"; TRAIN_JSON="$2"; IMAGE_DIR="$3"; OUTPUT_PATH="$4"
shift 4

fail() { echo "error: $*" >&2; exit 2; }
[[ "${WORKER_NUM}" =~ ^[1-9][0-9]*$ ]] || fail "WORKER_NUM ${WORKER_NUM}: expected a positive integer"
[[ -f "${TRAIN_JSON}" ]] || fail "TRAIN_JSON ${TRAIN_JSON}: no such file"
[[ -d "${IMAGE_DIR}" ]] || fail "TRAIN_IMAGE_DIR ${IMAGE_DIR}: no such folder"
port_ok() { [[ "$1" =~ ^[0-9]{4,5}$ ]] && (( 10#$1 >= 1024 && 10#$1 <= 65535 )); }
port_ok "${MASTER_PORT}" || fail "MASTER_PORT ${MASTER_PORT}: expected a TCP port in 1024..65535"
PYTHON_PATH="$(command -v "${PYTHON}")" || fail "PYTHON ${PYTHON}: not found"
BIN_DIR="$(cd "$(dirname "${PYTHON_PATH}")" && pwd)"

# msrun = the module behind the `msrun` command, run by ${PYTHON} so it comes from the same installation.
cmd=("${PYTHON}" -m mindspore.parallel.cluster.run --worker_num="${WORKER_NUM}" --local_worker_num="${WORKER_NUM}"
     --master_port="${MASTER_PORT}" --log_dir="${OUTPUT_PATH}/msrun_log" --join=True
     "${ROOT}/train.py" --is_distributed True --device_target CPU --train_json "${TRAIN_JSON}"
     --train_image_dir "${IMAGE_DIR}" --output_path "${OUTPUT_PATH}" "$@")
if [[ "${DRY_RUN:-0}" == "1" ]]; then printf '%s ' "PATH=${BIN_DIR}:\$PATH"; printf '%q ' "${cmd[@]}"; echo; exit 0; fi
export PATH="${BIN_DIR}:${PATH}"
mkdir -p "${OUTPUT_PATH}"
echo "train (CPU, ${WORKER_NUM} workers): ${TRAIN_JSON} -> ${OUTPUT_PATH}; logs ${OUTPUT_PATH}/msrun_log/"
if ! "${cmd[@]}"; then
  echo "error: distributed training failed; last lines of the worker logs in ${OUTPUT_PATH}/msrun_log:" >&2
  tail -n 2 "${OUTPUT_PATH}"/msrun_log/worker_*.log >&2 || true
  exit 1
fi
echo "train_distribute_cpu: done; per-rank logs ${OUTPUT_PATH}/log_rank*.txt, checkpoints ${OUTPUT_PATH}/ckpt/"
