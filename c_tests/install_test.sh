#!/usr/bin/env bash
# `make install` into a temporary DESTDIR: the files and symlinks land where PREFIX, LIBDIR,
# INCLUDEDIR, BINDIR, DOCDIR and MANDIR say (the shared library 0644, the manual pages and
# the documentation included), bitask.pc is right (its directories relative to ${prefix}
# where they lie under it, its URL), a C program builds and runs against the installed library
# with `pkg-config --cflags --libs bitask`, dynamically and statically (--static), the
# installed CLI finds its library through a run path fitting LIBDIR, or has none for a system
# LIBDIR, `make install-strip` strips, the build honours CPPFLAGS, CFLAGS and LDFLAGS, and
# `make uninstall` removes it all. Run by `make test-install`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
make_cmd=${MAKE:-make}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
abi=$(sed -n 's/^const ABI_MAJOR: u32 = \([0-9]*\);$/\1/p' "$root/build.rs")
url=$(sed -n 's/^repository = "\(.*\)"$/\1/p' "$root/Cargo.toml")
cc=${CC:-cc}
work=$(mktemp -d "${TMPDIR:-/tmp}/bitask-install-XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

suite=install
# shellcheck source=c_tests/check.sh
. "$(dirname "$0")/check.sh"

# The run path of an ELF file, empty when it has none.
runpath() { readelf -d "$1" | sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]$/\2/p'; }

# True when an ELF file has DWARF debug information; no_debug_info: true when an ELF file
# (or every member of an archive) has none.
has_debug_info() { readelf -S "$1" 2>/dev/null | grep -q '\.debug_info'; }
no_debug_info() { ! has_debug_info "$1"; }

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
check library-mode-0644 test "$(stat -c %a "$lib/libbitask.so.$version")" = 644
check not-stripped has_debug_info "$lib/libbitask.so.$version"
check man1 test -f "$dest$prefix/share/man/man1/bitask.1"
check man3 test -f "$dest$prefix/share/man/man3/bitask.3"
check man3-link test "$(readlink "$dest$prefix/share/man/man3/bitask_open.3")" = bitask.3
check man3-links test "$(find "$dest$prefix/share/man/man3" -type l | wc -l)" = "$(wc -l <"$root/c_tests/symbols.txt")"
check doc-readme cmp -s "$dest$prefix/share/doc/bitask/README.md" "$root/README.md"
check doc-license cmp -s "$dest$prefix/share/doc/bitask/LICENSE" "$root/LICENSE"
check doc-docs cmp -s "$dest$prefix/share/doc/bitask/docs/format.md" "$root/docs/format.md"
pc=$lib/pkgconfig/bitask.pc
check pc-prefix grep -qx "prefix=$prefix" "$pc"
check pc-exec-prefix grep -qx 'exec_prefix=${prefix}' "$pc"
check pc-libdir grep -qx 'libdir=${exec_prefix}/lib' "$pc"
check pc-includedir grep -qx 'includedir=${prefix}/include' "$pc"
check pc-url grep -qx "URL: $url" "$pc"
check pc-relocates test "$(PKG_CONFIG_PATH=$lib/pkgconfig pkg-config --define-variable=prefix=/elsewhere \
    --variable=libdir bitask)" = /elsewhere/lib
check cli-runpath test "$(runpath "$dest$prefix/bin/bitask")" = '$ORIGIN/../lib'

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
check custom-pc-libdir grep -qx 'libdir=${exec_prefix}/lib/x86_64-linux-gnu' "$dest/usr/share/pkgconfig/bitask.pc"
check custom-pc-includedir grep -qx 'includedir=${prefix}/include/bitask' "$dest/usr/share/pkgconfig/bitask.pc"
# A tool beside a library in a directory the loader searches needs no run path (Debian's
# layout: /usr/bin and /usr/lib/<multiarch>).
if [ "$("$cc" -print-multiarch 2>/dev/null)" = x86_64-linux-gnu ]; then
    check custom-cli-no-runpath test -z "$(runpath "$dest/usr/libexec/bitask/bitask")"
fi
export PKG_CONFIG_PATH=$dest/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
check custom-pc-libs test "$(echo $(pkg-config --libs bitask))" = "-L$dest/usr/lib/x86_64-linux-gnu -lbitask"
check custom-pc-cflags test "$(echo $(pkg-config --cflags bitask))" = "-I$dest/usr/include/bitask"
# shellcheck disable=SC2046
check custom-build "$cc" -Wall -Wextra -Werror -o "$work/custom" "$root/c_tests/readme_example.c" \
    $(pkg-config --cflags --libs bitask)
check custom-run bash -c "LD_LIBRARY_PATH='$dest/usr/lib/x86_64-linux-gnu' '$work/custom' '$work/db-custom' >/dev/null"
quiet_make uninstall DESTDIR="$dest" "${vars[@]}"
check custom-uninstall test -z "$(find "$dest" -type f -o -type l)"

# --- a multiarch LIBDIR outside the system's, and other documentation directories -------
multiarch=$("$cc" -print-multiarch 2>/dev/null || echo multiarch)
dest=$work/dest3
vars=(PREFIX=/opt/ma LIBDIR=/opt/ma/lib/$multiarch DOCDIR=/opt/ma/doc MANDIR=/opt/ma/man)
quiet_make install DESTDIR="$dest" "${vars[@]}"
check ma-runpath test "$(runpath "$dest/opt/ma/bin/bitask")" = "\$ORIGIN/../lib/$multiarch"
check ma-cli-runs env -u LD_LIBRARY_PATH "$dest/opt/ma/bin/bitask" "$work/db-ma" put k v
check ma-pc-libdir grep -qx "libdir=\${exec_prefix}/lib/$multiarch" "$dest/opt/ma/lib/$multiarch/pkgconfig/bitask.pc"
check ma-docdir test -f "$dest/opt/ma/doc/README.md"
check ma-mandir test -f "$dest/opt/ma/man/man3/bitask.3"
quiet_make uninstall DESTDIR="$dest" "${vars[@]}"
check ma-uninstall test -z "$(find "$dest" -type f -o -type l)"

# --- a LIBDIR outside PREFIX: bitask.pc names it as it is ---------------------------------
dest=$work/dest4
vars=(PREFIX=/opt/p LIBDIR=/srv/bitask/lib)
quiet_make install DESTDIR="$dest" "${vars[@]}"
check outside-pc-libdir grep -qx 'libdir=/srv/bitask/lib' "$dest/srv/bitask/lib/pkgconfig/bitask.pc"
check outside-runpath test "$(runpath "$dest/opt/p/bin/bitask")" = '$ORIGIN/../../../srv/bitask/lib'
check outside-cli-runs env -u LD_LIBRARY_PATH "$dest/opt/p/bin/bitask" "$work/db-outside" put k v
quiet_make uninstall DESTDIR="$dest" "${vars[@]}"
check outside-uninstall test -z "$(find "$dest" -type f -o -type l)"

# --- install-strip ------------------------------------------------------------------------
dest=$work/dest5
quiet_make install-strip DESTDIR="$dest" PREFIX=/usr/local
lib=$dest/usr/local/lib
check strip-library no_debug_info "$lib/libbitask.so.$version"
check strip-tool no_debug_info "$dest/usr/local/bin/bitask"
check strip-archive no_debug_info "$lib/libbitask.a"
check strip-keeps-exports test "$(nm -D --defined-only "$lib/libbitask.so.$version" | wc -l)" = \
    "$(wc -l <"$root/c_tests/symbols.txt")"
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
# shellcheck disable=SC2046
check strip-static-links "$cc" -static -o "$work/static-stripped" "$root/c_tests/readme_example.c" \
    $(pkg-config --cflags --libs --static bitask) 2>"$work/static-stripped.log"
check strip-static-runs bash -c "'$work/static-stripped' '$work/db-stripped' | grep -q 'fruit:apple = red'"
quiet_make uninstall DESTDIR="$dest" PREFIX=/usr/local

# --- the build's flags --------------------------------------------------------------------
# Both builds of the tool (build/bin's and the installed one) take the caller's flags.
"$make_cmd" -C "$root" --no-print-directory -n -W cli/bitask.c all CPPFLAGS=-DBITASK_PROBE_CPPFLAGS \
    CFLAGS='-O2 -DBITASK_PROBE_CFLAGS' LDFLAGS=-Wl,-O1,--build-id >"$work/flags.log"
for flag in -DBITASK_PROBE_CPPFLAGS -DBITASK_PROBE_CFLAGS -Wl,-O1,--build-id; do
    check "flags${flag//[^A-Za-z]/-}" test "$(grep -c -- "-o build/[a-z]*/bitask .*" "$work/flags.log")" = \
        "$(grep -- "-o build/[a-z]*/bitask " "$work/flags.log" | grep -c -- "$flag")"
done
check flags-two-links test "$(grep -c -- "-o build/[a-z]*/bitask " "$work/flags.log")" = 2

echo "install: $passed passed, $failed failed"
test "$failed" = 0
