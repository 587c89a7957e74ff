#!/usr/bin/env bash
# stopline-verify on a five-record chain: ok and exit 0; each tamper, applied to a
# copy, exits non-zero with the named status code on the affected file's line.
set -euo pipefail
keygen=$1 verify=$2 sample=$3 tamper=$4
work=$(mktemp -d /tmp/stopline-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

"$keygen" --device dev-cli --out "$work/keys" >/dev/null
mv "$work/keys/dev-cli.key" "$work/dev-cli.key"
"$sample" --key "$work/dev-cli.key" --device dev-cli --out "$work/chain" --count 5 --checkpoint >/dev/null

out=$("$verify" --keys "$work/keys" "$work/chain") || fail "clean chain exited $?"
[ "$(grep -c '  ok$' <<<"$out")" -eq 6 ] || fail "expected 5 records + 1 checkpoint ok, got: $out"
grep -q 'summary: 5 records, 5 ok' <<<"$out" || fail "summary line: $out"

# kind -> status code expected on the affected file's line
declare -A expect=(
  [frame]=blob.hash_mismatch
  [signature]=signature.invalid
  [record]=signature.invalid
  [wrong-key]=key.unknown
  [missing]="chain.gap 2..2"
  [swap]=chain.order
  [fork]=chain.fork
  [truncate]=format.invalid
  [checkpoint-beyond]="chain.truncated 4..4"
)
for kind in "${!expect[@]}"; do
  copy="$work/copy-$kind"
  cp -r "$work/chain" "$copy"
  affected=$("$tamper" "$kind" "$copy" --key "$work/dev-cli.key")
  set +e
  out=$("$verify" --keys "$work/keys" "$copy")
  rc=$?
  set -e
  [ $rc -eq 1 ] || fail "$kind: exit status $rc, want 1"
  line=$(grep -F "$affected  " <<<"$out" || true)
  grep -qF "${expect[$kind]}" <<<"$line" || fail "$kind: '${expect[$kind]}' not on $affected's line: ${line:-<none>}"
  grep -q 'FAIL$' <<<"$out" || fail "$kind: summary does not say FAIL"
  echo "tamper $kind -> $line"
done

# Usage errors are distinct from verification failures.
set +e
"$verify" --keys "$work/no-such-folder" "$work/chain" >/dev/null 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || fail "missing key folder: exit $rc, want 2"

# A private key anyone can read is refused, naming the file and the fix.
chmod 644 "$work/dev-cli.key"
set +e
msg=$("$sample" --key "$work/dev-cli.key" --device dev-cli --out "$work/x" 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "0644 key accepted"
grep -qF "$work/dev-cli.key" <<<"$msg" && grep -qF "chmod 600" <<<"$msg" || fail "message lacks file or fix: $msg"

[ $failures -eq 0 ] && echo "verify CLI: all checks passed"
exit $failures
