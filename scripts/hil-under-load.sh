#!/usr/bin/env bash
# The HIL suite while a CPU hog takes both cores, several times in a row: the real-time
# tests must pass on a busy machine (they match reports and frames to the truth by content
# and sequence, and the simulator's sensors keep their own pace when the host is late).
#   scripts/hil-under-load.sh [runs] [build-dir]      (default: 3 runs, build/)
# Prints each run's wall time and exit status; exits non-zero if any run failed.
set -uo pipefail
runs=${1:-3}
build=${2:-build}
command -v stress-ng >/dev/null || { echo "hil-under-load: stress-ng missing (scripts/setup.sh)" >&2; exit 2; }
status=0
for i in $(seq 1 "$runs"); do
  stress-ng --cpu 2 --timeout 0 --quiet &
  hog=$!
  start=$(date +%s)
  ctest --test-dir "$build" -L hil -j2 --output-on-failure > "$build/hil-under-load-$i.log" 2>&1
  rc=$?
  kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null
  echo "hil-under-load: run $i of $runs: exit $rc after $(( $(date +%s) - start )) s (log $build/hil-under-load-$i.log)"
  [ $rc -eq 0 ] || status=1
done
exit $status
