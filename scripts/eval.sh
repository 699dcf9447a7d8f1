#!/usr/bin/env bash
# WIDER FACE val AP of one result folder (prints the Easy / Medium / Hard Val AP lines).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/eval.sh PRED_DIR GROUND_TRUTH_PATH [IOU]
  PRED_DIR           results of one checkpoint: PRED_DIR/<event>/<name>.txt
  GROUND_TRUTH_PATH  folder of wider_face_val.mat and wider_{easy,medium,hard}_val.mat (or one of them)
  IOU                matching threshold, default 0.5 (the official one)
Writes PRED_DIR/eval.json (APs and PR curves). Runs ${PYTHON:-python} (e.g. PYTHON=.venv/bin/python).
USAGE
}

check_arguments 2 3 "$@"
PRED_DIR="$1"; GT_PATH="$2"; IOU="${3:-0.5}"

require_dir PRED_DIR "${PRED_DIR}"
GT_PATH="$(ground_truth_folder "${GT_PATH}")"
require_fraction IOU "${IOU}"

eval_py "${PRED_DIR}" "${GT_PATH}" "${IOU}"
