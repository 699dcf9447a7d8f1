# shellcheck shell=bash
# What the scripts/*.sh launchers share; sourced (never run) by each of them right after `set -euo pipefail`:
#   source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# Sourcing sets ROOT (the repository) and PYTHON (default python) and sources the library in scripts/lib/, one
# job per file:
#   checks.sh      the argument-count check and the argument checks (each prints "error: NAME VALUE: ..." and
#                  exits 2)
#   run.sh         the DRY_RUN switch and a foreground run logged into its output folder
#   config.sh      what a launcher asks the model config: which config, its values, a run's output folder
#   launch.sh      the data-parallel launchers (msrun, mpirun, HCCL rank table) and the workers' exit codes
#   centerface.sh  CenterFace's test.py / eval.py invocations and training launchers (the old zoo's)
#   centernet.sh   the CenterNet launchers (pose by default, another model by its config) with the old model
#                  zoo's names and arguments, and the model config of a config-driven launcher
# Functions that build a command leave it in the global array `cmd` (a bash function cannot return an array).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"

# shellcheck source=lib/checks.sh source-path=SCRIPTDIR
source "${ROOT}/scripts/lib/checks.sh"
# shellcheck source=lib/run.sh source-path=SCRIPTDIR
source "${ROOT}/scripts/lib/run.sh"
# shellcheck source=lib/config.sh source-path=SCRIPTDIR
source "${ROOT}/scripts/lib/config.sh"
# shellcheck source=lib/launch.sh source-path=SCRIPTDIR
source "${ROOT}/scripts/lib/launch.sh"
# shellcheck source=lib/centerface.sh source-path=SCRIPTDIR
source "${ROOT}/scripts/lib/centerface.sh"
# shellcheck source=lib/centernet.sh source-path=SCRIPTDIR
source "${ROOT}/scripts/lib/centernet.sh"
