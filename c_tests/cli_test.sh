#!/usr/bin/env bash
# Tests of the command-line tool: every command, the exit codes, and dump/load round trips of
# arbitrary bytes. Usage: cli_test.sh PATH/TO/bitask
set -euo pipefail

bin=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/bitask-cli-XXXXXX")
trap 'rm -rf "$work"' EXIT
db=$work/db
passed=0
failed=0

check() { # check NAME COMMAND...: the command must succeed
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        echo "FAIL cli::$name" >&2
        failed=$((failed + 1))
    fi
}

status() { # status CMD...: prints the exit status of the command
    local rc=0
    "$@" >/dev/null 2>&1 || rc=$?
    echo "$rc"
}

# --help, --version, usage errors.
check help-exits-0 test "$(status "$bin" --help)" = 0
check help-shows-usage grep -q '^usage: bitask' <("$bin" --help)
check version grep -q '^bitask [0-9]*\.[0-9]*\.[0-9]* (library ' <("$bin" --version)
check no-arguments-is-2 test "$(status "$bin")" = 2
check unknown-command-is-2 test "$(status "$bin" "$db" frobnicate)" = 2
check missing-argument-is-2 test "$(status "$bin" "$db" put onlykey)" = 2

# put, get, del and their exit codes.
check put "$bin" "$db" put greeting "hello world"
check get test "$("$bin" "$db" get greeting)" = "hello world"
check get-missing-is-1 test "$(status "$bin" "$db" get nobody)" = 1
check get-missing-prints-nothing test -z "$("$bin" "$db" get nobody 2>&1 || true)"
check overwrite "$bin" "$db" put greeting "hi"
check get-overwritten test "$("$bin" "$db" get greeting)" = "hi"
check del "$bin" "$db" del greeting
check del-missing-is-1 test "$(status "$bin" "$db" del greeting)" = 1
check get-deleted-is-1 test "$(status "$bin" "$db" get greeting)" = 1
check empty-value "$bin" "$db" put empty ""
check get-empty-value test "$("$bin" "$db" get empty | od -An -c | tr -d ' ')" = '\n'

# Binary values through standard input, and -e arguments.
for i in $(seq 0 255); do printf "\\x$(printf %02x "$i")"; done >"$work/all-bytes"
check put-stdin "$bin" "$db" put bin - <"$work/all-bytes"
{ cat "$work/all-bytes"; printf '\n'; } >"$work/all-bytes-nl"
"$bin" "$db" get bin >"$work/got"
check get-binary cmp -s "$work/got" "$work/all-bytes-nl"
check put-escaped "$bin" -e "$db" put 'nul\x00key' 'tab\x09value'
check get-escaped test "$("$bin" -e "$db" get 'nul\x00key')" = 'tab\x09value'
check bad-escape-is-2 test "$(status "$bin" -e "$db" get 'bad\x4')" = 2

# list: encoded keys, byte order, prefixes.
"$bin" "$db" put apple 1
"$bin" "$db" put apricot 2
"$bin" "$db" put banana 3
check list test "$("$bin" "$db" list | tr '\n' ,)" = 'apple,apricot,banana,bin,empty,nul\x00key,'
check list-prefix test "$("$bin" "$db" list ap | tr '\n' ,)" = 'apple,apricot,'
check list-no-match test -z "$("$bin" "$db" list zzz)"

# stats and compact.
check stats grep -q '^key_count 6$' <("$bin" "$db" stats)
check stats-fields test "$("$bin" "$db" stats | cut -d' ' -f1 | tr '\n' ,)" = \
    'key_count,live_bytes,dead_bytes,data_files,disk_bytes,torn_bytes,'
check compact "$bin" "$db" compact
check stats-after-compact grep -q '^dead_bytes 0$' <("$bin" "$db" stats)
check data-kept-by-compact test "$("$bin" "$db" get apricot)" = 2

# dump | load round-trips every byte in keys and values, and the empty value.
"$bin" "$db" put "$(printf 'key with spaces\t"quotes" \\ backslash')" "$(printf 'é\r')"
"$bin" "$db" dump >"$work/dump1"
check dump-header test "$(head -1 "$work/dump1")" = '# bitask dump 1'
check dump-empty-value grep -q '^empty ""$' "$work/dump1"
check dump-is-text test "$(LC_ALL=C tr -d '\041-\176\n ' <"$work/dump1" | wc -c)" = 0
check load "$bin" "$work/copy" load <"$work/dump1" 2>/dev/null
"$bin" "$work/copy" dump >"$work/dump2"
check round-trip cmp -s "$work/dump1" "$work/dump2"
"$bin" "$work/copy" get bin >"$work/got2"
check round-trip-binary cmp -s "$work/got2" "$work/all-bytes-nl"
all_key=$(for i in $(seq 1 255); do printf '\\x%02x' "$i"; done)
printf '# a comment\n\n%s %s\nplain ""\n' "$all_key" 'v' >"$work/hand-made"
check load-hand-made "$bin" "$work/hand" load <"$work/hand-made" 2>/dev/null
check hand-made-key test "$("$bin" -e "$work/hand" get "$all_key")" = v
check hand-made-count test "$("$bin" "$work/hand" dump | wc -l)" = 3
check uppercase-hex-accepted "$bin" "$work/hand" load <<<'\x4A \x4b' 2>/dev/null
check uppercase-hex-decoded test "$("$bin" "$work/hand" get J)" = K

# Malformed dumps: exit 2, the line named, the pairs before it stored.
printf 'good 1\nbad line here\n' >"$work/bad1"
check load-bad-is-2 test "$(status "$bin" "$work/bad" load <"$work/bad1")" = 2
check load-bad-names-line grep -q 'line 2' <("$bin" "$work/bad" load <"$work/bad1" 2>&1 || true)
check load-before-bad-kept test "$("$bin" "$work/bad" get good)" = 1
for bad in 'nospace' ' leading-space' 'k \x0' 'k "' 'k \q' '"" emptykey' "$(printf 'k v\r')"; do
    check "load-rejects:$bad" test "$(status "$bin" "$work/bad" load <<<"$bad")" = 2
done

# Errors: exit 2 with the library's message on standard error.
touch "$work/a-file"
check error-is-2 test "$(status "$bin" "$work/a-file" put k v)" = 2
check error-message grep -q 'bitask: open .*a-file' <("$bin" "$work/a-file" put k v 2>&1 || true)
check read-missing-store-is-2 test "$(status "$bin" "$work/none" get k)" = 2
check read-does-not-create test ! -e "$work/none"
long_key=$(head -c 70000 /dev/zero | tr '\0' k)
check too-large-is-2 test "$(status "$bin" "$db" put "$long_key" v)" = 2

echo "cli: $passed passed, $failed failed"
test "$failed" = 0
