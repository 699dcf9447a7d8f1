#!/usr/bin/env bash
# Test a checkpoint (or a folder of epoch checkpoints) on WIDER FACE val, then evaluate every result folder and
# report the best checkpoint.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/test_and_eval.sh CKPT_PATH DATA_DIR GROUND_TRUTH_PATH SAVE_DIR [DEVICE_TARGET] [DEVICE_ID]
                                     [--key value ...]
  Arguments as scripts/test.sh (--key value goes to test.py, e.g. --start 100 --end 140 --flip_test True),
  then scripts/eval_all.sh SAVE_DIR GROUND_TRUTH_PATH (every result folder in SAVE_DIR is evaluated).
  If some images could not be read, the others are still evaluated and the exit code is 1.
Runs ${PYTHON:-python} (set PYTHON=.venv/bin/python to use the project's virtual environment).
USAGE
}

check_arguments 4 "" "$@"
GT_PATH="$3"; SAVE_DIR="$4"

test_status=0
bash "${ROOT}/scripts/test.sh" "$@" || test_status=$?
if [[ ${test_status} -ne 0 && ${test_status} -ne 1 ]]; then
  echo "test_and_eval: test.sh failed with exit code ${test_status}; nothing evaluated" >&2
  exit "${test_status}"
fi
bash "${ROOT}/scripts/eval_all.sh" "${SAVE_DIR}" "${GT_PATH}"
if [[ ${test_status} -ne 0 ]]; then
  echo "test_and_eval: some images could not be read (see the test log); AP counts them as missed" >&2
fi
exit "${test_status}"
