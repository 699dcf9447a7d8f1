#!/usr/bin/env bash
# Train CenterFace on one GPU device (train.py --device_target GPU --device_id DEVICE_ID).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() { train_standalone_usage GPU; }

train_standalone GPU "$@"
