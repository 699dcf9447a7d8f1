#!/usr/bin/env bash
# Data-parallel CenterFace training on DEVICE_NUM GPUs of this server, started by msrun (default) or mpirun
# (OpenMPI + NCCL, as in the old model zoo): train.py --is_distributed True --device_target GPU.
set -euo pipefail

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

if [[ $# -ge 1 && ( "$1" == "-h" || "$1" == "--help" ) ]]; then usage; exit 0; fi
if [[ $# -lt 4 ]]; then
  echo "error: expected at least 4 arguments, got $#" >&2
  usage
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
LAUNCHER="${LAUNCHER:-msrun}"
MASTER_PORT="${MASTER_PORT:-8118}"
DEVICE_NUM="$1"; TRAIN_JSON="$2"; IMAGE_DIR="$3"; OUTPUT_PATH="$4"
shift 4

fail() { echo "error: $*" >&2; exit 2; }
[[ "${DEVICE_NUM}" =~ ^[1-9][0-9]*$ ]] || fail "DEVICE_NUM ${DEVICE_NUM}: expected a positive integer"
[[ -f "${TRAIN_JSON}" ]] || fail "TRAIN_JSON ${TRAIN_JSON}: no such file"
[[ -d "${IMAGE_DIR}" ]] || fail "TRAIN_IMAGE_DIR ${IMAGE_DIR}: no such folder"
PYTHON_PATH="$(command -v "${PYTHON}")" || fail "PYTHON ${PYTHON}: not found"
train=("${ROOT}/train.py" --is_distributed True --device_target GPU --train_json "${TRAIN_JSON}"
       --train_image_dir "${IMAGE_DIR}" --output_path "${OUTPUT_PATH}" "$@")

case "${LAUNCHER}" in
  msrun)
    port_ok() { [[ "$1" =~ ^[0-9]{4,5}$ ]] && (( 10#$1 >= 1024 && 10#$1 <= 65535 )); }
    port_ok "${MASTER_PORT}" || fail "MASTER_PORT ${MASTER_PORT}: expected a TCP port in 1024..65535"
    BIN_DIR="$(cd "$(dirname "${PYTHON_PATH}")" && pwd)"
    export PATH="${BIN_DIR}:${PATH}"
    cmd=("${PYTHON}" -m mindspore.parallel.cluster.run --worker_num="${DEVICE_NUM}"
         --local_worker_num="${DEVICE_NUM}" --master_port="${MASTER_PORT}" --log_dir="${OUTPUT_PATH}/msrun_log"
         --join=True "${train[@]}") ;;
  mpirun)
    root_flag=(); [[ ${EUID} -eq 0 ]] && root_flag=(--allow-run-as-root)
    cmd=(mpirun "${root_flag[@]}" -n "${DEVICE_NUM}" --output-filename "${OUTPUT_PATH}/mpirun_log"
         --merge-stderr-to-stdout "${PYTHON}" "${train[@]}") ;;
  *) fail "LAUNCHER ${LAUNCHER}: expected msrun or mpirun" ;;
esac
if [[ "${DRY_RUN:-0}" == "1" ]]; then
  [[ "${LAUNCHER}" == msrun ]] && printf '%s ' "PATH=${BIN_DIR}:\$PATH"
  printf '%q ' "${cmd[@]}"; echo; exit 0
fi
mkdir -p "${OUTPUT_PATH}"
echo "train (GPU x ${DEVICE_NUM}, ${LAUNCHER}): ${TRAIN_JSON} -> ${OUTPUT_PATH}"
if ! "${cmd[@]}"; then
  echo "error: distributed training failed; last lines of the worker logs in ${OUTPUT_PATH}/${LAUNCHER}_log:" >&2
  find "${OUTPUT_PATH}/${LAUNCHER}_log" -type f -exec tail -n 2 {} + >&2 || true
  exit 1
fi
echo "train_distribute_gpu: done; per-rank logs ${OUTPUT_PATH}/log_rank*.txt, checkpoints ${OUTPUT_PATH}/ckpt/"
