# shellcheck shell=bash
# What a launcher asks the model config: which config a run uses (a trailing --config_path FILE or CONFIG=FILE),
# the values it gives a script, and the output folder a run's flags name. The config answers (through
# src.model_utils.config), so no key, alias or default value is copied here.
# Sourced by scripts/common.sh (which sets ROOT and PYTHON), never on its own.

# model_config DEFAULT ARG...: the model config of a config-driven launcher: the last --config_path among the ARGs
# (as "--config_path FILE" or "--config_path=FILE"), else CONFIG, else DEFAULT; a missing file exits 2. Sets
# MODEL_CONFIG to it, MODEL_CONFIG_GIVEN (1 when it was given, 0 for the default) and the array `model_args` = the
# ARGs without --config_path (the launcher gives it once, first).
model_config() {
  local config="${CONFIG:-}" default="$1"
  shift
  model_args=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --config_path=*) config="${1#*=}" ;;
      --config_path)
        [[ $# -ge 2 ]] || fail "--config_path: expected a config file after it"
        config="$2"; shift ;;
      *) model_args+=("$1") ;;
    esac
    shift
  done
  # shellcheck disable=SC2034  # used by the sourcing script
  MODEL_CONFIG_GIVEN="$([[ -n "${config}" ]] && echo 1 || echo 0)"
  config="${config:-${default}}"
  require_file CONFIG "${config}"
  # shellcheck disable=SC2034  # used by the sourcing script
  MODEL_CONFIG="${config}"
}

# config_values CONFIG SCRIPT KEY...: sets the associative array CONFIG_VALUES to the value CONFIG gives each KEY
# in a run of SCRIPT (its per-script defaults applied; a list as "a,b"); a KEY the config does not define is left
# out (test with [[ -v CONFIG_VALUES[KEY] ]]). A config that does not load exits 2 with its one-line error.
config_values() {
  local values key value
  require_python
  values="$("${PYTHON}" -c 'import sys; sys.path.insert(0, sys.argv[1])
from src.model_utils.config import ConfigError, parse_config
try:
    cfg = parse_config(["--config_path", sys.argv[2]], script=sys.argv[3])
except (ConfigError, OSError) as err:
    sys.exit(f"error: CONFIG {sys.argv[2]}: {err}")
for key in sys.argv[4:]:
    if hasattr(cfg, key):
        value = getattr(cfg, key)
        print(key, ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value, sep="\t")
' "${ROOT}" "$@")" || exit 2
  declare -gA CONFIG_VALUES=()
  while IFS=$'\t' read -r key value; do
    # shellcheck disable=SC2034  # used by the sourcing script
    if [[ -n "${key}" ]]; then CONFIG_VALUES["${key}"]="${value}"; fi
  done <<<"${values}"
}

# output_path_option CONFIG DEFAULT ARG...: the folder a train.py/eval.py run with the ARGs and --config_path CONFIG
# writes to: the value of the last --output_path among them (by any name CONFIG gives it; "--key value" or
# "--key=value"), else DEFAULT. The config answers (src.model_utils.config.flag_value), so no name list is copied
# here.
output_path_option() {
  require_python
  "${PYTHON}" -c 'import sys; sys.path.insert(0, sys.argv[1])
from src.model_utils.config import flag_value
print(flag_value(sys.argv[4:], "output_path", sys.argv[3], sys.argv[2]))' "${ROOT}" "$@"
}
