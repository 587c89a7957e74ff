#!/usr/bin/env bash
# make demo: the most end-to-end path the tree has today. Grows into simulator +
# daemon + back-office as those land (see README "Status").
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
work=$(mktemp -d /tmp/stopline-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== stopline demo: sealed evidence chain =="
"$build/tools/stopline-keygen" --device demo-unit-1 --out "$work/keys" | sed 's/^/  /'
mv "$work/keys/demo-unit-1.key" "$work/demo-unit-1.key"
"$build/tests/support/stopline-sample-chain" --key "$work/demo-unit-1.key" --device demo-unit-1 \
  --out "$work/spool" --count 5 --checkpoint | sed 's/^/  /'
echo "-- verify the chain as the back-office would"
"$build/tools/stopline-verify" --keys "$work/keys" "$work/spool" | sed "s#$work/##; s/^/  /"
echo "-- flip one byte in the A-shot of record 2 and verify again"
cp -r "$work/spool" "$work/tampered"
"$build/tests/support/stopline-tamper" frame "$work/tampered" >/dev/null
"$build/tools/stopline-verify" --keys "$work/keys" "$work/tampered" | sed "s#$work/##; s/^/  /" || true
cat <<'TXT'

Not there yet: the simulator, the daemon and the back-office reviewer queue. Until
they land this demo seals sample records rather than captured violations.
TXT
