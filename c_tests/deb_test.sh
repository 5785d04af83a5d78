#!/usr/bin/env bash
# The Debian packages, end to end: `make deb` builds them; lintian reports no error or warning
# (its default level); dpkg -i installs them on this machine; the README's C example builds
# against them with `pkg-config --cflags --libs bitask` and runs, and the installed tool works
# (the packages' autopkgtest tests, debian/tests/, run here directly), and so does a Go
# program with the binding vendored (bindings/go/vendor.sh); then dpkg -P removes them, and
# the machine is as it was.
#
# Needs root, dpkg-buildpackage, debhelper, lintian and the build dependencies, and none of
# the packages installed beforehand (they would be removed at the end); without them it skips
# with a message, except under CI=true, where it fails. Run by `make test-deb`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
make_cmd=${MAKE:-make}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
packages=(libbitask0 libbitask-dev bitask-tools)
debs=()
for p in "${packages[@]}"; do
    arch=$(dpkg --print-architecture 2>/dev/null || echo unknown)
    debs+=("$root/build/deb/${p}_${version}_$arch.deb")
done
strict=false
[ "${CI:-}" = true ] && strict=true
work=$(mktemp -d "${TMPDIR:-/tmp}/bitask-deb-XXXXXX")
installed=false
passed=0
failed=0

cleanup() {
    if $installed; then
        dpkg -P "${packages[@]}" >"$work/purge.log" 2>&1 || cat "$work/purge.log" >&2
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A missing requirement: an error under CI, else a skip that says what to do.
skip() {
    if $strict; then
        echo "deb_test: ERROR: $*, and CI=true forbids skipping" >&2
        exit 1
    fi
    echo "deb_test: SKIPPED the Debian package tests: $*"
    exit 0
}

suite=deb
# shellcheck source=c_tests/check.sh
. "$(dirname "$0")/check.sh"

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

# --- what it needs ---------------------------------------------------------------------
[ -f "$root/debian/control" ] || skip "no debian/ here (the crate's package leaves it out)"
for tool in dpkg-buildpackage dh lintian; do
    command -v "$tool" >/dev/null 2>&1 ||
        skip "$tool not found (apt-get install dpkg-dev debhelper lintian)"
done
[ "$(id -u)" = 0 ] || skip "installing the packages needs root"
if ! (cd "$root" && dpkg-checkbuilddeps -P pkg.bitask.rustup) >"$work/deps.log" 2>&1; then
    skip "$(sed 's/^dpkg-checkbuilddeps: error: //' "$work/deps.log")"
fi
for p in "${packages[@]}"; do
    ! is_installed "$p" || skip "$p is already installed (dpkg -P it first: this test removes it)"
done

# --- build and lint --------------------------------------------------------------------
start=$(date +%s)
if ! "$make_cmd" -C "$root" --no-print-directory deb >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    echo "deb_test: make deb failed" >&2
    exit 1
fi
echo "deb_test: make deb took $(($(date +%s) - start)) s"
for deb in "${debs[@]}"; do
    check "built-$(basename "$deb")" test -f "$deb"
done

changes=$root/build/deb/bitask_${version}_$(dpkg --print-architecture).changes
# Exit status 0 with --fail-on error,warning, and nothing printed at the default level.
lint_rc=0
lintian --fail-on error,warning "$changes" >"$work/lintian.log" 2>"$work/lintian.err" || lint_rc=$?
sed 's/^/lintian: /' "$work/lintian.log"
check lintian-passes test "$lint_rc" = 0
check lintian-is-silent test ! -s "$work/lintian.log"

# --- install, use, remove --------------------------------------------------------------
installed=true
if ! dpkg -i "${debs[@]}" >"$work/install.log" 2>&1; then
    cat "$work/install.log" >&2
    echo "deb_test: dpkg -i failed" >&2
    exit 1
fi
for p in "${packages[@]}"; do
    check "installed-$p" is_installed "$p"
done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
check library-in-multiarch-dir test -f "/usr/lib/$multiarch/libbitask.so.$version"
# (/lib is /usr/lib on a merged-/usr system, which ldconfig may name either way.)
check library-known-to-loader bash -c "ldconfig -p | grep -q 'libbitask.so.0 .*=> .*/lib/$multiarch/libbitask.so.0$'"
# A system install: the system's paths, which pkg-config leaves out.
check pkg-config-flags test "$(pkg-config --cflags --libs bitask | xargs)" = "-lbitask"
check tool-has-no-runpath bash -c "! readelf -d /usr/bin/bitask | grep -q 'RUNPATH\|RPATH'"
# `man bitask_open` finds bitask(3), through its link.
check man-page-of-function test "$(man -w bitask_open)" = /usr/share/man/man3/bitask.3.gz
check man-page-of-tool test "$(man -w 1 bitask)" = /usr/share/man/man1/bitask.1.gz

# The autopkgtest tests, as `autopkgtest` would run them: from the source tree, with a
# scratch directory of their own.
while read -r test; do
    mkdir -p "$work/tests/$test"
    if (cd "$root" && AUTOPKGTEST_TMP=$work/tests/$test "debian/tests/$test") \
        >"$work/tests/$test.log" 2>&1; then
        passed=$((passed + 1))
    else
        cat "$work/tests/$test.log" >&2
        echo "FAIL deb::autopkgtest-$test" >&2
        failed=$((failed + 1))
    fi
done < <(sed -n 's/^Tests: *//p' "$root/debian/tests/control" | tr ' ,' '\n\n' | grep .)

# A Go program that requires bitask.dev/bitask, vendored by bindings/go/vendor.sh (no
# replace directive, nothing fetched), builds against the installed library and runs.
if command -v go >/dev/null 2>&1; then
    app=$work/goapp
    mkdir -p "$app"
    cat >"$app/main.go" <<'GO'
package main

import (
	"fmt"
	"log"
	"os"

	"bitask.dev/bitask"
)

func main() {
	db, err := bitask.Open(os.Args[1], nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := db.Put([]byte("k"), []byte("v")); err != nil {
		log.Fatal(err)
	}
	v, err := db.Get([]byte("k"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("k = %s\n", v)
}
GO
    [ -n "${HOME:-}" ] || export GOCACHE=$work/go-build GOPATH=$work/go
    if (cd "$app" && go mod init example.com/app && sh "$root/bindings/go/vendor.sh" . &&
        GOPROXY=off GOFLAGS= go build -o app . && test "$(./app "$app/store")" = "k = v") \
        >"$work/go.log" 2>&1; then
        passed=$((passed + 1))
    else
        cat "$work/go.log" >&2
        echo "FAIL deb::go-vendored-program" >&2
        failed=$((failed + 1))
    fi
elif $strict; then
    echo "FAIL deb::go-vendored-program: go not found" >&2
    failed=$((failed + 1))
else
    echo "deb_test: SKIPPED the Go program: go not found (apt-get install golang-go)"
fi

installed=false
if ! dpkg -P "${packages[@]}" >"$work/purge.log" 2>&1; then
    cat "$work/purge.log" >&2
    failed=$((failed + 1))
fi
for p in "${packages[@]}"; do
    check "removed-$p" bash -c "! dpkg-query -W -f='\${Status}' $p 2>/dev/null | grep -q installed"
done
check header-removed test ! -e /usr/include/bitask.h
check library-removed bash -c "! ldconfig -p | grep -q libbitask"

echo "deb: $passed passed, $failed failed"
test "$failed" = 0
