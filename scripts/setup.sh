#!/usr/bin/env bash
# Installs the Debian bookworm packages stopline builds and tests with.
# Idempotent: asks apt only for what dpkg says is missing, so a second run is
# instant and needs no network. Works as root or through sudo.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache git python3
  # device side (design card)
  libcamera-dev libgpiod-dev libboost-dev
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-videoio-dev
  libprotobuf-dev protobuf-compiler libssl-dev openssl libsystemd-dev systemd
  # configuration, JSON, command lines
  libtomlplusplus-dev nlohmann-json3-dev libcli11-dev
  # back-office storage and documents
  libsqlite3-dev libpq-dev postgresql libcairo2-dev librsvg2-dev libarchive-dev poppler-utils
  # tests: unit framework, fuzzing, browser
  cpputest clang libclang-rt-14-dev chromium nodejs npm
  # the HIL suite under load (scripts/hil-under-load.sh)
  stress-ng
)

# Only this machine's own architecture counts: with a foreign architecture added
# (scripts/setup-arm64.sh), dpkg lists libssl-dev:amd64 and libssl-dev:arm64 both.
native=$(dpkg --print-architecture)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${db:Status-Status} ${Architecture}\n' "$p" 2>/dev/null |
    grep -Eqx "installed ($native|all)" || missing+=("$p")
done

# nodejs/npm may come from outside Debian on some machines; a working node is enough.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in nodejs|npm) ;; *) filtered+=("$p") ;; esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# No recommends: keeps the image small and avoids pulling a desktop with chromium.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
