#!/usr/bin/env bash
# `make demo`'s script, non-interactively, against a build folder: it must print the
# summary with all six of the demo's violations captured and queued, exit 0 (it checks
# its own numbers, stopline-verify and verify-store), and while its back-office still
# serves, the reviewer URL must show those cases in the queue in headless Chromium.
# usage: run_demo_test.sh SRC_DIR BUILD_DIR WORK_DIR
set -euo pipefail
src=$1 build=$2 work=$3
mkdir -p "$work"
lock="$src/tests/browser/package-lock.json"
if ! cmp -s "$lock" "$work/package-lock.json" || [ ! -d "$work/node_modules/playwright-core" ]; then
  cp "$src/tests/browser/package.json" "$lock" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp "$src/tests/hil/daemon/demo_queue_check.mjs" "$work/"
out="$work/demo.out"
STOPLINE_BUILD=$build STOPLINE_DEMO_THEN="cd '$work' && node demo_queue_check.mjs 6 '$work/artifacts'" \
  "$src/scripts/demo.sh" | tee "$out"
for line in "captured      6 " "review queue  6 cases" "verify-store:    demo-unit-1: 8 records, all verify" \
            "reviewer UI   http://127.0.0.1:" "browser: http://127.0.0.1:"; do
  grep -qF "$line" "$out" || { echo "FAIL: no '$line' in the demo's output" >&2; exit 1; }
done
echo PASS
