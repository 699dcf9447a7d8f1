#!/usr/bin/env bash
# Data-parallel CenterFace training on this machine's CPU: msrun starts WORKER_NUM train.py processes that
# all-reduce their gradients (train.py --is_distributed True --device_target CPU).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

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

check_arguments 4 "" "$@"
WORKER_NUM="$1"; TRAIN_JSON="$2"; IMAGE_DIR="$3"; OUTPUT_PATH="$4"
shift 4

require_positive_int WORKER_NUM "${WORKER_NUM}"
require_file TRAIN_JSON "${TRAIN_JSON}"
require_dir TRAIN_IMAGE_DIR "${IMAGE_DIR}"
distributed_train_args CPU "${TRAIN_JSON}" "${IMAGE_DIR}" "${OUTPUT_PATH}" "$@"
msrun_command "${WORKER_NUM}" "${OUTPUT_PATH}" "${train[@]}"
launch_distributed "${OUTPUT_PATH}" msrun_log "${MSRUN_BIN_DIR}" \
  "train (CPU, ${WORKER_NUM} workers): ${TRAIN_JSON} -> ${OUTPUT_PATH}; logs ${OUTPUT_PATH}/msrun_log/"
echo "train_distribute_cpu: done; per-rank logs ${OUTPUT_PATH}/log_rank*.txt, checkpoints ${OUTPUT_PATH}/ckpt/"
