#!/usr/bin/env bash
# Data-parallel CenterFace training on DEVICE_NUM GPUs of this server, started by msrun (default) or mpirun
# (OpenMPI + NCCL, as in the old model zoo): train.py --is_distributed True --device_target GPU.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/train_distribute_gpu.sh DEVICE_NUM TRAIN_JSON TRAIN_IMAGE_DIR OUTPUT_PATH [--key value ...]
  DEVICE_NUM       number of GPUs (one process each; CUDA_VISIBLE_DEVICES picks which)
  TRAIN_JSON       COCO-format face annotations (src/data/prepare_widerface.py)
  TRAIN_IMAGE_DIR  folder the json's file_name entries are relative to
  OUTPUT_PATH      run folder: ckpt/ (rank 0), log_rank{r}.txt per rank, config.yaml, loss_curve.png
  --key value      any other train.py option, e.g. --lr 0.004 --pretrained_backbone mobilenet_v2.ckpt
Environment: LAUNCHER msrun (default; MASTER_PORT, default 8118; logs OUTPUT_PATH/msrun_log/worker_{r}.log)
or mpirun (logs OUTPUT_PATH/mpirun_log/); PYTHON (default python; msrun workers use `python` from PATH, so
the folder of ${PYTHON} is put first in PATH); DRY_RUN=1 prints the command instead of running it.
USAGE
}

check_arguments 4 "" "$@"
DEVICE_NUM="$1"; TRAIN_JSON="$2"; IMAGE_DIR="$3"; OUTPUT_PATH="$4"
shift 4

require_positive_int DEVICE_NUM "${DEVICE_NUM}"
require_file TRAIN_JSON "${TRAIN_JSON}"
require_dir TRAIN_IMAGE_DIR "${IMAGE_DIR}"
distributed_train_args GPU "${TRAIN_JSON}" "${IMAGE_DIR}" "${OUTPUT_PATH}" "$@"
launch_gpu "${DEVICE_NUM}" "${OUTPUT_PATH}" \
  "train (GPU x ${DEVICE_NUM}, ${LAUNCHER:-msrun}): ${TRAIN_JSON} -> ${OUTPUT_PATH}"
echo "train_distribute_gpu: done; per-rank logs ${OUTPUT_PATH}/log_rank*.txt, checkpoints ${OUTPUT_PATH}/ckpt/"
