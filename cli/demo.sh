#!/bin/sh
# `make demo`: a short session of the command-line tool on a fresh directory, showing each
# command, what it printed and its exit status when not 0.
# Usage: demo.sh PATH/TO/bitask STORE-DIRECTORY
set -eu

bin=$1
db=$2
rm -rf "$db" "$db.copy" "$db.dump"

say() { printf '\n# %s\n' "$*"; }
run() {
    printf '$ bitask'
    for arg in "$@"; do
        case $arg in
        *[!A-Za-z0-9:/._-]*) printf " '%s'" "$arg" ;;
        *) printf ' %s' "$arg" ;;
        esac
    done
    printf '\n'
    rc=0
    "$bin" "$@" || rc=$?
    [ "$rc" = 0 ] || printf '(exit status %s)\n' "$rc"
}

printf 'bitask demo: %s (library %s), store in %s\n' "$("$bin" --version | cut -d' ' -f2)" \
    "$("$bin" --version | sed 's/.*library \(.*\))/\1/')" "$db"
say "Store three pairs (the first write creates the directory)."
run "$db" put user:1 alice
run "$db" put user:2 bob
run "$db" put config:color "light blue"
say "Read them back; a missing key exits with status 1."
run "$db" get user:1
run "$db" get user:3
say "Is a key there? How many keys start with user:?"
run "$db" exists user:1
run "$db" count user:
say "Keys in byte order, all or by prefix (non-printing bytes and spaces appear as \\xHH)."
run "$db" list
run "$db" list user:
say "Overwrite and delete: the old records become dead bytes until a compaction."
run "$db" put user:1 alice-v2
run "$db" del user:2
run "$db" del user:2
run "$db" stats
run "$db" compact
run "$db" stats
say "Dump to text and load into a second store: any bytes round-trip."
printf '$ bitask %s dump > %s\n' "$db" "$db.dump"
"$bin" "$db" dump >"$db.dump"
cat "$db.dump"
printf '$ bitask %s load < %s\n' "$db.copy" "$db.dump"
"$bin" "$db.copy" load <"$db.dump"
run "$db.copy" get config:color
printf '\nDone. The stores are in %s and %s; `%s --help` tells the rest.\n' "$db" "$db.copy" "$bin"
