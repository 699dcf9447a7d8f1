#!/usr/bin/env bash
# Train CenterFace on this machine's CPU, one process (train.py --device_target CPU).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() { train_standalone_usage CPU; }

train_standalone CPU "$@"
