#!/usr/bin/env bash
# Installs what the arm64 cross build needs on a Debian bookworm amd64 machine
# (cmake --preset arm64, make package-arm64, ctest --preset arm64-unit): the cross
# compiler, qemu-user-static for the tests, the build-machine tools (protoc runs here),
# and the :arm64 -dev packages of the libraries scripts/setup.sh installs for amd64.
#
# Idempotent like setup.sh: asks apt only for what dpkg says is missing. Never removes a
# package: every install is simulated first, and an :arm64 package whose simulation
# would remove something (it cannot be co-installed with its amd64 counterpart, e.g.
# libpq-dev has no Multi-Arch: same) is not installed. It is downloaded by apt with the
# arm64 packages only it needs and unpacked, not installed, into build-arm64-unpacked/;
# cmake/toolchains/aarch64-linux-gnu.cmake links against that tree, the tests load it
# under qemu and dpkg-shlibdeps reads the shlibs/symbols files kept in its DEBIAN/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
unpacked=$root/build-arm64-unpacked

# Run on the build machine (amd64). systemd is for systemd-analyze, poppler-utils for
# pdftoppm and python3 for scripts/largest-classes.py, all run by unit tests;
# nlohmann-json and CLI11 are header-only (all).
host_packages=(
  cmake ninja-build pkgconf ccache git python3 dpkg-dev file
  crossbuild-essential-arm64 qemu-user-static protobuf-compiler
  nlohmann-json3-dev libcli11-dev systemd poppler-utils
)
# The libraries, for the board. libpq5 is listed beside libpq-dev so the runtime library
# is installed even where the -dev package has to be unpacked.
arm64_packages=(
  libcamera-dev libgpiod-dev libboost-dev
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-videoio-dev
  libprotobuf-dev libssl-dev libsystemd-dev libtomlplusplus-dev
  libsqlite3-dev libpq5 libpq-dev libcairo2-dev librsvg2-dev libjpeg-dev libarchive-dev
  libcpputest-dev
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup-arm64: need root or sudo" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Keeps apt from upgrading every binary of a source package whose library the arm64 side
# needs in a newer version (libpq5 would otherwise drag the PostgreSQL server along).
apt_opts=(-o APT::Get::Upgrade-By-Source-Package=false --no-install-recommends)

# installed PKG / installed PKG:arm64. Multi-Arch: same packages have one instance per
# architecture, so the architecture is checked, not only the name.
native=$(dpkg --print-architecture)
installed() {
  local name=${1%:arm64} arch=$native
  [ "$name" = "$1" ] || arch=arm64
  dpkg-query -W -f='${db:Status-Status} ${Architecture}\n' "$name" 2>/dev/null |
    grep -Eqx "installed ($arch|all)"
}
# Prints the packages a simulated install of "$@" would remove (nothing: co-installable).
removals() { apt-get install -s "${apt_opts[@]}" "$@" 2>&1 | awk '/^Remv /{print $2}'; }

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup-arm64: adding the arm64 architecture"
  $sudo dpkg --add-architecture arm64
fi

# An :arm64 package counts as present when installed or when an earlier run unpacked it.
already_unpacked=$(cat "$unpacked/.unpacked" 2>/dev/null || true)
missing=()
for p in "${host_packages[@]}"; do installed "$p" || missing+=("$p"); done
for p in "${arm64_packages[@]}"; do
  installed "$p:arm64" || [[ " $already_unpacked " == *" $p:arm64 "* ]] || missing+=("$p:arm64")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-arm64: all packages present${already_unpacked:+ (unpacked in build-arm64-unpacked/: $already_unpacked)}"
  exit 0
fi

$sudo apt-get update -qq

# Split what is missing into what apt can install beside the amd64 packages and what it
# cannot. Checked one by one so a single conflict does not hold back the rest.
install=() cannot=()
for p in "${missing[@]}"; do
  r=$(removals "$p")
  if [ -z "$r" ]; then
    install+=("$p")
  elif [[ $p == *:arm64 ]]; then
    echo "setup-arm64: $p cannot be co-installed (apt would remove: $(echo $r)); unpacking it instead"
    cannot+=("$p")
  else
    echo "setup-arm64: installing $p would remove: $(echo $r); refusing" >&2
    exit 1
  fi
done

if [ ${#install[@]} -gt 0 ]; then
  # Together they must still remove nothing.
  r=$(removals "${install[@]}")
  [ -z "$r" ] || { echo "setup-arm64: the installs together would remove: $(echo $r); refusing" >&2; exit 1; }
  echo "setup-arm64: installing ${install[*]}"
  $sudo apt-get install -y -qq "${apt_opts[@]}" "${install[@]}"
fi

# The tree is made again from everything that is unpacked, old and new, so it matches the
# installed packages it is used with.
for p in $already_unpacked; do
  installed "$p" || [[ " ${cannot[*]} " == *" $p "* ]] || cannot+=("$p")
done
rm -rf "$unpacked"
if [ ${#cannot[@]} -gt 0 ]; then
  # The arm64 packages apt would install for them: they and the dependencies no installed
  # package provides (the amd64 packages apt would remove for them are left alone).
  mapfile -t debs < <(apt-get install -s "${apt_opts[@]}" "${cannot[@]}" 2>/dev/null |
    awk '/^Inst / && /\[arm64\]/ {sub(/:arm64$/, "", $2); print $2 ":arm64"}' | sort -u)
  echo "setup-arm64: unpacking ${#debs[@]} arm64 packages into build-arm64-unpacked/"
  mkdir -p "$unpacked/DEBIAN" "$unpacked/.debs"
  # apt downloads as _apt when that user may write the folder (no "unsandboxed" warning).
  if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$unpacked/.debs"; fi
  (cd "$unpacked/.debs" && apt-get download -qq "${debs[@]}")
  for deb in "$unpacked"/.debs/*.deb; do
    dpkg-deb -x "$deb" "$unpacked"
    ctl=$(mktemp -d)
    dpkg-deb -e "$deb" "$ctl"
    # Where dpkg-shlibdeps looks for the package information of a library that is in no
    # installed package: DEBIAN/ of the nearest enclosing folder.
    for f in shlibs symbols; do
      if [ -f "$ctl/$f" ]; then cat "$ctl/$f" >>"$unpacked/DEBIAN/$f"; fi
    done
    rm -rf "$ctl"
  done
  rm -rf "$unpacked/.debs"
  # A -dev symlink to a library that is installed (libpq.so -> libpq.so.5 of libpq5:arm64)
  # dangles in the unpacked tree: point it at the installed library.
  find "$unpacked" -xtype l | while read -r link; do
    target=$(readlink "$link")
    [[ $target == /* ]] || target=$(dirname "/${link#"$unpacked"/}")/$target
    if [ -e "$target" ]; then ln -sfn "$target" "$link"; fi
  done
  # pkg-config files say prefix=/usr; here they describe the unpacked tree.
  find "$unpacked" -name '*.pc' -exec sed -i "s#^prefix=/usr\$#prefix=$unpacked/usr#" {} +
  printf '%s\n' "${debs[@]}" >"$unpacked/.contents"
  echo "${cannot[*]}" >"$unpacked/.unpacked"
fi
echo "setup-arm64: done"
