#!/usr/bin/env bash
# Fails, listing file:line, when a tracked file names a place outside the repository: the
# sibling folders of the development machines (the shared folder beside a checkout, its design note, reference and
# seed documents), absolute paths into work or home folders, or a relative ../ path that
# climbs out of the tree from the folder of the file it is written in. A clone must build,
# test and explain itself without any of them.
#
# System paths (/usr/..., /etc/..., /dev/..., /var/lib/stopline, /tmp/...) belong to the
# product and are not flagged. .ci/run alone may name the sibling data folder (it passes
# the plate photographs in when a CI machine has them).
#
#   scripts/check-self-contained.sh [ROOT]    check the git work tree ROOT (default: this one)
#   scripts/check-self-contained.sh --self-test
#
# Exit status: 0 clean, 1 something named outside, 77 ROOT is not a git work tree (CTest
# reports that as skipped).
set -euo pipefail

self=scripts/check-self-contained.sh
# Files allowed to name outside places: the CI entry point, and this script (its
# patterns and its self-test fixtures are not paths).
allowed=(.ci/run "$self")

# Places outside the tree, by name (extended regular expressions).
named=(
    '\.\./shared'
    '(^|[^[:alnum:]_.}$/-])/(work|home|root)/'
    'DESIGN\.md'
    '(^|[^[:alnum:]_-])shared/(DESIGN\.md|reference|seeds|data|hooks)'
    '(^|[^[:alnum:]_./-])reference/[[:alnum:]_.-]+\.md'
    '(^|[^[:alnum:]_./-])seeds/'
    # The project root's parent, spelled from CMake.
    '(PROJECT_SOURCE_DIR|CMAKE_SOURCE_DIR)\}/\.\.(/|$|[^.])'
)

check() {
    local root=$1
    if ! git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        echo "skipped: $root is not a git work tree (the check reads tracked files)"
        return 77
    fi
    root=$(git -C "$root" rev-parse --show-toplevel)
    local -a pathspec=(.)
    local a
    for a in "${allowed[@]}"; do
        pathspec+=(":(exclude)$a")
    done
    local -a args=()
    local re
    for re in "${named[@]}"; do
        args+=(-e "$re")
    done

    local found
    found=$(
        cd "$root"
        git grep -nIE "${args[@]}" -- "${pathspec[@]}" | sed 's/^\([^:]*:[0-9]*\):/\1: names a place outside the repository: /' || true
        # Relative paths: resolved from the folder of the file that spells them.
        git grep -nIoE -e '(\.\./)+[[:alnum:]_.-]*' -- "${pathspec[@]}" |
            while IFS=: read -r file line path; do
                target=$(realpath -m --relative-to=. "$(dirname "$file")/$path")
                case $target in
                ..|../*) echo "$file:$line: climbs out of the repository: $path" ;;
                esac
            done || true
    )
    if [[ -n $found ]]; then
        found=$(sort -t: -k1,1 -k2,2n -u <<<"$found")
        echo "$found"
        echo "check-self-contained: $(wc -l <<<"$found") line(s) name places outside the repository;" \
             "point them at docs/ or remove them (only .ci/run may name the sibling data folder)" >&2
        return 1
    fi
    echo "check-self-contained: $(git -C "$root" ls-files | wc -l) tracked files, none names a place outside the repository"
}

# A throw-away repository with one line per case: every `bad` line must be reported, no
# `good` line may be.
selfTest() {
    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    git -C "$tmp" init -q
    mkdir -p "$tmp/docs" "$tmp/hal/linux" "$tmp/.ci" "$tmp/scripts" "$tmp/tests/fuzz/corpus"
    cat >"$tmp/docs/good.md" <<'EOF'
the unit file is /usr/lib/systemd/system/stoplined.service
the config is /etc/stopline/stoplined.toml, the radar /dev/ttyACM0
the spool lives in /var/lib/stopline and scratch in /tmp/x
artifacts go to ${CMAKE_CURRENT_BINARY_DIR}/work/artifacts
see [the rules](../docs/enforcement-rules.md) and docs/evidence-integrity.md
the fuzz seeds are in tests/fuzz/corpus/ops243/seed_01
EOF
    cat >"$tmp/hal/linux/good.h" <<'EOF'
#include "../../hal/time.h"
#include "../gpio.h"
EOF
    # The sibling folder's name is put together here so that this file itself names no
    # place outside the repository.
    local sibling=shar
    sibling+=ed
    cat >"$tmp/docs/bad.md" <<EOF
bad: the data is in ../$sibling/data/plates-us-dev
bad: written on /home/alice/stopline
bad: see /work/$sibling/reference/radar-ops243.md
bad: the design is in DESIGN.md
bad: rules in reference/enforcement-rules.md
bad: the policy in seeds/002_9bd23c370d5af860.txt
bad: [up and out](../../elsewhere/notes.md)
EOF
    cat >"$tmp/hal/linux/bad.h" <<'EOF'
#include "../../../outside.h"
EOF
    cat >"$tmp/CMakeLists.txt" <<'EOF'
set(bad ${PROJECT_SOURCE_DIR}/../data)
EOF
    printf '%s\n' "data=../$sibling/data" >"$tmp/.ci/run"
    cp "$0" "$tmp/$self"
    git -C "$tmp" add -A

    local out status=0
    out=$("$0" "$tmp" 2>/dev/null) || status=$?
    local expected=(
        CMakeLists.txt:1 docs/bad.md:1 docs/bad.md:2 docs/bad.md:3 docs/bad.md:4
        docs/bad.md:5 docs/bad.md:6 docs/bad.md:7 hal/linux/bad.h:1
    )
    local got
    got=$(cut -d: -f1,2 <<<"$out" | sort -u | tr '\n' ' ')
    if [[ $status -ne 1 || "$got" != "$(printf '%s\n' "${expected[@]}" | sort -u | tr '\n' ' ')" ]]; then
        echo "self-test FAILED (exit $status); expected: ${expected[*]}"
        echo "got:"
        echo "$out"
        return 1
    fi
    echo "self-test passed: ${#expected[@]} outside names found, system and in-tree paths left alone"
}

case ${1:-} in
--self-test) selfTest ;;
-h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' ;;
*) check "${1:-$(dirname "$0")/..}" ;;
esac
