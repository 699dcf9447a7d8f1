#!/usr/bin/env bash
# Evaluate every checkpoint result folder of a test.py SAVE_DIR; report the best checkpoint by Easy, Medium,
# Hard and by the sum of the three.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/eval_all.sh SAVE_DIR GROUND_TRUTH_PATH [IOU]
  SAVE_DIR           test.py output: SAVE_DIR/<checkpoint>/<event>/<name>.txt; every such <checkpoint> folder
                     is evaluated (its APs also go to <checkpoint>/eval.json, its log to <checkpoint>/eval.log)
  GROUND_TRUTH_PATH  folder of wider_face_val.mat and wider_{easy,medium,hard}_val.mat (or one of them)
  IOU                matching threshold, default 0.5 (the official one)
Prints a table and the best checkpoints, also written to SAVE_DIR/eval_all.txt. Exit code 1 if some folder
could not be evaluated. Runs ${PYTHON:-python} (e.g. PYTHON=.venv/bin/python).
USAGE
}

check_arguments 2 3 "$@"
SAVE_DIR="${1%/}"; GT_PATH="$2"; IOU="${3:-0.5}"

require_dir SAVE_DIR "${SAVE_DIR}"
GT_PATH="$(ground_truth_folder "${GT_PATH}")"
require_fraction IOU "${IOU}"

folders=()
for dir in "${SAVE_DIR}"/*/; do
  dir="${dir%/}"
  if compgen -G "${dir}/*/*.txt" >/dev/null; then folders+=("${dir}"); fi
done
if [[ ${#folders[@]} -eq 0 ]]; then
  fail "SAVE_DIR ${SAVE_DIR}: no result folders (expected ${SAVE_DIR}/<checkpoint>/<event>/<name>.txt)"
fi
mapfile -t folders < <(printf '%s\n' "${folders[@]}" | sort -V)

rows="$(mktemp "${SAVE_DIR}/.eval_all.rows.XXXXXX")"
trap 'rm -f "${rows}"' EXIT
failed=0
for dir in "${folders[@]}"; do
  name="$(basename "${dir}")"
  if ! output="$(eval_py "${dir}" "${GT_PATH}" "${IOU}" 2>"${dir}/eval.log")"; then
    echo "error: ${name}: evaluation failed; ${dir}/eval.log says:" >&2
    tail -n 3 "${dir}/eval.log" >&2
    failed=$((failed + 1))
    continue
  fi
  easy="$(awk -F': ' '/^Easy +Val AP:/ {print $2}' <<<"${output}")"
  medium="$(awk -F': ' '/^Medium +Val AP:/ {print $2}' <<<"${output}")"
  hard="$(awk -F': ' '/^Hard +Val AP:/ {print $2}' <<<"${output}")"
  if [[ -z "${easy}" || -z "${medium}" || -z "${hard}" ]]; then
    echo "error: ${name}: eval.py printed no Easy/Medium/Hard Val AP lines" >&2
    failed=$((failed + 1))
    continue
  fi
  echo "${name}: Easy ${easy} Medium ${medium} Hard ${hard}" >&2
  printf '%s %s %s %s\n' "${name}" "${easy}" "${medium}" "${hard}" >>"${rows}"
done

summary="$(mktemp "${SAVE_DIR}/.eval_all.txt.XXXXXX")"
if [[ -s "${rows}" ]]; then
  # Ties keep the first folder in version order (e.g. the earliest epoch).
  awk -v iou="${IOU}" '
    BEGIN { printf "%-32s %8s %8s %8s %8s\n", "checkpoint (IoU " iou ")", "Easy", "Medium", "Hard", "Sum" }
    {
      sum = $2 + $3 + $4
      printf "%-32s %8.4f %8.4f %8.4f %8.4f\n", $1, $2, $3, $4, sum
      if (NR == 1 || $2 > best[1]) { best[1] = $2; name[1] = $1 }
      if (NR == 1 || $3 > best[2]) { best[2] = $3; name[2] = $1 }
      if (NR == 1 || $4 > best[3]) { best[3] = $4; name[3] = $1 }
      if (NR == 1 || sum > best[4]) { best[4] = sum; name[4] = $1 }
    }
    END {
      printf "best Easy:   %s (%.4f)\n", name[1], best[1]
      printf "best Medium: %s (%.4f)\n", name[2], best[2]
      printf "best Hard:   %s (%.4f)\n", name[3], best[3]
      printf "best Sum:    %s (%.4f)\n", name[4], best[4]
    }' "${rows}" >"${summary}"
  mv -f "${summary}" "${SAVE_DIR}/eval_all.txt"
  cat "${SAVE_DIR}/eval_all.txt"
else
  rm -f "${summary}"
fi
if [[ ${failed} -gt 0 ]]; then
  echo "eval_all: ${failed} of ${#folders[@]} folder(s) could not be evaluated" >&2
  exit 1
fi
