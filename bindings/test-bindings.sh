#!/bin/sh
# Runs the Go and Zig binding tests against a staged `make install`.
#
# Called by `make test-bindings` (bindings/bindings.mk). Steps:
#   1. finds the toolchains: go, and zig (on PATH, or the `ziglang` Python
#      package as `python3 -m ziglang`); a missing one is skipped with a
#      message, except under CI=true, where it is an error;
#   2. stages `make install DESTDIR=$BINDINGS_STAGE PREFIX=/usr`;
#   3. points pkg-config (PKG_CONFIG_PATH, PKG_CONFIG_SYSROOT_DIR) and the
#      dynamic loader (LD_LIBRARY_PATH) at the staged library;
#   4. runs gofmt, `go vet` and `go test -race` in bindings/go, and `zig fmt`
#      and `zig build test` in bindings/zig, twice: with pkg-config, and with
#      -Dinclude-dir/-Dlib-dir (its run path, without LD_LIBRARY_PATH).
#
# Environment: BINDINGS_STAGE (staging directory, emptied first; required),
# MAKE (default make), GO (default go), ZIG (a zig command; default as above),
# CI (true: never skip), BINDINGS_SKIP_STAGE=1 (reuse the staged tree as is).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
stage=${BINDINGS_STAGE:?BINDINGS_STAGE must name the staging directory}
make_cmd=${MAKE:-make}
strict=false
[ "${CI:-}" = true ] && strict=true

passed=0
failed=0
failures=""
skipped=""

say() { printf 'test-bindings: %s\n' "$*"; }

# A missing toolchain: an error under CI, else a skip that says what to install.
missing() {
	what=$1
	how=$2
	if $strict; then
		say "ERROR: $what not found, and CI=true forbids skipping ($how)"
		exit 1
	fi
	say "SKIPPED the $what tests: $what not found ($how)"
	skipped="$skipped $what"
}

go_cmd=${GO:-go}
have_go=false
if command -v "$go_cmd" >/dev/null 2>&1; then
	have_go=true
else
	missing go "install it with: apt-get install golang-go"
fi

have_zig=false
if [ -n "${ZIG:-}" ]; then
	zig_cmd=$ZIG
	have_zig=true
elif command -v zig >/dev/null 2>&1; then
	zig_cmd=zig
	have_zig=true
elif command -v python3 >/dev/null 2>&1 && python3 -c 'import ziglang' >/dev/null 2>&1; then
	zig_cmd="python3 -m ziglang"
	have_zig=true
else
	missing zig "install it with: pip install ziglang==$(sed -n 's/.*minimum_zig_version = "\(.*\)".*/\1/p' "$here/zig/build.zig.zon")"
fi

if ! $have_go && ! $have_zig; then
	say "nothing to run"
	exit 0
fi

if ! command -v pkg-config >/dev/null 2>&1; then
	if $strict; then
		say "ERROR: pkg-config not found (apt-get install pkg-config)"
		exit 1
	fi
	say "SKIPPED all binding tests: pkg-config not found (apt-get install pkg-config)"
	exit 0
fi

# Stage the installed files exactly as a package would lay them out.
if [ "${BINDINGS_SKIP_STAGE:-}" != 1 ]; then
	rm -rf "$stage"
	say "staging: $make_cmd -C $root install DESTDIR=$stage PREFIX=/usr"
	if ! $make_cmd -C "$root" install DESTDIR="$stage" PREFIX=/usr; then
		say "ERROR: make install into the staging directory failed"
		exit 1
	fi
fi

pc=$(find "$stage" -name bitask.pc | head -n 1)
header=$(find "$stage" -name bitask.h | head -n 1)
lib=$(find "$stage" -name 'libbitask.so' | head -n 1)
if [ -z "$pc" ] || [ -z "$header" ] || [ -z "$lib" ]; then
	say "ERROR: the staged install in $stage lacks bitask.pc, bitask.h or libbitask.so"
	exit 1
fi
include_dir=$(dirname "$header")
lib_dir=$(dirname "$lib")

PKG_CONFIG_PATH=$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
LD_LIBRARY_PATH=$lib_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PKG_CONFIG_PATH LD_LIBRARY_PATH

# True when pkg-config's flags for bitask lead to the staged header and library.
pkg_config_reaches_stage() {
	cflags=$(pkg-config --cflags bitask) || return 1
	libs=$(pkg-config --libs bitask) || return 1
	inc_ok=false
	lib_ok=false
	for flag in $cflags; do
		case $flag in -I*) [ -f "${flag#-I}/bitask.h" ] && inc_ok=true ;; esac
	done
	for flag in $libs; do
		case $flag in -L*) [ -e "${flag#-L}/libbitask.so" ] && lib_ok=true ;; esac
	done
	$inc_ok && $lib_ok
}

# A bitask.pc naming its install paths (/usr/...) needs the stage as sysroot;
# one relative to its own location (${pcfiledir}) needs none.
PKG_CONFIG_SYSROOT_DIR=$stage
export PKG_CONFIG_SYSROOT_DIR
if ! pkg_config_reaches_stage; then
	unset PKG_CONFIG_SYSROOT_DIR
	if ! pkg_config_reaches_stage; then
		say "ERROR: pkg-config's flags for bitask do not lead to the staged bitask.h and libbitask.so"
		say "  PKG_CONFIG_PATH=$PKG_CONFIG_PATH; bitask.pc:"
		sed 's/^/    /' "$pc"
		exit 1
	fi
fi
say "pkg-config bitask: $cflags $libs"

# Caches live under $HOME; without one, keep them beside the stage (an ignored directory).
if [ -z "${HOME:-}" ]; then
	caches=$(dirname "$stage")/bindings-caches
	export GOCACHE="${GOCACHE:-$caches/go-build}" GOPATH="${GOPATH:-$caches/go}"
	export ZIG_GLOBAL_CACHE_DIR="${ZIG_GLOBAL_CACHE_DIR:-$caches/zig}"
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Runs a suite: $1 name, $2 directory, then the command. Prints the log's
# outcome lines (all of it on failure).
run_suite() {
	name=$1
	dir=$2
	shift 2
	say "running $name: (cd ${dir#"$root"/} && $*)"
	(cd "$dir" && "$@") >"$logs/$name" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		grep -E '^(--- |ok |PASS|Build Summary|\+- run test)' "$logs/$name" || true
	else
		cat "$logs/$name"
		say "FAILED: $name (exit $rc)"
		failures="$failures $name"
	fi
	return $rc
}

if $have_go; then
	say "$("$go_cmd" version)"
	# No module may be fetched: the binding uses the standard library only.
	export GOPROXY=off GO111MODULE=on
	if run_suite go-fmt "$here/go" sh -c 'out=$(gofmt -l .) && [ -z "$out" ] || { echo "not gofmt-formatted: $out"; exit 1; }'; then :; fi
	if run_suite go-vet "$here/go" "$go_cmd" vet ./...; then :; fi
	if run_suite go-test "$here/go" "$go_cmd" test -race -count=1 -v ./...; then :; fi
	# Count the top-level tests and examples.
	p=$(grep -c '^--- PASS' "$logs/go-test" || true)
	f=$(grep -c '^--- FAIL' "$logs/go-test" || true)
	passed=$((passed + p))
	failed=$((failed + f))
	if ! grep -q '^ok ' "$logs/go-test" && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
fi

if $have_zig; then
	say "zig $($zig_cmd version)"
	# shellcheck disable=SC2086 # zig_cmd may be "python3 -m ziglang"
	if run_suite zig-fmt "$here/zig" $zig_cmd fmt --check build.zig build.zig.zon src test; then :; fi
	# shellcheck disable=SC2086
	if run_suite zig-test "$here/zig" $zig_cmd build test --summary all; then :; fi
	# The same tests with the directories given by hand, found through the
	# run path instead of LD_LIBRARY_PATH.
	# shellcheck disable=SC2086
	if run_suite zig-test-dirs "$here/zig" env -u LD_LIBRARY_PATH $zig_cmd build test --summary all \
		-Dinclude-dir="$include_dir" -Dlib-dir="$lib_dir"; then :; fi
	for log in zig-test zig-test-dirs; do
		summary=$(grep -E '^Build Summary:' "$logs/$log" | tail -n 1)
		p=$(printf '%s\n' "$summary" | sed -n 's/.* \([0-9][0-9]*\)\/[0-9][0-9]* tests passed.*/\1/p')
		f=$(printf '%s\n' "$summary" | sed -n 's/.*(\([0-9][0-9]*\) failed).*/\1/p')
		passed=$((passed + ${p:-0}))
		failed=$((failed + ${f:-0}))
		if [ -z "$p" ] && [ -z "$f" ]; then failed=$((failed + 1)); fi
	done
fi

[ -n "$skipped" ] && say "skipped:$skipped (toolchain missing)"
if [ -n "$failures" ]; then
	say "failed suites:$failures"
	echo "bindings: $passed passed, $failed failed"
	exit 1
fi
echo "bindings: $passed passed, $failed failed"
