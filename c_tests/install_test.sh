#!/usr/bin/env bash
# `make install` into a temporary DESTDIR: the files and symlinks land where PREFIX, LIBDIR,
# INCLUDEDIR and BINDIR say, bitask.pc is right, a C program builds and runs against the
# installed library with `pkg-config --cflags --libs bitask`, dynamically and statically
# (--static), the installed CLI finds its library, and `make uninstall` removes it all.
# Run by `make test-install`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
make_cmd=${MAKE:-make}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
abi=$(sed -n 's/^const ABI_MAJOR: u32 = \([0-9]*\);$/\1/p' "$root/build.rs")
cc=${CC:-cc}
work=$(mktemp -d "${TMPDIR:-/tmp}/bitask-install-XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

check() { # check NAME COMMAND...
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        echo "FAIL install::$name" >&2
        failed=$((failed + 1))
    fi
}

quiet_make() { # quiet_make ARGS...: runs make, showing its output only on failure
    if ! "$make_cmd" -C "$root" --no-print-directory "$@" >"$work/make.log" 2>&1; then
        cat "$work/make.log" >&2
        echo "install_test: make $* failed" >&2
        exit 1
    fi
}

# --- a default layout under PREFIX ---------------------------------------------------
dest=$work/dest
prefix=/opt/bitask
quiet_make install DESTDIR="$dest" PREFIX="$prefix"
lib=$dest$prefix/lib
check real-library test -f "$lib/libbitask.so.$version"
check soname-link test "$(readlink "$lib/libbitask.so.$abi")" = "libbitask.so.$version"
check dev-link test "$(readlink "$lib/libbitask.so")" = "libbitask.so.$abi"
check static-library test -f "$lib/libbitask.a"
check header cmp -s "$dest$prefix/include/bitask.h" "$root/include/bitask.h"
check cli test -x "$dest$prefix/bin/bitask"
check pc-file test -f "$lib/pkgconfig/bitask.pc"
check pc-has-no-destdir bash -c "! grep -q '$dest' '$lib/pkgconfig/bitask.pc'"
check soname bash -c "readelf -d '$lib/libbitask.so.$version' | grep -q 'Library soname: \[libbitask.so.$abi\]'"

export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
check pc-version test "$(pkg-config --modversion bitask)" = "$version"
check pc-cflags test "$(echo $(pkg-config --cflags bitask))" = "-I$dest$prefix/include"

# A program linked dynamically: it needs libbitask.so.N (the SONAME), found at run time.
# shellcheck disable=SC2046 # pkg-config's output is a list of flags
check build-dynamic "$cc" -Wall -Wextra -Werror -o "$work/dynamic" "$root/c_tests/readme_example.c" \
    $(pkg-config --cflags --libs bitask)
check needs-soname bash -c "readelf -d '$work/dynamic' | grep -q 'NEEDED.*\[libbitask.so.$abi\]'"
check run-dynamic bash -c "LD_LIBRARY_PATH='$lib' '$work/dynamic' '$work/db-dynamic' | grep -q 'fruit:apple = red'"

# A program linked statically, libc included: no dynamic section at all. (glibc's linker
# warnings about getaddrinfo and getpwuid_r in static programs are expected.)
# shellcheck disable=SC2046
check build-static "$cc" -static -Wall -Wextra -Werror -o "$work/static" \
    "$root/c_tests/readme_example.c" $(pkg-config --cflags --libs --static bitask) \
    2>"$work/static.log"
check static-is-static bash -c "! readelf -d '$work/static' 2>/dev/null | grep -q NEEDED"
check run-static bash -c "'$work/static' '$work/db-static' | grep -q 'fruit:apple = red'"

# The installed CLI finds its library through its run path, $ORIGIN/../lib.
check cli-runs env -u LD_LIBRARY_PATH "$dest$prefix/bin/bitask" "$work/db-cli" put k v
check cli-reads test "$(env -u LD_LIBRARY_PATH "$dest$prefix/bin/bitask" "$work/db-cli" get k)" = v

quiet_make uninstall DESTDIR="$dest" PREFIX="$prefix"
check uninstall-removes-all test -z "$(find "$dest" -type f -o -type l)"

# --- every directory given by hand ----------------------------------------------------
dest=$work/dest2
vars=(PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu INCLUDEDIR=/usr/include/bitask
    BINDIR=/usr/libexec/bitask PKGCONFIGDIR=/usr/share/pkgconfig)
quiet_make install DESTDIR="$dest" "${vars[@]}"
check custom-libdir test -f "$dest/usr/lib/x86_64-linux-gnu/libbitask.so.$version"
check custom-includedir test -f "$dest/usr/include/bitask/bitask.h"
check custom-bindir test -x "$dest/usr/libexec/bitask/bitask"
check custom-pcdir test -f "$dest/usr/share/pkgconfig/bitask.pc"
export PKG_CONFIG_PATH=$dest/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
check custom-pc-libs test "$(echo $(pkg-config --libs bitask))" = "-L$dest/usr/lib/x86_64-linux-gnu -lbitask"
check custom-pc-cflags test "$(echo $(pkg-config --cflags bitask))" = "-I$dest/usr/include/bitask"
# shellcheck disable=SC2046
check custom-build "$cc" -Wall -Wextra -Werror -o "$work/custom" "$root/c_tests/readme_example.c" \
    $(pkg-config --cflags --libs bitask)
check custom-run bash -c "LD_LIBRARY_PATH='$dest/usr/lib/x86_64-linux-gnu' '$work/custom' '$work/db-custom' >/dev/null"
quiet_make uninstall DESTDIR="$dest" "${vars[@]}"
check custom-uninstall test -z "$(find "$dest" -type f -o -type l)"

echo "install: $passed passed, $failed failed"
test "$failed" = 0
