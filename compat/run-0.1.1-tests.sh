#!/bin/sh
# Runs the tests that the crate bitask 0.1.1 published (tests/integration_tests.rs,
# tests/thread_safety_tests.rs, tests/process_safety_tests.rs), unchanged, against this crate
# and its command-line tool: code and scripts written for 0.1.1 keep working.
#
# Called by `make test-compat` (compat/compat.mk). Steps:
#   1. fetches bitask 0.1.1 with cargo, as the dependency of a scratch package; when the
#      registry is out of reach, Cargo's cache is tried offline; when that fails too, the run
#      is skipped with a message, except under CI=true, where it is an error;
#   2. lays out a scratch package: the three test files copied as they are, this repository
#      as its `bitask` dependency, and compat/shim.rs as its binary, which runs the bitask
#      tool, so that the tests' `cargo run -- put --key ...` drives the real tool;
#   3. runs `cargo test` there (incrementally: the scratch directory, its target directory
#      included, is kept between runs) and checks that every test passes except the ones
#      listed in expected_failures below, and that each of those fails.
#
# Environment: CARGO (default cargo), BITASK_CLI (the tool; default build/bin/bitask, which
# `make` builds), BITASK_COMPAT_DIR (the scratch directory; default compat-0.1.1 in
# CARGO_TARGET_DIR, or in target/), CI (true: never skip).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cargo=${CARGO:-cargo}
cli=${BITASK_CLI:-$root/build/bin/bitask}
case $cli in /*) ;; *) cli=$(pwd)/$cli ;; esac
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$(pwd)/$target ;; esac # as cargo takes it
scratch=${BITASK_COMPAT_DIR:-$target/compat-0.1.1}
logs=$scratch/logs
start=$(date +%s)

# The test files of 0.1.1 that are run.
tests="integration_tests.rs thread_safety_tests.rs process_safety_tests.rs"

# The tests of 0.1.1 that fail here on purpose, one a line: the name, a space, why. A listed
# test that passes fails this run, as an unlisted one that fails does, so the list says
# exactly where this crate differs. The README's "Coming from 0.1.1" gives the same list.
expected_failures='test_lock_file_cleanup db.lock stays after the writer exits: the writer flocks it and never deletes it, since deleting it would let a second opener create and lock a new db.lock while the first writer still holds the old one'

say() { printf 'test-compat: %s\n' "$*"; }

fail() {
	say "ERROR: $*"
	exit 1
}

# Without bitask 0.1.1 there is nothing to run: an error under CI, a skip elsewhere.
skip() {
	if [ "${CI:-}" = true ]; then
		fail "$1, and CI=true forbids skipping (see $logs/fetch.log)"
	fi
	say "SKIPPED bitask 0.1.1's tests ($1; see $logs/fetch.log)"
	exit 0
}

# Writes standard input to $1, leaving the file (and so its time stamp, which cargo compares)
# untouched when its content is the same.
put_file() {
	cat >"$1.new"
	if cmp -s "$1.new" "$1"; then rm -f "$1.new"; else mv "$1.new" "$1"; fi
}

# Single quotes make the paths TOML literal strings, which have no escapes.
case $root in *"'"*) fail "the repository's path has a single quote: $root" ;; esac
[ -x "$cli" ] || fail "no bitask tool at $cli (run make first, or set BITASK_CLI)"
mkdir -p "$scratch/fetch/src" "$scratch/pkg/src" "$scratch/pkg/tests" "$logs"

# --- 1. fetch bitask 0.1.1 -----------------------------------------------------------------

put_file "$scratch/fetch/Cargo.toml" <<'EOF'
# Made by compat/run-0.1.1-tests.sh: depends on bitask 0.1.1 so that cargo fetches it.
[package]
name = "bitask-0-1-1-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
bitask = "=0.1.1"

[workspace]
EOF
put_file "$scratch/fetch/src/lib.rs" </dev/null

# `cargo fetch` for the manifest $1; $2 names what it fetches, for the message.
fetch() {
	if "$cargo" fetch --manifest-path "$1" >"$logs/fetch.log" 2>&1; then
		return 0
	fi
	# Cargo ends its error with the deepest cause: that line says why.
	reason=$(sed -e '/^[[:space:]]*$/d' -e 's/^[[:space:]]*//' "$logs/fetch.log" | tail -n 1)
	# The registry is out of reach: what an earlier fetch left in Cargo's cache may do.
	if "$cargo" fetch --offline --manifest-path "$1" >>"$logs/fetch.log" 2>&1; then
		say "the registry is out of reach ($reason): using Cargo's cache, offline"
		CARGO_NET_OFFLINE=true
		export CARGO_NET_OFFLINE
		return 0
	fi
	skip "cannot fetch $2: $reason"
}

fetch "$scratch/fetch/Cargo.toml" "bitask 0.1.1"
meta=$("$cargo" metadata --format-version 1 --offline --manifest-path "$scratch/fetch/Cargo.toml" \
	2>>"$logs/fetch.log") || fail "cargo metadata failed after fetching bitask 0.1.1 (see $logs/fetch.log)"
manifest=$(printf '%s\n' "$meta" | grep -o '"manifest_path":"[^"]*/bitask-0\.1\.1/Cargo\.toml"' |
	head -n 1 | sed -e 's/^"manifest_path":"//' -e 's/"$//')
[ -n "$manifest" ] || fail "cargo metadata names no bitask-0.1.1/Cargo.toml"
src=$(dirname "$manifest")
say "bitask 0.1.1's tests from $src/tests"

# --- 2. the scratch package ----------------------------------------------------------------

for t in $tests; do
	[ -f "$src/tests/$t" ] || fail "bitask 0.1.1 has no tests/$t"
	put_file "$scratch/pkg/tests/$t" <"$src/tests/$t"
done
for f in "$scratch/pkg/tests"/*; do # a file left by an older list would run too
	case " $tests " in *" ${f##*/} "*) ;; *) rm -rf "$f" ;; esac
done
put_file "$scratch/pkg/src/main.rs" <"$here/shim.rs"
# The crates 0.1.1's tests use, at the versions 0.1.1 asked for, are ordinary dependencies:
# as dev-dependencies, tempfile (also a build dependency of bitask, through cbindgen) would
# give `cargo test` and the tests' `cargo run` two builds of bitask, one over the other.
put_file "$scratch/pkg/Cargo.toml" <<EOF
# Made by compat/run-0.1.1-tests.sh: bitask 0.1.1's tests, in tests/, against this repository.
[package]
name = "bitask-0-1-1-tests"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
bitask = { path = '$root' }
anyhow = "1.0.95"
env_logger = "0.11.6"
log = "0.4.25"
tempfile = "3.15.0"

# 0.1.1's tests bind handles with \`let mut\`, which this crate's \`&self\` methods do not need.
[lints.rust]
unused_mut = "allow"

# A workspace of its own, so that no Cargo.toml above this directory is taken for its root.
[workspace]
EOF
fetch "$scratch/pkg/Cargo.toml" "the dependencies of bitask 0.1.1's tests"

# --- 3. cargo test -------------------------------------------------------------------------

# The tests run `cargo run` in the package's directory: with this target directory it finds
# the shim built, and through BITASK_COMPAT_CLI the shim finds the tool.
CARGO_TARGET_DIR=$scratch/target
BITASK_COMPAT_CLI=$cli
export CARGO_TARGET_DIR BITASK_COMPAT_CLI
cd "$scratch/pkg"

# Also what the tests' `cargo run` builds (the binary, as `cargo build` does), so that a build
# problem shows here and the tests find everything built.
say "building: (cd $scratch/pkg && $cargo test --no-run && $cargo build --bins)"
if ! { "$cargo" test --no-run && "$cargo" build --bins; } >"$logs/build.log" 2>&1; then
	cat "$logs/build.log"
	fail "bitask 0.1.1's tests do not build against this crate"
fi
"$cargo" test -q -- --list >"$logs/list.log" 2>"$logs/list.err" ||
	{ cat "$logs/list.err"; fail "cannot list the tests"; }
names=$(sed -n 's/^\([^ ]*\): test$/\1/p' "$logs/list.log")
[ -n "$names" ] || fail "no tests found in $logs/list.log"
total=$(printf '%s\n' "$names" | wc -l)

say "running: (cd $scratch/pkg && $cargo test --no-fail-fast)"
# Standard error apart: the tests' child processes write to it, and the result lines are
# read from standard output.
if "$cargo" test --no-fail-fast >"$logs/test.log" 2>"$logs/test.err"; then rc=0; else rc=$?; fi

# The reason a test is expected to fail, or nothing.
expected_reason() {
	printf '%s\n' "$expected_failures" | sed -n "s/^$1 //p"
}

passed=0
failed=0
as_expected=0
for name in $names; do
	if grep -qF "test $name ... ok" "$logs/test.log"; then
		outcome=ok
	elif grep -qF "test $name ... FAILED" "$logs/test.log"; then
		outcome=FAILED
	else
		outcome="no result"
	fi
	why=$(expected_reason "$name")
	if [ -z "$why" ] && [ "$outcome" = ok ]; then
		passed=$((passed + 1))
	elif [ -n "$why" ] && [ "$outcome" = FAILED ]; then
		as_expected=$((as_expected + 1))
		say "$name failed, as expected: $why"
	elif [ -n "$why" ] && [ "$outcome" = ok ]; then
		failed=$((failed + 1))
		say "UNEXPECTED: $name passed, but is listed as failing on purpose ($why):" \
			"take it off expected_failures in compat/run-0.1.1-tests.sh and the README"
	else
		failed=$((failed + 1))
		say "UNEXPECTED: $name: $outcome"
	fi
done
for name in $(printf '%s\n' "$expected_failures" | sed 's/ .*//'); do
	if ! printf '%s\n' "$names" | grep -qxF "$name"; then
		failed=$((failed + 1))
		say "UNEXPECTED: $name is listed as failing on purpose, but 0.1.1 has no such test"
	fi
done
if [ "$rc" -ne 0 ] && [ "$as_expected" -eq 0 ] && [ "$failed" -eq 0 ]; then
	failed=$((failed + 1))
	say "UNEXPECTED: cargo test exited $rc with every test passed"
fi

say "$total tests of bitask 0.1.1 run in $(($(date +%s) - start)) s:" \
	"$passed passed, $as_expected failed as expected, $failed did not do what was expected"
if [ "$failed" -ne 0 ]; then
	echo "--- cargo test's standard output ($logs/test.log):"
	cat "$logs/test.log"
	echo "--- the end of its standard error ($logs/test.err):"
	tail -n 40 "$logs/test.err"
	echo "compat: $passed passed, $failed failed"
	exit 1
fi
echo "compat: $passed passed, $failed failed"
