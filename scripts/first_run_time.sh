#!/usr/bin/env bash
# Measures the README's first command as a new user meets it: a fresh clone of this repository (its committed
# state) in a temporary folder, no pip cache (PIP_NO_CACHE_DIR=1), a fresh home, then ./scripts/start.sh with one
# plain-word message typed in. Prints the seconds until the install was done and until the console answered, and
# with --wait-build also until the bundled model's background build ended. Slow (it installs everything): run it
# on a quiet machine. Usage: scripts/first_run_time.sh [--wait-build] [--keep]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
wait_build=0; keep=0
for arg in "$@"; do
  case $arg in --wait-build) wait_build=1 ;; --keep) keep=1 ;; *) echo "unknown option $arg" >&2; exit 2 ;; esac
done
work=$(mktemp -d)
[ "$keep" = 1 ] || trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/teamclaw"
export PIP_NO_CACHE_DIR=1 TEAMCLAW_HOME="$work/home" PYTHONUNBUFFERED=1
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
installed=""; answered=""
# The chat reads the message, answers, then /quit leaves; each output line is stamped as it appears.
while IFS= read -r line; do
  printf '%s\n' "$line" >> "$work/start.log"
  if [ -z "$installed" ] && [[ $line == *"data folder:"* ]]; then installed=$(elapsed); fi
  if [ -z "$answered" ] && [[ $line == *"Scheduled job #"* ]]; then answered=$(elapsed); fi
done < <(cd "$work/teamclaw" && printf 'remind me tomorrow at 9am to check the build\n/quit\n' \
          | ./scripts/start.sh 2>&1)
echo "installed and initialised after ${installed:-?} s"
echo "console answered after ${answered:-?} s (plain words; log: $work/start.log)"
state="$work/teamclaw/.venv/teamclaw-local-build.json"
if [ "$wait_build" = 0 ] && [ -f "$state" ]; then
  # Not waited for: stop the background build this run started, before its folder is removed.
  kill -- "-$(sed 's/.*"pid": \([0-9]*\).*/\1/' "$state")" 2>/dev/null || true
fi
if [ "$wait_build" = 1 ]; then
  until [ ! -f "$state" ] || [ -f "$work/teamclaw/.venv/teamclaw-local-build.exit" ]; do sleep 10; done
  echo "bundled model runtime built after $(elapsed) s ($("$work/teamclaw/.venv/bin/python" \
        -m assistant.providers.local_build status || true))"
fi
