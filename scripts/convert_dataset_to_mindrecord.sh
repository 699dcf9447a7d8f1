#!/usr/bin/env bash
# COCO (train2017) -> MindRecord shards for CenterNet training (src/convert_dataset_to_mindrecord.py): person
# keypoints for the pose model (the default, the old zoo's command), instances of every category with --config_path
# configs/centernet_det.yaml (or CONFIG=configs/centernet_det.yaml) for object detection.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat >&2 <<'USAGE'
usage: bash scripts/convert_dataset_to_mindrecord.sh COCO_DIR MINDRECORD_DIR [--key value ...]
  COCO_DIR        COCO 2017 folder: annotations/person_keypoints_train2017.json (pose) or instances_train2017.json
                  (detection), and train2017/*.jpg
  MINDRECORD_DIR  output folder: <prefix>0 .. <prefix>7, each with a .db index file (prefix coco_hp.train.mind for
                  pose, coco_det.train.mind for detection)
  --key value     --config_path CONFIG: the model the set is for (default configs/centernet_pose.yaml; CONFIG=FILE
                  in the environment does the same); other options of src/convert_dataset_to_mindrecord.py:
                  --mindrecord_prefix P, --shards N (8), --split S (train2017), --overwrite (replace an existing
                  set of the prefix), --skip_crowd (leave crowd regions out; default: kept as objects, persons
                  without joints, as the original)
Pose keeps the images with at least one person, detection every image (as the original); empty boxes are not
objects; it prints what was kept and dropped; an image that cannot be read is named and left out. Runs
${PYTHON:-python} (e.g. PYTHON=.venv/bin/python); DRY_RUN=1 prints the command instead.
Exit status (README "Exit codes and outputs"): 0 done; 1 done, some images unreadable (each named); 2 bad input
(one error: line naming the file and the problem); 3 operating-system error (permission, disk full, a file in the way);
130 interrupted.
USAGE
}

check_arguments 2 "" "$@"
COCO_DIR="$1"; MINDRECORD_DIR="$2"
shift 2
require_dir COCO_DIR "${COCO_DIR}"
centernet_config "$@"
model=()  # the pose model (the default) is src/convert_dataset_to_mindrecord.py's own
if [[ "${CENTERNET_CONFIG_GIVEN}" == 1 ]]; then model=(--config_path "${CENTERNET_CONFIG}"); fi

# `-m src.convert_dataset_to_mindrecord` needs the repository on the module path, whatever the current folder is.
cmd=(env "PYTHONPATH=${ROOT}${PYTHONPATH:+:${PYTHONPATH}}" "${PYTHON}" -m src.convert_dataset_to_mindrecord
     --coco_dir "${COCO_DIR}" --mindrecord_dir "${MINDRECORD_DIR}" "${model[@]}" "${centernet_args[@]}")
if is_dry_run; then print_command "${cmd[@]}"; exit 0; fi
"${cmd[@]}"
