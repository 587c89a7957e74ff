#!/usr/bin/env bash
# Runs the libFuzzer targets built in build-fuzz (make fuzz configures and builds them:
# cmake --preset fuzz && cmake --build --preset fuzz). Builds nothing itself.
#   scripts/fuzz.sh [seconds]    default 60 seconds per target
# New corpus entries go to build-fuzz/fuzz-corpus/<target>/ (the seeds in tests/fuzz/corpus
# stay untouched); crash reproducers to build-fuzz/fuzz-artifacts/. Exits non-zero on a crash.
set -euo pipefail

seconds="${1:-60}"
case "$seconds" in
  ''|*[!0-9]*) echo "fuzz.sh: seconds must be a whole number, got '$seconds'" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
targets=(ops243_parser_fuzz:ops243)

status=0
for entry in "${targets[@]}"; do
  target="${entry%%:*}"
  seeds="$root/tests/fuzz/corpus/${entry##*:}"
  binary="$build/tests/fuzz/$target"
  if [ ! -x "$binary" ]; then
    echo "fuzz.sh: $binary is not built; run 'make fuzz' (or cmake --preset fuzz &&" \
         "cmake --build --preset fuzz --target $target)" >&2
    exit 1
  fi
  corpus="$build/fuzz-corpus/$target"
  artifacts="$build/fuzz-artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  echo "fuzz.sh: $target for ${seconds}s (corpus $corpus)"
  log="$build/fuzz-artifacts/$target.log"
  if "$binary" -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 \
       -artifact_prefix="$artifacts" "$corpus" "$seeds" >"$log" 2>&1; then
    result=clean
  else
    result=FAILED
    status=1
  fi
  grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
  grep -E '^(stat::|Done [0-9]+ runs|==[0-9]+==ERROR|SUMMARY)' "$log" || true
  crashes=$(find "$artifacts" -type f | wc -l)
  echo "fuzz.sh: $target $result, crash artifacts: $crashes, full log: $log"
done
exit $status
