#!/usr/bin/env bash
# Installs the pinned npm tooling (playwright-core: no browser download) into the
# build folder with `npm ci`, then runs a UI test ($STOPLINE_BROWSER_TEST, default
# review_test.mjs) against Debian's Chromium.
# usage: run_browser_test.sh SRC_DIR WORK_DIR BACKOFFICE_BIN KEYGEN_BIN SEED_BIN
set -euo pipefail
src=$1 work=$2
shift 2
mkdir -p "$work"
if ! cmp -s "$src/package-lock.json" "$work/package-lock.json" || [ ! -d "$work/node_modules/playwright-core" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp "$src"/*.mjs "$work/"
cd "$work"
exec node "${STOPLINE_BROWSER_TEST:-review_test.mjs}" "$@" "$work/artifacts"
