# shellcheck shell=bash
# Running a command built by a launcher: the DRY_RUN switch and the foreground run whose output is also logged
# into the run's folder once the run has accepted it.
# Sourced by scripts/common.sh (which sets ROOT and PYTHON), never on its own.

is_dry_run() { [[ "${DRY_RUN:-0}" == "1" ]]; }

# print_command WORD...: one line a shell would split back into WORD... (what DRY_RUN=1 shows).
print_command() { printf '%q ' "$@"; echo; }

# run_logged OUTPUT_PATH LOG_NAME ANNOUNCE: runs `cmd` in the foreground after printing ANNOUNCE; its output is
# shown and appended to OUTPUT_PATH/LOG_NAME once the run has accepted its output folder (see log_once_accepted):
# a resumed run adds to the interrupted attempt's log, and a run refused at the start (bad flags, a folder of
# another run) creates no folder and writes no log. The exit code is the command's (pipefail). With DRY_RUN=1
# prints the command instead and exits 0 (nothing created).
run_logged() {
  # shellcheck disable=SC2154  # cmd: set by the caller
  if is_dry_run; then print_command "${cmd[@]}"; exit 0; fi
  local started status=0
  started="$(mktemp)"
  echo "$3"
  "${cmd[@]}" 2>&1 | log_once_accepted "$1" "$1/$2" "${started}" || status=$?
  rm -f "${started}"
  return "${status}"
}

# log_once_accepted OUTPUT_PATH LOG STARTED: copies its input to stdout line by line and appends it to LOG from the
# moment a run manifest (.run.json) newer than the file STARTED appears in OUTPUT_PATH or a folder directly inside
# it (train.py marks its folder, test.py/eval.py each checkpoint's folder, once accepted), earlier lines included;
# nothing if none appears. Ctrl-C is ignored here (it reaches the whole process group): the run's last lines,
# which say what it kept, still reach the log.
log_once_accepted() {
  local out="$1" log="$2" started="$3" line accepted="" pending=()
  trap '' INT
  while IFS= read -r line || [[ -n "${line}" ]]; do
    printf '%s\n' "${line}"
    if [[ -n "${accepted}" ]]; then
      printf '%s\n' "${line}" >>"${log}"
      continue
    fi
    pending+=("${line}")
    if run_accepted "${out}" "${started}"; then
      accepted=1
      printf '%s\n' "${pending[@]}" >>"${log}"
      pending=()
    fi
  done
  if [[ -z "${accepted}" && ${#pending[@]} -gt 0 ]] && run_accepted "${out}" "${started}"; then
    printf '%s\n' "${pending[@]}" >>"${log}"
  fi
}

# run_accepted OUTPUT_PATH STARTED: a .run.json newer than STARTED is in OUTPUT_PATH or a folder directly inside.
run_accepted() {
  [[ -d "$1" && -n "$(find "$1" -maxdepth 2 -name .run.json -newer "$2" -print -quit 2>/dev/null)" ]]
}
