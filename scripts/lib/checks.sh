# shellcheck shell=bash
# The argument checks of the scripts/*.sh launchers: the argument count (with -h/--help), optional positional
# arguments, and value checks that each print one line "error: NAME VALUE: ..." and exit 2.
# Sourced by scripts/common.sh (which sets ROOT and PYTHON), never on its own.

# check_arguments MIN MAX "$@": -h or --help first prints the script's usage() and exits 0; fewer than MIN
# arguments, or more than MAX (MAX empty: no limit; otherwise MIN + 1), print the count, the usage, and exit 2.
check_arguments() {
  local min="$1" max="$2" expected
  shift 2
  if [[ $# -ge 1 && ( "$1" == "-h" || "$1" == "--help" ) ]]; then usage; exit 0; fi
  if [[ -z "${max}" ]]; then expected="at least ${min}"; else expected="${min} or ${max}"; fi
  if [[ $# -lt ${min} || ( -n "${max}" && $# -gt ${max} ) ]]; then
    echo "error: expected ${expected} arguments, got $#" >&2
    usage
    exit 2
  fi
}

# next_is_value "$@": the next argument is an optional positional one (DEVICE_ID, ...), not a train.py/test.py
# option: optional positional arguments end at the first --key.
next_is_value() { [[ $# -ge 1 && "$1" != --* ]]; }

fail() { echo "error: $*" >&2; exit 2; }

require_file() { [[ -f "$2" ]] || fail "$1 $2: no such file"; }

require_dir() { [[ -d "$2" ]] || fail "$1 $2: no such folder"; }

# require_path NAME VALUE WHAT: VALUE exists (file or folder); the error says "no such WHAT".
require_path() { [[ -e "$2" ]] || fail "$1 $2: no such $3"; }

require_nonnegative_int() { [[ "$2" =~ ^[0-9]+$ ]] || fail "$1 $2: expected a non-negative integer"; }

require_positive_int() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || fail "$1 $2: expected a positive integer"; }

# require_fraction NAME VALUE: a decimal number in [0, 1] (an IoU threshold).
require_fraction() { [[ "$2" =~ ^(0(\.[0-9]+)?|1(\.0*)?)$ ]] || fail "$1 $2: expected a number in [0, 1]"; }

# require_port NAME VALUE: a TCP port a user may bind, 1024..65535 (10# so that a leading 0 is not octal).
require_port() {
  if [[ ! "$2" =~ ^[0-9]{4,5}$ ]] || (( 10#$2 < 1024 || 10#$2 > 65535 )); then
    fail "$1 $2: expected a TCP port in 1024..65535"
  fi
}

# require_choice NAME VALUE CHOICE...: VALUE is one of the CHOICEs (exact match); the error lists them as
# "a, b or c".
require_choice() {
  local name="$1" value="$2" choice listed=""
  shift 2
  for choice in "$@"; do
    if [[ "${value}" == "${choice}" ]]; then return 0; fi
  done
  for choice in "${@:1:$#-1}"; do listed+="${listed:+, }${choice}"; done
  fail "${name} ${value}: expected ${listed:+${listed} or }${!#}"
}

# require_python: PYTHON is a command; sets PYTHON_PATH to where it is.
# shellcheck disable=SC2034  # read by msrun_command (lib/launch.sh)
require_python() { PYTHON_PATH="$(command -v "${PYTHON}")" || fail "PYTHON ${PYTHON}: not found"; }

# ground_truth_folder GROUND_TRUTH_PATH: prints the folder of the WIDER .mat files, given that folder or one of
# its files (use as GT_PATH="$(ground_truth_folder "${GT_PATH}")": the exit 2 of a bad path ends the script).
ground_truth_folder() {
  local path="$1"
  if [[ -f "${path}" ]]; then path="$(dirname "${path}")"; fi
  [[ -d "${path}" ]] || fail "GROUND_TRUTH_PATH ${path}: no such folder or file"
  printf '%s\n' "${path}"
}
