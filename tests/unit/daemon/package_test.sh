#!/usr/bin/env bash
# The .deb (cpack -G DEB) holds the binaries, the systemd unit and the example
# configurations; the unit passes `systemd-analyze verify` with its binary present (the
# unit copied with its paths pointed into the extracted package); the packaged stoplined
# accepts the packaged examples; every binary is built for the package's architecture.
# Usage: package_test.sh BUILD_DIR [EMULATOR...] (a cross build runs the packaged daemon
# under its CMAKE_CROSSCOMPILING_EMULATOR).
set -euo pipefail
build=$1
shift
run=("$@")
tmp=$(mktemp -d /tmp/stopline-package-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== cpack -G DEB"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; fail "cpack failed"; }
deb=$(ls "$tmp"/out/stopline_*.deb)
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

echo "== contents"
dpkg-deb -c "$deb" >"$tmp/contents"
for f in ./usr/bin/stoplined ./usr/bin/stopline-backoffice ./usr/bin/stopline-verify \
         ./usr/bin/stopline-keygen ./usr/lib/systemd/system/stoplined.service \
         ./usr/share/doc/stopline/examples/intersection.toml \
         ./usr/share/doc/stopline/examples/school_zone.toml \
         ./usr/share/doc/stopline/examples/sim.toml ./usr/share/doc/stopline/README.md; do
  grep -q " $f\$" "$tmp/contents" || fail "$f is not in the package"
  echo "  $f"
done
dpkg-deb -f "$deb" Package Version Architecture Depends
dpkg-deb -f "$deb" Depends | grep -q libsystemd0 || fail "Depends lacks the shared libraries"
dpkg-deb -e "$deb" "$tmp/control"
for s in postinst prerm; do
  [ -x "$tmp/control/$s" ] || fail "maintainer script $s missing or not executable"
done
grep -q "adduser --system" "$tmp/control/postinst" || fail "postinst does not create the user"

echo "== extract and run the packaged daemon"
root="$tmp/root"
dpkg-deb -x "$deb" "$root"
arch=$(dpkg-deb -f "$deb" Architecture)
case $arch in
  amd64) machine="x86-64" ;;
  arm64) machine="ARM aarch64" ;;
  *) fail "no ELF machine known for Architecture $arch" ;;
esac
for bin in "$root"/usr/bin/*; do
  file -b "$bin" | grep -q "^ELF .*, $machine," || fail "$(basename "$bin") is not for $arch: $(file -b "$bin")"
done
echo "every binary in usr/bin is an ELF for $machine"
"${run[@]}" "$root/usr/bin/stoplined" --version
for ex in intersection school_zone sim; do
  "${run[@]}" "$root/usr/bin/stoplined" --check-config --config "$root/usr/share/doc/stopline/examples/$ex.toml"
done

echo "== systemd-analyze verify"
unit="$tmp/unit/stoplined.service"
mkdir -p "$tmp/unit"
sed "s#/usr/bin/stoplined#$root/usr/bin/stoplined#g" \
  "$root/usr/lib/systemd/system/stoplined.service" >"$unit"
grep -q "^ExecStart=$root/usr/bin/stoplined " "$unit" || fail "ExecStart was not rewritten"
# Only the unit's own diagnostics count: systemd-analyze also loads the units it refers
# to (network-online.target...), which may be absent in a container.
if ! SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$unit" >"$tmp/verify.log" 2>&1; then
  cat "$tmp/verify.log"
  fail "systemd-analyze verify refused the unit"
fi
if grep -i "stoplined.service" "$tmp/verify.log"; then
  fail "systemd-analyze reported problems with the unit"
fi
echo "systemd-analyze verify: ok"
# And it does notice a missing binary: the check above is not vacuous.
sed "s#/usr/bin/stoplined#$tmp/missing/stoplined#g" \
  "$root/usr/lib/systemd/system/stoplined.service" >"$tmp/unit/stoplined.service"
if SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$tmp/unit/stoplined.service" >"$tmp/verify2.log" 2>&1 &&
   ! grep -qi "stoplined" "$tmp/verify2.log"; then
  fail "systemd-analyze verify accepted a unit whose binary does not exist"
fi
echo "PASS"
