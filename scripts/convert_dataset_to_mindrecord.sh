#!/usr/bin/env bash
# COCO person keypoints (train2017) -> MindRecord shards for CenterNet pose training (src/data/mindrecord.py).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/convert_dataset_to_mindrecord.sh COCO_DIR MINDRECORD_DIR [--key value ...]
  COCO_DIR        COCO 2017 folder: annotations/person_keypoints_train2017.json and train2017/*.jpg
  MINDRECORD_DIR  output folder: coco_hp.train.mind0 .. coco_hp.train.mind7, each with a .db index file
  --key value     other options of src/data/mindrecord.py: --mindrecord_prefix P (default coco_hp.train.mind),
                  --shards N (8), --split S (train2017), --overwrite (replace an existing set of the prefix),
                  --skip_crowd (crowd regions are not persons; default: persons without joints, as the original)
Keeps the images with at least one person (empty boxes are not persons) and prints what was kept and dropped; an
image that cannot be read is named and left out. Runs ${PYTHON:-python} (e.g. PYTHON=.venv/bin/python); DRY_RUN=1
prints the command instead.
Exit status (README "Exit codes"): 0 done; 1 done, some images unreadable (each named); 2 bad input (one error:
line naming the file and the problem); 3 operating-system error (permission, disk full, a file in the way);
130 interrupted.
USAGE
}

check_arguments 2 "" "$@"
COCO_DIR="$1"; MINDRECORD_DIR="$2"
shift 2
require_dir COCO_DIR "${COCO_DIR}"

# `-m src.data.mindrecord` needs the repository on the module path, whatever the current folder is.
cmd=(env "PYTHONPATH=${ROOT}${PYTHONPATH:+:${PYTHONPATH}}" "${PYTHON}" -m src.data.mindrecord
     --coco_dir "${COCO_DIR}" --mindrecord_dir "${MINDRECORD_DIR}" "$@")
if is_dry_run; then print_command "${cmd[@]}"; exit 0; fi
"${cmd[@]}"
