#!/usr/bin/env bash
# WIDER FACE val AP of one result folder (prints the Easy / Medium / Hard Val AP lines).
set -euo pipefail

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/eval.sh PRED_DIR GROUND_TRUTH_PATH [IOU]
  PRED_DIR           results of one checkpoint: PRED_DIR/<event>/<name>.txt
  GROUND_TRUTH_PATH  folder of wider_face_val.mat and wider_{easy,medium,hard}_val.mat (or one of them)
  IOU                matching threshold, default 0.5 (the official one)
Writes PRED_DIR/eval.json (APs and PR curves). Runs ${PYTHON:-python} (e.g. PYTHON=.venv/bin/python).
USAGE
}

if [[ $# -ge 1 && ( "$1" == "-h" || "$1" == "--help" ) ]]; then usage; exit 0; fi
if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "error: expected 2 or 3 arguments, got $#" >&2
  usage
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
PRED_DIR="$1"; GT_PATH="$2"; IOU="${3:-0.5}"

fail() { echo "error: $*" >&2; exit 2; }
[[ -d "${PRED_DIR}" ]] || fail "PRED_DIR ${PRED_DIR}: no such folder"
if [[ -f "${GT_PATH}" ]]; then GT_PATH="$(dirname "${GT_PATH}")"; fi
[[ -d "${GT_PATH}" ]] || fail "GROUND_TRUTH_PATH ${GT_PATH}: no such folder or file"
[[ "${IOU}" =~ ^(0(\.[0-9]+)?|1(\.0*)?)$ ]] || fail "IOU ${IOU}: expected a number in [0, 1]"

"${PYTHON}" "${ROOT}/eval.py" --pred "${PRED_DIR}" --gt "${GT_PATH}" --iou "${IOU}" --json "${PRED_DIR}/eval.json"
