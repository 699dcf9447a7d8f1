#!/usr/bin/env bash
# Build the CenterFace Ascend 310 runner: ascend310_infer/build/main (see CMakeLists.txt for what it needs).
#   bash ascend310_infer/build.sh
# MINDSPORE_PATH defaults to the folder of the `mindspore` package of ${PYTHON:-python}; ASCEND_HOME to
# /usr/local/Ascend/ascend-toolkit/latest. BUILD_DIR (default ascend310_infer/build) holds the build.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python}"
BUILD_DIR="${BUILD_DIR:-${HERE}/build}"

if [[ $# -gt 0 ]]; then
  echo "usage: bash ascend310_infer/build.sh   (no arguments; set MINDSPORE_PATH, ASCEND_HOME, BUILD_DIR)" >&2
  exit 2
fi
if ! command -v cmake >/dev/null 2>&1; then
  echo "error: cmake not found; install CMake >= 3.14" >&2
  exit 2
fi
if [[ -z "${MINDSPORE_PATH:-}" ]]; then
  MINDSPORE_PATH="$("${PYTHON}" -c 'import os, mindspore; print(os.path.dirname(mindspore.__file__))' \
    2>/dev/null || true)"
fi
export MINDSPORE_PATH

cmake -S "${HERE}" -B "${BUILD_DIR}" -DMINDSPORE_PATH="${MINDSPORE_PATH}"
cmake --build "${BUILD_DIR}" -j "$(nproc 2>/dev/null || echo 2)"
echo "built ${BUILD_DIR}/main"
