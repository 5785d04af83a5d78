#!/usr/bin/env bash
# Tests of the command-line tool: every command, the exit codes, and dump/load round trips of
# arbitrary bytes. Usage: [BIG_VALUE_MIB=N] cli_test.sh PATH/TO/bitask
set -euo pipefail

bin=$1
case $bin in */*) bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin") ;; esac # some tests cd
work=$(mktemp -d "${TMPDIR:-/tmp}/bitask-cli-XXXXXX")
trap 'rm -rf "$work"' EXIT
db=$work/db
passed=0
failed=0

suite=cli
# shellcheck source=c_tests/check.sh
. "$(dirname "$0")/check.sh"

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

run() { # run CMD...: its exit status in $rc, its outputs in $work/out and $work/err
    rc=0
    "$@" >"$work/out" 2>"$work/err" || rc=$?
}
first_err() { head -n 1 "$work/err"; }

# --help, -h and help, and --version and -V, anywhere on the line: on standard output, exit 0,
# whatever else the line holds, and nothing is opened.
for args in "--help" "-h" "help" "$db --help" "--help $db" "$db get --help" "$db get -h k" \
    "$db --help get" "get --help" "help get" "$db help" "$db help get" "$db get k --colour --help" \
    "$work/help-none put k v --help"; do
    # shellcheck disable=SC2086 # the words of $args are the arguments
    run "$bin" $args
    check "help:$args" test "$rc" = 0
    check "help-usage:$args" grep -q '^usage: bitask' "$work/out"
    check "help-quiet:$args" test ! -s "$work/err"
done
check help-opens-nothing test ! -e "$work/help-none"
for args in "--version" "-V" "$db --version" "--version $db" "$db get k -V" "-V --help" \
    "put --key k --version" "ask -V"; do
    # shellcheck disable=SC2086
    run "$bin" $args
    check "version:$args" test "$rc" = 0
    check "version-line:$args" grep -q '^bitask [0-9]*\.[0-9]*\.[0-9]* (library ' "$work/out"
done
# A command's help tells its own usage, options and exit statuses.
run "$bin" help get
check help-get-usage grep -qx 'usage: bitask \[OPTIONS\] DIR get KEY\.\.\.' "$work/out"
check help-get-options grep -q '^  -e, --encoded' "$work/out"
check help-get-short test "$(wc -l <"$work/out")" -lt "$("$bin" --help | wc -l)"
check help-put-same test "$("$bin" "$db" put --help)" = "$("$bin" help put)"
check help-del-usage grep -qx 'usage: bitask \[OPTIONS\] DIR del KEY' <("$bin" del -h)
run "$bin" help frob
check help-unknown-is-2 test "$rc" = 2
check help-unknown-says test "$(first_err)" = "bitask: help: unknown command 'frob'"

# Usage errors: exit 2, a first line that names the command or argument, and not the whole
# usage (at most a line more, the command's usage).
usage_case() { # usage_case NAME EXPECTED-FIRST-LINE ARGS...
    local name=$1 want=$2
    shift 2
    run "$bin" "$@"
    check "usage-is-2:$name" test "$rc" = 2
    check "usage-says:$name" test "$(first_err)" = "$want"
    check "usage-short:$name" test "$(wc -l <"$work/err")" -le 2
    check "usage-no-output:$name" test ! -s "$work/out"
}
usage_case nothing "bitask: missing DIR and COMMAND"
usage_case no-command "bitask: missing COMMAND after $db" "$db"
usage_case get-no-key "bitask: get: missing KEY" "$db" get
usage_case put-no-value "bitask: put: missing VALUE" "$db" put k
usage_case exists-extra "bitask: exists: unexpected argument 'b'" "$db" exists a b
usage_case stats-extra "bitask: stats: unexpected argument 'x'" "$db" stats x
usage_case unknown-command "bitask: unknown command 'frob'" "$db" frob
usage_case unknown-option "bitask: unknown option '--colour'" "$db" get k --colour
usage_case unknown-short "bitask: unknown option '-q'" -q "$db" get k
usage_case command-first "bitask: get: the directory comes first: bitask DIR get KEY..." get "$db" k
check usage-get-line test "$(sed -n 2p <("$bin" "$db" get 2>&1))" = \
    'usage: bitask [OPTIONS] DIR get KEY...'
check usage-error-creates-nothing test "$(status "$bin" "$work/usage-none" put k)" = 2 \
    -a ! -e "$work/usage-none"
# Options anywhere; -- ends them, so an argument may start with a dash; a negative number is
# an argument.
check add-stores-only-when-absent test "$("$bin" "$work/add-db" add fresh-key one; echo "$?"; "$bin" "$work/add-db" add fresh-key two; echo "$?"; "$bin" "$work/add-db" get fresh-key)" = "$(printf '0\n1\none')"
# cas: 0 stored, 1 (nothing written) when the value is another or there is none.
check cas-stores-only-on-a-match test "$("$bin" "$work/cas-db" put k one; "$bin" "$work/cas-db" cas k one two; echo "$?"; "$bin" "$work/cas-db" cas k one three; echo "$?"; "$bin" "$work/cas-db" cas absent one two; echo "$?"; "$bin" "$work/cas-db" get k; "$bin" "$work/cas-db" exists absent; echo "$?")" = "$(printf '0\n1\n1\ntwo\n1')"
check cas-encoded test "$("$bin" -e "$work/cas-db" cas k two 'a\x20b'; "$bin" "$work/cas-db" get k)" = 'a b'
# batch: puts ("KEY VALUE") and removals ("KEY" alone) applied together; a malformed line
# anywhere writes none of them.
"$bin" "$work/batch-db" put c old
check batch-applies-every-operation test "$(printf '# a batch\na 1\nb two\\x20words\nc\nd ""\r\n' | "$bin" "$work/batch-db" batch 2>/dev/null; echo "$?"; "$bin" "$work/batch-db" dump)" = "$(printf '0\n# bitask dump 1\na 1\nb two\\x20words\nd ""')"
run "$bin" "$work/batch-db" batch < <(printf 'e 5\nf 6\na\nbad\\q 1\n')
check batch-malformed-writes-nothing test "$rc:$(first_err):$("$bin" "$work/batch-db" count):$(status "$bin" "$work/batch-db" exists e):$(status "$bin" "$work/batch-db" exists a)" = \
    "2:bitask: batch: line 4, column 4: \\ begins \\xHH, two hex digits; nothing written:3:1:0"
check batch-empty-key-refused test "$(printf '\\x \n' | status "$bin" "$work/batch-db" batch)" = 2
# get of several keys: "KEY VALUE" lines in the dump format, in the order given; 1 when any
# is missing.
run "$bin" "$work/batch-db" get d b a
check get-several test "$rc:$(cat "$work/out")" = "$(printf '0:d ""\nb two\\x20words\na 1')"
run "$bin" "$work/batch-db" get b zz a
check get-several-one-missing test "$rc:$(cat "$work/out")" = "$(printf '1:b two\\x20words\na 1')"
check get-several-loads-back test "$("$bin" "$work/batch-db" get a b | "$bin" "$work/batch-copy" load 2>/dev/null && "$bin" "$work/batch-copy" dump)" = "$(printf '# bitask dump 1\na 1\nb two\\x20words')"
big=$(head -c 100000 /dev/zero | tr '\0' x)
"$bin" "$work/batch-db" put big "$big"
check get-several-large-values test "$("$bin" "$work/batch-db" get big a big | cut -c1-12 | tr '\n' ,)" = "big xxxxxxxx,a 1,big xxxxxxxx,"
check option-after-command test "$("$bin" "$db" put -e 'sp\x20ace' 'a\x20b' && "$bin" "$db" get 'sp ace')" = 'a b'
check option-flags-together test "$("$bin" "$db" get -en 'sp\x20ace')" = 'a\x20b'
check option-long-encoded test "$("$bin" --encoded "$db" get 'sp\x20ace')" = 'a\x20b'
check double-dash "$bin" "$db" put -- -k --help
check double-dash-get test "$("$bin" "$db" get -- -k)" = --help
check negative-number "$bin" "$db" put n -5
check negative-number-get test "$("$bin" "$db" get n)" = -5
"$bin" "$db" del -- -k >/dev/null && "$bin" "$db" del n && "$bin" "$db" del 'sp ace'

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

# Keys with a time to live (an hour ahead, or at once: nothing here waits for a clock).
tdb=$work/ttl-db
check ttl-put "$bin" "$tdb" put --ttl 3600 hour one
check ttl-put-plain "$bin" "$tdb" put plain two
check ttl-put-zero "$bin" "$tdb" put gone three --ttl 0
check ttl-zero-is-absent test "$(status "$bin" "$tdb" get gone)" = 1
check ttl-left grep -qx '3[56][0-9][0-9]\.[0-9][0-9][0-9]' <("$bin" "$tdb" ttl hour)
check ttl-none test "$("$bin" "$tdb" ttl plain)" = -1
check ttl-missing-is-1 test "$(status "$bin" "$tdb" ttl nobody)" = 1
# A fraction of a second is taken (a TTL long enough to outlast a slow run under valgrind).
check ttl-fraction "$bin" "$tdb" expire plain 600.5
check ttl-fraction-left grep -qx '[56][0-9][0-9]\.[0-9][0-9][0-9]' <("$bin" "$tdb" ttl plain)
check ttl-expire-bad-is-2 test "$(status "$bin" "$tdb" expire plain soon)" = 2
check ttl-option-of-put-only test "$(status "$bin" "$tdb" get hour --ttl 5)" = 2
check ttl-bad-option-is-2 test "$(status "$bin" "$tdb" put k v --ttl -1)" = 2
check ttl-expire "$bin" "$tdb" expire plain 7200
check ttl-expire-left grep -qx '7[01][0-9][0-9]\.[0-9][0-9][0-9]' <("$bin" "$tdb" ttl plain)
check ttl-persist "$bin" "$tdb" persist plain
check ttl-persisted test "$("$bin" "$tdb" ttl plain)" = -1
check ttl-persist-again "$bin" "$tdb" persist plain
check ttl-persist-missing-is-1 test "$(status "$bin" "$tdb" persist nobody)" = 1
check ttl-expire-missing-is-1 test "$(status "$bin" "$tdb" expire nobody 5)" = 1
"$bin" "$tdb" dump >"$work/ttl-dump"
check ttl-dump-carries-expiry grep -qx 'hour one [0-9]\{13\}' "$work/ttl-dump"
check ttl-dump-plain grep -qx 'plain two' "$work/ttl-dump"
check ttl-dump-leaves-expired-out test "$(grep -c '^gone' "$work/ttl-dump")" = 0
check ttl-load "$bin" "$work/ttl-copy" load <"$work/ttl-dump"
check ttl-load-keeps-expiry test "$("$bin" "$work/ttl-copy" dump)" = "$(cat "$work/ttl-dump")"
check ttl-batch-keeps-expiry test "$("$bin" "$work/ttl-batch" batch <"$work/ttl-dump" 2>/dev/null; "$bin" "$work/ttl-batch" dump)" = "$(cat "$work/ttl-dump")"
printf 'past x 1\n' | "$bin" "$work/ttl-copy" load 2>/dev/null
check ttl-load-past-is-absent test "$(status "$bin" "$work/ttl-copy" get past)" = 1
run "$bin" "$work/ttl-copy" load <<<'k v 0'
check ttl-load-zero-expiry-is-2 test "$rc" = 2
check ttl-load-zero-expiry-says grep -q 'line 1, column 5: the EXPIRY cannot be 0' "$work/err"
check ttl-expire-now "$bin" "$tdb" expire hour 0
check ttl-expired-is-absent test "$(status "$bin" "$tdb" exists hour)" = 1
check ttl-count test "$("$bin" "$tdb" count)" = 1
{ cat "$work/all-bytes"; printf '\n'; } >"$work/all-bytes-nl"
"$bin" "$db" get bin >"$work/got"
check get-binary cmp -s "$work/got" "$work/all-bytes-nl"
# put KEY - refuses a value longer than BITASK_MAX_VALUE_LEN as soon as the input passes it,
# without reading or keeping the rest: from a pipe, what it left unread is still there for
# the next reader (wc -c); from a file, its size tells before anything is read.
max_value_len=$(sed -n 's/^#define BITASK_MAX_VALUE_LEN \([0-9]*\).*/\1/p' \
    "$(dirname "$0")/../include/bitask.h")
check max-value-len-found test "$max_value_len" = 268435456
extra=$((64 * 1024 * 1024))
left=$({
    put_rc=0
    "$bin" "$db" put huge - 2>"$work/err" || put_rc=$?
    echo "$put_rc" >"$work/rc"
    wc -c
} < <(head -c $((max_value_len + extra)) /dev/zero))
check put-stdin-too-large-is-2 test "$(cat "$work/rc")" = 2
check put-stdin-too-large-says test "$(first_err)" = \
    "bitask: put: the value on standard input is longer than $max_value_len bytes (BITASK_MAX_VALUE_LEN); nothing was stored"
check put-stdin-stops-at-the-limit test "$left" -ge $((extra - 1024 * 1024))
truncate -s $((max_value_len + 1)) "$work/sparse"
run "$bin" "$db" put huge - <"$work/sparse"
check put-file-too-large-is-2 test "$rc" = 2
check put-file-too-large-says grep -q "longer than $max_value_len bytes" "$work/err"
rm -f "$work/sparse"
check put-too-large-stored-nothing test "$(status "$bin" "$db" get huge)" = 1
check put-escaped "$bin" -e "$db" put 'nul\x00key' 'tab\x09value'
check get-escaped test "$("$bin" -e "$db" get 'nul\x00key')" = 'tab\x09value'
check bad-escape-is-2 test "$(status "$bin" -e "$db" get 'bad\x4')" = 2
run "$bin" -e "$db" get 'bad\x4'
check bad-escape-says test "$(first_err)" = \
    "bitask: get: KEY 'bad\\x4' (-e): column 4: \\ begins \\xHH, two hex digits"
# -n prints the value alone, byte for byte; without it a newline follows, wherever the output
# goes.
"$bin" "$db" get -n bin >"$work/got"
check get-n-exact cmp -s "$work/got" "$work/all-bytes"
check get-no-newline-long test "$("$bin" "$db" get --no-newline empty | wc -c)" = 0
check get-n-encoded test "$("$bin" -e -n "$db" get 'nul\x00key' | od -An -c | tr -d ' \n')" = \
    'tab\x09value'
check get-n-missing-is-1 test "$(status "$bin" "$db" get -n nobody)" = 1
run "$bin" "$db" list -n
check n-only-get test "$rc,$(first_err)" = "2,bitask: list: -n/--no-newline is an option of get"
run "$bin" "$db" get bin --json
check json-only-stats-list-verify-compact test "$rc,$(first_err)" = \
    "2,bitask: get: --json is an option of stats, list, verify and compact"

# list: encoded keys, byte order, prefixes.
"$bin" "$db" put apple 1
"$bin" "$db" put apricot 2
"$bin" "$db" put banana 3
check list test "$("$bin" "$db" list | tr '\n' ,)" = 'apple,apricot,banana,bin,empty,nul\x00key,'
check list-prefix test "$("$bin" "$db" list ap | tr '\n' ,)" = 'apple,apricot,'
check list-no-match test -z "$("$bin" "$db" list zzz)"

# exists KEY (exit 0 or 1, silently), count [PREFIX], dump [PREFIX].
check exists test "$(status "$bin" "$db" exists apple)" = 0
check exists-missing-is-1 test "$(status "$bin" "$db" exists nobody)" = 1
check exists-quiet test -z "$("$bin" "$db" exists apple 2>&1)$("$bin" "$db" exists nobody 2>&1)"
check exists-encoded "$bin" -e "$db" exists 'nul\x00key'
check count test "$("$bin" "$db" count)" = 6
check count-prefix test "$("$bin" "$db" count ap)" = 2
check count-prefix-encoded test "$("$bin" -e "$db" count 'nul\x00')" = 1
check count-none test "$("$bin" "$db" count zzz)" = 0
check dump-prefix test "$("$bin" "$db" dump ap | tr '\n' ,)" = '# bitask dump 1,apple 1,apricot 2,'
check dump-prefix-none test "$("$bin" "$db" dump zzz)" = '# bitask dump 1'
# --from and --to (both inclusive), --reverse; with a prefix too, and in the dump encoding.
check list-from-to test "$("$bin" "$db" list --from apricot --to bin | tr '\n' ,)" = \
    'apricot,banana,bin,'
check list-reverse test "$("$bin" "$db" list --reverse --to=banana | tr '\n' ,)" = \
    'banana,apricot,apple,'
check list-prefix-from test "$("$bin" "$db" list ap --from apr | tr '\n' ,)" = 'apricot,'
check list-from-encoded test "$("$bin" -e "$db" list --from 'nul\x00' | tr '\n' ,)" = 'nul\x00key,'
check count-from test "$("$bin" "$db" count --from b)" = 4
check dump-reverse test "$("$bin" "$db" dump ap --reverse | tr '\n' ,)" = \
    '# bitask dump 1,apricot 2,apple 1,'
run "$bin" "$db" get apple --reverse
check range-only-iterating test "$rc,$(first_err)" = \
    "2,bitask: get: --from, --to and --reverse are options of list, count and dump"
run "$bin" "$db" list --from
check from-missing-key test "$rc,$(first_err)" = "2,bitask: --from: missing KEY"

# stats and compact.
check stats grep -q '^key_count 6$' <("$bin" "$db" stats)
check stats-fields test "$("$bin" "$db" stats | cut -d' ' -f1 | tr '\n' ,)" = \
    'key_count,live_bytes,dead_bytes,data_files,disk_bytes,torn_bytes,'
# --json: one JSON object of the same figures, and the keys as a JSON array of strings, each
# the key in the dump encoding (as list prints it).
json_ok() { python3 -c 'import json, sys; json.load(sys.stdin)'; }
check stats-json-valid json_ok < <("$bin" "$db" stats --json)
check stats-json-same test "$("$bin" "$db" stats --json | python3 -c '
import json, sys
print("".join("%s %d\n" % kv for kv in json.load(sys.stdin).items()), end="")')" = \
    "$("$bin" "$db" stats)"
check list-json-valid json_ok < <("$bin" "$db" list --json)
json_keys() { python3 -c 'import json, sys; [print(k) for k in json.load(sys.stdin)]'; }
check list-json-same test "$("$bin" "$db" list --json | json_keys)" = "$("$bin" "$db" list)"
check list-json-prefix test "$("$bin" "$db" --json list ap | json_keys | tr '\n' ,)" = 'apple,apricot,'
check list-json-none test "$("$bin" "$db" list --json zzz | tr -d ' \n')" = '[]'
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

# dump | load into a fresh store keeps every pair. The source store is filled from a dump that
# escapes every byte, and through `put -`, so what it holds does not depend on the encoder
# under test. Covered: every byte value first in a key and first in a value (a key's leading
# # once made load skip the line as a comment), keys that look like the version line or like
# escapes, empty values, binary keys and values, CR and LF at the ends, a key of exactly
# BITASK_MAX_KEY_LEN bytes, and a large value of BIG_VALUE_MIB MiB. Its default, 8, keeps the
# runs under valgrind and the sanitizers, which use this script too, within a minute;
# BIG_VALUE_MIB=256 stores a value of exactly BITASK_MAX_VALUE_LEN (about 30 s and 2.5 GB of
# scratch space natively, far more under valgrind).
doubled() { # doubled FILE TIMES: FILE's bytes repeated 2^TIMES times, on standard output
    local f=$1 n=$2 t
    t=$(mktemp "$work/double-XXXXXX")
    cp "$f" "$t"
    while [ "$n" -gt 0 ]; do
        cat "$t" "$t" >"$t.2" && mv "$t.2" "$t"
        n=$((n - 1))
    done
    cat "$t"
    rm -f "$t"
}
escape_all() { od -An -v -tx1 | tr -d ' \n' | sed 's/../\\x&/g'; }
max_key_len=$(sed -n 's/^#define BITASK_MAX_KEY_LEN \([0-9]*\).*/\1/p' \
    "$(dirname "$0")/../include/bitask.h")
check max-key-len-found test "$max_key_len" = 65536
big_mib=${BIG_VALUE_MIB:-8}
doubled "$work/all-bytes" 8 >"$work/max-key"          # 256 * 2^8 = 64 KiB, every byte value
check max-key-size test "$(wc -c <"$work/max-key")" = "$max_key_len"
{ printf '#'; head -c $((max_key_len - 1)) /dev/zero | tr '\0' k; } >"$work/max-hash-key"
doubled "$work/all-bytes" 12 >"$work/one-mib"         # 256 * 2^12 = 1 MiB
for _ in $(seq "$big_mib"); do cat "$work/one-mib"; done >"$work/big-value"
rt=$work/rt
{
    echo '# bitask dump 1'
    for i in $(seq 0 255); do printf '\\x%02xk \\x%02xv\n' "$i" "$i"; done
    for i in $(seq 0 255); do printf 'one-byte\\x%02x \\x%02x\n' "$i" "$i"; done
    printf '%s %s\n' '\x23' '\x23'                       # the key "#" and the value "#"
    printf '%s %s\n' '\x23\x20bitask\x20dump\x201' 'looks\x20like\x20the\x20version\x20line'
    printf '%s %s\n' '\x23\x23' '""'                     # "##", an empty value
    printf '%s %s\n' 'empty' '""'
    printf '%s %s\n' '\x22\x22' '\x22\x22'               # two double quotes, key and value
    printf '%s %s\n' '\x5cx23' '\x5cx23\x5c'             # a backslash, then "x23"
    printf '%s %s\n' '\x0d' '\x0d'                       # CR alone
    printf '%s %s\n' 'cr\x0d' 'cr\x0d'                   # CR before the line's end
    printf '%s %s\n' 'lf\x0a' '\x0a\x0a'
    printf '%s %s\n' '\x20lead\x20space' '\x20\x20'
    printf '%s %s\n' '\x09tab' '\x09'
    printf 'binary-all %s\n' "$(escape_all <"$work/all-bytes")"
    printf '%s %s\n' "$(escape_all <"$work/max-key")" 'max-key'
    printf '%s #max\n' "$(escape_all <"$work/max-hash-key")"
} >"$work/rt-in"
check rt-fill "$bin" "$rt.a" load <"$work/rt-in" 2>/dev/null
check rt-fill-big "$bin" "$rt.a" put big-value - <"$work/big-value"
rt_keys=$(wc -l <"$work/rt-in") # its pairs, and big-value for its version line
check rt-source-complete grep -q "^key_count $rt_keys\$" <("$bin" "$rt.a" stats)
"$bin" "$rt.a" dump >"$work/rt-dump-a"
check rt-load "$bin" "$rt.b" load <"$work/rt-dump-a" 2>/dev/null
"$bin" "$rt.b" dump >"$work/rt-dump-b"
check rt-same-dump cmp -s "$work/rt-dump-a" "$work/rt-dump-b"
check rt-same-count grep -q "^key_count $rt_keys\$" <("$bin" "$rt.b" stats)
check rt-one-line-per-pair test "$(wc -l <"$work/rt-dump-a")" = $((rt_keys + 1))
check rt-no-comment-but-the-version test "$(grep -c '^#' "$work/rt-dump-a")" = 1
check rt-dump-is-text test "$(LC_ALL=C tr -d '\041-\176\n ' <"$work/rt-dump-a" | wc -c)" = 0
# list prints the keys exactly as dump does.
"$bin" "$rt.a" list >"$work/rt-list"
check rt-list-as-dump cmp -s "$work/rt-list" <(tail -n +2 "$work/rt-dump-a" | cut -d' ' -f1)
check rt-list-hash-key-escaped grep -qx '\\x23k' "$work/rt-list"
check rt-list-json json_ok < <("$bin" "$rt.a" list --json)
"$bin" "$rt.a" list --json | json_keys >"$work/rt-list-json"
check rt-list-json-as-list cmp -s "$work/rt-list-json" "$work/rt-list"
check rt-list-json-ascii test "$("$bin" "$rt.a" list --json | LC_ALL=C tr -d '\041-\176\n ' | wc -c)" = 0
# list's lines are get -e's keys: a round trip through a shell loop, for the keys short enough
# for an argument, of the kinds that need escaping.
grep -E '^(\\x(00|0a|0d|20|22|23|5c|7f|80|ff)|lf|cr|one-byte\\x2[0-3])' "$work/rt-list" |
    awk 'length($0) < 1000' >"$work/rt-some-keys"
check rt-some-keys test "$(wc -l <"$work/rt-some-keys")" -ge 15
while IFS= read -r k; do
    printf '%s %s\n' "$k" "$("$bin" -e "$rt.a" get "$k")"
done <"$work/rt-some-keys" >"$work/rt-list-get"
awk 'NR == FNR { want[$1]; next } $1 in want' "$work/rt-some-keys" \
    <(tail -n +2 "$work/rt-dump-a") >"$work/rt-some-pairs"
check rt-list-get-e cmp -s "$work/rt-list-get" "$work/rt-some-pairs"
# Values read back from the copy.
for pair in '\x00k \x00v' '\x0ak \x0av' '\x0dk \x0dv' '\x20k \x20v' '\x22k \x22v' \
    '\x23k #v' '\x5ck \x5cv' '\x7fk \x7fv' '\x80k \x80v' '\xffk \xffv' '\x23 #' \
    '\x23\x23 ""' '\x22\x22 \x22\x22' 'lf\x0a \x0a\x0a' '\x09tab \x09'; do
    check "rt-get-e:$pair" test "$("$bin" -e "$rt.b" get "${pair% *}")" = "${pair#* }"
done
check rt-get-hash test "$("$bin" "$rt.b" get '#')" = '#'
check rt-get-version-lookalike test "$("$bin" "$rt.b" get '# bitask dump 1')" = \
    'looks like the version line'
check rt-get-empty test "$("$bin" "$rt.b" get '##' | wc -c)" = 1
check rt-get-backslash test "$("$bin" "$rt.b" get '\x23')" = '\x23\'
"$bin" "$rt.b" get binary-all >"$work/rt-got"
check rt-get-binary cmp -s "$work/rt-got" "$work/all-bytes-nl"
check rt-get-max-hash-key test "$("$bin" "$rt.b" get "$(cat "$work/max-hash-key")")" = '#max'
"$bin" "$rt.b" get big-value >"$work/rt-got"
check rt-get-big-value cmp -s "$work/rt-got" <(cat "$work/big-value"; printf '\n')
rm -rf "$rt.a" "$rt.b" "$work"/rt-* "$work/big-value" "$work/one-mib"

# A dump written before keys' leading # was escaped still loads, without those keys; the
# sed line in the format's description brings them back.
printf '# bitask dump 1\n#hash 1\n#\\x20 ""\nplain 2\n' >"$work/old-dump"
check old-dump-loads "$bin" "$work/old" load <"$work/old-dump" 2>/dev/null
check old-dump-plain-key test "$("$bin" "$work/old" get plain)" = 2
check old-dump-hash-key-skipped test "$(status "$bin" "$work/old" get '#hash')" = 1
check old-dump-sed-recovers "$bin" "$work/old-fixed" load \
    < <(sed '2,$s/^#/\\x23/' "$work/old-dump") 2>/dev/null
check old-dump-sed-hash-key test "$("$bin" "$work/old-fixed" get '#hash')" = 1
check old-dump-sed-hash-space-key test "$("$bin" "$work/old-fixed" get '# ' | wc -c)" = 1
check old-dump-sed-count test "$("$bin" "$work/old-fixed" list | wc -l)" = 3

# Malformed dumps: exit 2, the line and column named with what is wrong there, and how many
# pairs were stored, from the lines before it.
printf 'good 1\nbad line here\n' >"$work/bad1"
check load-bad-is-2 test "$(status "$bin" "$work/bad" load <"$work/bad1")" = 2
run "$bin" "$work/bad" load <"$work/bad1" # not in <(...): the next load must find it done
check load-bad-names-line-column test "$(first_err)" = \
    'bitask: load: line 2, column 9: a space inside a KEY or VALUE is written \x20'
check load-bad-counts test "$(sed -n 2p "$work/err")" = \
    'bitask: load: stopped at line 2, having stored the 1 pair before it'
check load-before-bad-kept test "$("$bin" "$work/bad" get good)" = 1
load_error() { # load_error NAME LINE EXPECTED-MESSAGE: load of the line fails, saying so
    run "$bin" "$work/bad" load <<<"$2"
    check "load-rejects:$1" test "$rc" = 2
    check "load-says:$1" test "$(first_err)" = "bitask: load: $3"
    check "load-stored-none:$1" grep -qx 'bitask: load: stopped at line 1, having stored no pair' \
        "$work/err"
}
load_error nospace 'nospace' 'line 1, column 8: expected a space, then the VALUE'
load_error leading-space ' leading-space' 'line 1, column 1: the KEY is missing'
load_error empty-key '"" emptykey' 'line 1, column 1: a KEY cannot be empty'
load_error short-escape 'k \x0' 'line 1, column 3: \ begins \xHH, two hex digits'
load_error bad-escape 'k ab\q' 'line 1, column 5: \ begins \xHH, two hex digits'
load_error lone-quote 'k "' 'line 1, column 3: " stands only in "", the empty value; a " is \x22'
load_error tab "$(printf 'k a\tb')" 'line 1, column 4: byte 0x09 is written \x09'
load_error high-byte "$(printf 'k\xff v')" 'line 1, column 2: byte 0xff is written \xff'
load_error cr-inside "$(printf 'k a\rb')" 'line 1, column 4: byte 0x0d is written \x0d'
# The version line: version 1, or none, is read; another is refused before its pairs, at
# the start of a dump or of one appended to another.
printf '# bitask dump 2\nv2 x\n' >"$work/v2"
run "$bin" "$work/v2db" load <"$work/v2"
check load-v2-is-2 test "$rc" = 2
check load-v2-says test "$(first_err)" = \
    'bitask: load: line 1: dump version 2 is not supported (this bitask reads version 1)'
check load-v2-stored-nothing test "$(status "$bin" "$work/v2db" get v2)" = 1
printf '# bitask dump 1\na 1\n# bitask dump 3\nb 2\n' >"$work/v1v3"
run "$bin" "$work/v2db" load <"$work/v1v3"
check load-v3-later-says test "$(first_err)" = \
    'bitask: load: line 3: dump version 3 is not supported (this bitask reads version 1)'
check load-v3-later-counts grep -qx 'bitask: load: stopped at line 3, having stored the 1 pair before it' \
    "$work/err"
run "$bin" "$work/v2db" load <<<'# bitask dump one'
check load-version-word-is-2 test "$rc" = 2
# CRLF line ends, as a dump passed through Windows has them, read as LF.
printf '# bitask dump 1\r\nk v\r\nempty ""\r\n\r\nlast \\x0d' >"$work/crlf"
run "$bin" "$work/crlf-db" load <"$work/crlf"
check load-crlf test "$rc" = 0
check load-crlf-value cmp -s <("$bin" -n "$work/crlf-db" get k) <(printf v)
check load-crlf-empty test "$("$bin" "$work/crlf-db" get -n empty | wc -c)" = 0
check load-crlf-escaped-cr-kept cmp -s <("$bin" -n "$work/crlf-db" get last) <(printf '\r')
# Progress goes to standard error only when it is a terminal: here it is not, and load says
# only what it stored.
run "$bin" "$work/crlf-db" load <"$work/crlf"
check load-no-progress test "$(cat "$work/err")" = 'bitask: loaded 3 pairs'
if command -v script >/dev/null; then # a terminal for standard error, from script(1)
    tty_run() { script -qec "$*" /dev/null </dev/null >"$work/tty" 2>&1; }
    check progress-on-tty-compact tty_run "'$bin' '$work/crlf-db' compact"
    check progress-on-tty-compact-says grep -q 'bitask: compact: ' "$work/tty"
    check progress-on-tty-load tty_run "'$bin' '$work/crlf-db' load < '$work/crlf'"
    check progress-on-tty-load-says grep -q 'bitask: load: line ' "$work/tty"
    check progress-on-tty-erased grep -q "$(printf '\r\033\\[K')bitask: loaded 3 pairs" "$work/tty"
fi
run "$bin" "$work/crlf-db" compact
check compact-no-progress test ! -s "$work/err"

# Errors: exit 2 with the library's message on standard error.
touch "$work/a-file"
check error-is-2 test "$(status "$bin" "$work/a-file" put k v)" = 2
check error-message grep -q 'bitask: open .*a-file' <("$bin" "$work/a-file" put k v 2>&1 || true)
check read-missing-store-is-2 test "$(status "$bin" "$work/none" get k)" = 2
check read-does-not-create test ! -e "$work/none"
# Reading commands open the store read-only: on a directory that does not exist they fail
# and make nothing. del and compact, which have nothing to remove in a store that does not
# exist, fail too rather than make one; put and load make it.
for cmd in "get k" "exists k" list "list k" dump "dump k" stats count "count k" "del k" compact; do
    # shellcheck disable=SC2086 # the words of $cmd are the arguments
    run "$bin" "$work/none" $cmd
    check "missing-store-is-2:$cmd" test "$rc" = 2
    check "missing-store-says:$cmd" grep -q "^bitask: open $work/none: " "$work/err"
    check "missing-store-named-once:$cmd" test "$(grep -o "$work/none" "$work/err" | wc -l)" = 1
    check "missing-store-not-made:$cmd" test ! -e "$work/none"
done
long_key=$(head -c 70000 /dev/zero | tr '\0' k)
check too-large-is-2 test "$(status "$bin" "$db" put "$long_key" v)" = 2

# --sync opens with BITASK_SYNC_ALWAYS; --max-file-size BYTES (K, M, G: KiB, MiB, GiB) sets
# the size at which data files are sealed.
check sync-put "$bin" --sync "$work/opts" put k v
check sync-get test "$("$bin" "$work/opts" get k --sync)" = v
check sync-load "$bin" "$work/opts" load --sync <<<'k2 v2' 2>/dev/null
if strace -qq -o /dev/null true 2>/dev/null; then # each write synced: a fdatasync per pair
    for i in $(seq 20); do echo "k$i v"; done >"$work/twenty"
    syncs() { # syncs DIR [OPTION]: the fdatasync calls of a load of the twenty pairs into DIR
        strace -f -qq -e trace=fdatasync -o "$work/strace" "$bin" "$@" load <"$work/twenty" 2>/dev/null
        grep -c fdatasync "$work/strace"
    }
    check sync-syncs-each-write test "$(syncs "$work/sync-each" --sync)" -ge 20
    check no-sync-syncs-at-the-end test "$(syncs "$work/sync-end")" -lt 20
fi
for i in 1 2 3 4; do "$bin" "$work/opts" put "big$i" "$(head -c 100 /dev/zero | tr '\0' x)" --max-file-size 64; done
check max-file-size-rotates test "$("$bin" "$work/opts" stats | sed -n 's/^data_files //p')" -ge 4
check max-file-size-suffix "$bin" --max-file-size=1K "$work/opts" put k v
check max-file-size-largest "$bin" --max-file-size 2G "$work/opts" del k
usage_case max-file-size-nan "bitask: --max-file-size: not a number: 'x'" \
    --max-file-size x "$work/opts" put k v
usage_case max-file-size-small "bitask: --max-file-size: out of range: '63' (64 bytes to 2G)" \
    --max-file-size 63 "$work/opts" put k v
usage_case max-file-size-large "bitask: --max-file-size: out of range: '3G' (64 bytes to 2G)" \
    --max-file-size 3G "$work/opts" put k v
usage_case max-file-size-missing "bitask: --max-file-size: missing BYTES" "$work/opts" put k v \
    --max-file-size

# A writer that finds the store locked exits 4 at once, naming the lock file; with --wait
# SECONDS it tries again until the lock is free (and succeeds) or the time is up (exit 4).
# Readers take no lock and never wait. The lock is held as another writer holds it, with
# flock(1), until release_lock, so nothing here depends on timing.
if command -v flock >/dev/null; then
    lockdb=$work/lockdb
    "$bin" "$lockdb" put k 0
    hold_lock() { # hold_lock DIR: holds DIR/db.lock until release_lock
        rm -f "$work/hold" "$work/held"
        mkfifo "$work/hold"
        (flock 9 && : >"$work/held" && read -r _ <"$work/hold") 9<"$1/db.lock" &
        holder=$!
        while [ ! -e "$work/held" ]; do sleep 0.01; done
    }
    release_lock() { echo >"$work/hold" && wait "$holder"; }
    hold_lock "$lockdb"
    for cmd in "put k 1" "del k" compact load; do
        # shellcheck disable=SC2086 # the words of $cmd are the arguments
        run "$bin" "$lockdb" $cmd </dev/null
        check "locked-is-4:$cmd" test "$rc" = 4
        check "locked-names-lock-file:$cmd" grep -qF "$lockdb/db.lock" "$work/err"
        check "locked-suggests-wait:$cmd" grep -qF -- '--wait SECONDS' "$work/err"
    done
    check locked-message test "$(first_err)" = \
        "bitask: open $lockdb: the store is locked: another writer holds $lockdb/db.lock (--wait SECONDS waits for it)"
    run "$bin" --wait 0.2 "$lockdb" put k 1
    check locked-wait-timeout-is-4 test "$rc" = 4
    check locked-wait-says grep -qF "another writer held $lockdb/db.lock for all of the 0.2 s waited" \
        "$work/err"
    check locked-reader-reads test "$("$bin" --wait 0 "$lockdb" get k)" = 0
    check locked-wait-0-is-4 test "$(status "$bin" "$lockdb" put k 1 --wait=0)" = 4
    "$bin" "$lockdb" --wait 600 put k 2 >"$work/wait-out" 2>"$work/wait-err" &
    waiter=$!
    check locked-waiter-waits test "$("$bin" "$lockdb" get k)" = 0 # held, so not yet written
    release_lock
    wait_rc=0
    wait "$waiter" || wait_rc=$?
    check locked-waiter-succeeds test "$wait_rc" = 0
    check locked-waiter-quiet test ! -s "$work/wait-err"
    check locked-waiter-wrote test "$("$bin" "$lockdb" get k)" = 2
    check locked-stays-unlocked test "$(status "$bin" "$lockdb" put k 3)" = 0
fi
usage_case wait-nan "bitask: --wait: not a number: 'x'" --wait x "$db" put k v
usage_case wait-negative "bitask: --wait: not a number: '-1' (SECONDS is 0 or more)" \
    "$db" put k v --wait -1
usage_case wait-no-value "bitask: --wait: missing SECONDS" "$db" put k v --wait
usage_case wait-empty "bitask: --wait: not a number: ''" --wait= "$db" put k v
check help-exit-locked grep -q '^  4  ' <("$bin" --help)

# The command line of bitask 0.1.1, which scripts written for it use: put --key K --value V
# and ask --key K, on the store whose directory is in BITASK_PATH.
old=$work/legacy
legacy() { env BITASK_PATH="$old" "$bin" "$@"; }
run legacy put --key foo --value bar
check legacy-put test "$rc" = 0
check legacy-put-says test "$(cat "$work/out")" = 'Value stored successfully'
run legacy ask --key foo
check legacy-ask test "$rc" = 0
check legacy-ask-value-and-newline cmp -s "$work/out" <(printf 'bar\n')
check legacy-store-is-bitask-path test "$("$bin" "$old" get foo)" = bar
"$bin" "$old" put mine yours
check legacy-ask-own-put test "$(legacy ask --key mine)" = yours
run legacy put --key 'a key' --value 'a value  with spaces '
check legacy-spaces test "$rc" = 0
run legacy ask --key 'a key'
check legacy-spaces-ask cmp -s "$work/out" <(printf 'a value  with spaces \n')
check legacy-spaces-get test "$("$bin" "$old" get 'a key')" = 'a value  with spaces '
run legacy put --key=k2 --value=v=2
check legacy-equals-form test "$(legacy ask --key=k2)" = v=2
run legacy put --value v3 --key k3
check legacy-value-first test "$(legacy ask --key k3)" = v3
run legacy -v put --key k4 --value v4 --verbose
check legacy-verbose test "$(legacy --verbose ask --key k4 -v)" = v4
run legacy put --key dash --value - </dev/null
check legacy-dash-is-a-value test "$(legacy ask --key dash)" = -
run legacy ask --key nobody
check legacy-missing-is-1 test "$rc" = 1
check legacy-missing-message grep -q 'Key not found' "$work/err"
check legacy-missing-no-output test ! -s "$work/out"
for cmd in "put --key k --value v" "ask --key k"; do
    # shellcheck disable=SC2086 # the words of $cmd are the arguments
    (cd "$work" && run env -u BITASK_PATH "$bin" $cmd && echo "$rc" >"$work/rc")
    check "legacy-no-path-is-2:$cmd" test "$(cat "$work/rc")" = 2
    check "legacy-no-path-says:$cmd" grep -q "^bitask: ${cmd%% *}: BITASK_PATH is not set" \
        "$work/err"
    check "legacy-no-path-creates-nothing:$cmd" test ! -e "$work/put" -a ! -e "$work/ask"
    # shellcheck disable=SC2086
    check "legacy-empty-path-is-2:$cmd" test "$(status env BITASK_PATH= "$bin" $cmd)" = 2
done
run legacy ask
check legacy-no-key-is-2 test "$rc" = 2
check legacy-no-key-says grep -q '^bitask: ask: --key KEY is missing' "$work/err"
run legacy put --key k
check legacy-no-value-is-2 test "$rc" = 2
check legacy-no-value-says grep -q '^bitask: put: --value VALUE is missing' "$work/err"
check legacy-key-without-word-is-2 test "$(status legacy ask --key)" = 2
check legacy-key-twice-is-2 test "$(status legacy put --key a --key b --value v)" = 2
run legacy ask --key foo --colour
check legacy-unknown-is-2 test "$rc" = 2
check legacy-unknown-says grep -q "^bitask: ask: unexpected argument '--colour'" "$work/err"
check legacy-ask-value-is-2 test "$(status legacy ask --key foo --value v)" = 2
check legacy-refused-wrote-nothing test "$(status "$bin" "$old" get a)" = 1
if command -v flock >/dev/null; then # holds the writer's lock as another writer would
    check legacy-put-beside-writer-is-2 test \
        "$(status flock "$old/db.lock" env BITASK_PATH="$old" "$bin" put --key foo --value x)" = 2
    check legacy-put-beside-writer-says grep -qxF \
        "bitask: open $old (BITASK_PATH): the store is locked: another writer holds $old/db.lock" \
        <(flock "$old/db.lock" env BITASK_PATH="$old" "$bin" put --key foo --value x 2>&1)
    check legacy-ask-beside-writer test \
        "$(flock "$old/db.lock" env BITASK_PATH="$old" "$bin" ask --key foo)" = bar
fi
check legacy-help grep -q 'put --key KEY --value VALUE' <(legacy put --help)
# A store whose directory is named put or ask is still reached the usual way (a key that
# starts with a dash after --, as everywhere in that form).
check own-form-dir-named-put sh -c 'cd "$1" && "$2" put put -- --key v && "$2" ask put k w' \
    sh "$work" "$bin"
check own-form-dir-named-put-get test "$(cd "$work" && "$bin" put get -- --key)" = v
check own-form-dir-named-ask-get test "$(cd "$work" && "$bin" ask get k)" = w

# verify, backup, repair: an intact store verifies clean; a backup opens as the store; a flipped
# byte in the middle of the active file is reported by verify (exit 3) and repaired, keeping
# every other record and the original in bitask-quarantine.
vr=$work/verify
"$bin" "$vr" put one 1 && "$bin" "$vr" put two 2 && "$bin" "$vr" put three 3
run "$bin" "$vr" verify
check verify-intact-is-0 test "$rc" = 0
check verify-intact-report grep -qx 'problems 0' "$work/out"
check verify-intact-records grep -qx 'records 3' "$work/out"
run "$bin" --json "$vr" verify
check verify-json test "$(cat "$work/out")" = \
    '{"data_files": 1, "hint_files": 0, "records": 3, "torn_bytes": 0, "problems": 0, "listed": []}'
run "$bin" "$vr" backup "$work/verify-backup"
check backup-is-0 test "$rc" = 0
check backup-copied grep -qx 'copied 1' "$work/out"
check backup-opens test "$("$bin" "$work/verify-backup" get two)" = 2
mkdir "$work/not-empty" && echo mine >"$work/not-empty/notes.txt"
run "$bin" "$vr" backup "$work/not-empty"
check backup-refuses-foreign-is-2 test "$rc" = 2
check backup-refuses-foreign-unchanged test "$(ls "$work/not-empty")" = notes.txt
active=$(ls "$vr"/*.active.log)
before=$(cksum <"$active")
# The first record: 52-byte file header, then 29 header bytes, the key "one", the value "1".
printf '\377' | dd of="$active" bs=1 seek=83 conv=notrunc 2>/dev/null
run "$bin" "$vr" verify
check verify-damaged-is-3 test "$rc" = 3
check verify-damaged-where grep -q "^problem $(basename "$active") 52 record checksum mismatch" "$work/out"
check verify-changed-nothing test "$(cksum <"$active")" != "$before" # still damaged
run "$bin" "$vr" repair
check repair-lost-is-3 test "$rc" = 3
check repair-kept grep -qx 'records_kept 2' "$work/out"
check repair-lost grep -qx 'records_lost 1' "$work/out"
check repair-quarantined test -f "$vr/bitask-quarantine/$(basename "$active")"
check repair-keeps-the-rest test "$("$bin" "$vr" get three)" = 3
run "$bin" "$vr" verify
check verify-after-repair-is-0 test "$rc" = 0
run "$bin" "$work/nowhere-store" repair
check repair-no-store-is-2 test "$rc" = 2

# upgrade: a store of bitask 0.1.1, written here byte for byte (records: crc32 of key and
# value, timestamp, key and value lengths, key, value; an empty value is a deletion). The
# sealed file holds a=1 b=2 c=only-c (its value damaged) e=5; the active file a=4, the
# deletion of b, d=5, and d=cut-short cut off by 4 bytes, as a crash leaves it.
up=$work/upgrade
mkdir -p "$up"
printf '\x23\x48\xe1\x6c\x00\x68\xe5\xcf\x8b\x01\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x61\x31\x5a\x4a\xc5\xde\x01\x68\xe5\xcf\x8b\x01\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x62\x32\xcc\x8c\xd3\x26\x02\x68\xe5\xcf\x8b\x01\x00\x00\x01\x00\x00\x00\x06\x00\x00\x00\x63\x6f\x6e\x6c\x79\x2d\x73\x3e\x49\xe0\x0f\x03\x68\xe5\xcf\x8b\x01\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x65\x35' >"$up/1700000000000.log"
printf '\xac\xbc\x8b\x1c\x64\x68\xe5\xcf\x8b\x01\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x61\x34\xf9\xef\xbe\x71\x65\x68\xe5\xcf\x8b\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x62\x7f\x78\xfb\x16\x66\x68\xe5\xcf\x8b\x01\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x64\x35\x86\x6b\xc7\x50\x67\x68\xe5\xcf\x8b\x01\x00\x00\x01\x00\x00\x00\x09\x00\x00\x00\x64\x63\x75\x74\x2d\x73' >"$up/1700000000100.active.log"
cp "$up/1700000000000.log" "$up/1700000000100.active.log" "$work"
run "$bin" "$up" get a
check upgrade-open-refused test "$rc" = 2
check upgrade-open-suggests grep -q "bitask $up upgrade\" converts a store of bitask 0.1.1" "$work/err"
run "$bin" "$up" upgrade
check upgrade-unreadable-is-3 test "$rc" = 3
check upgrade-report test "$(head -n 6 "$work/out" | tr '\n' ,)" = \
    'files_read 2,records_read 6,tombstones 1,keys_converted 3,unreadable_bytes 27,torn_bytes 26,'
check upgrade-unreadable-where grep -qx 'unreadable 1700000000000.log 44 27' "$work/out"
check upgrade-torn-where grep -qx 'torn 1700000000100.active.log 65 26' "$work/out"
check upgrade-backup-line grep -qx "backup $up/bitask-0.1.1-backup" "$work/out"
check upgrade-says-unreadable grep -q '27 bytes of the 0.1.1 files could not be read' "$work/err"
check upgrade-backup-sealed cmp -s "$up/bitask-0.1.1-backup/1700000000000.log" \
    "$work/1700000000000.log"
check upgrade-backup-active cmp -s "$up/bitask-0.1.1-backup/1700000000100.active.log" \
    "$work/1700000000100.active.log"
check upgrade-get test "$("$bin" "$up" get a),$("$bin" "$up" get d),$("$bin" "$up" get e)" = 4,5,5
check upgrade-deleted-is-gone test "$(status "$bin" "$up" get b)" = 1
check upgrade-damaged-not-converted test "$(status "$bin" "$up" get c)" = 1
check upgrade-list test "$("$bin" "$up" list | tr '\n' ,)" = 'a,d,e,'
run "$bin" "$up" upgrade
check upgrade-again-is-2 test "$rc" = 2
check upgrade-again-says grep -q 'already holds a store of this format' "$work/err"
# A clean store: exit 0.
clean=$work/upgrade-clean
mkdir -p "$clean"
printf '\x9a\x74\xb6\x7e\x00\x68\xe5\xcf\x8b\x01\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x6b\x76\x10\x11\x3e\x5b\x01\x68\xe5\xcf\x8b\x01\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x6b\x32\x76\x32' >"$clean/1700000000000.active.log"
if command -v flock >/dev/null; then # bitask 0.1.1 left its db.lock, held while it runs
    cp -r "$clean" "$clean-locked"
    : >"$clean-locked/db.lock"
    hold_lock "$clean-locked"
    run "$bin" "$clean-locked" upgrade
    check upgrade-locked-is-4 test "$rc" = 4
    check upgrade-locked-names-lock-file grep -qF "$clean-locked/db.lock" "$work/err"
    "$bin" "$clean-locked" upgrade --wait 600 >"$work/wait-out" 2>&1 &
    waiter=$!
    release_lock
    wait_rc=0
    wait "$waiter" || wait_rc=$?
    check upgrade-waited test "$wait_rc" = 0
    check upgrade-waited-get test "$("$bin" "$clean-locked" get k2)" = v2
fi
run "$bin" "$clean" upgrade
check upgrade-clean-is-0 test "$rc" = 0
check upgrade-clean-report grep -qx 'unreadable_bytes 0' "$work/out"
check upgrade-clean-says grep -q "^bitask: upgraded $clean from bitask 0.1.1" "$work/err"
check upgrade-clean-get test "$("$bin" "$clean" get k2)" = v2
mkdir -p "$work/upgrade-empty"
check upgrade-empty-is-2 test "$(status "$bin" "$work/upgrade-empty" upgrade)" = 2
check upgrade-empty-unchanged test -z "$(ls -A "$work/upgrade-empty")"
check upgrade-missing-is-2 test "$(status "$bin" "$work/upgrade-none" upgrade)" = 2
check upgrade-missing-not-made test ! -e "$work/upgrade-none"
check upgrade-takes-no-argument test "$(status "$bin" "$clean" upgrade extra)" = 2
run "$bin" upgrade "$clean"
check upgrade-dir-first-is-2 test "$rc" = 2
check upgrade-dir-first-says grep -qx 'bitask: upgrade: the directory comes first: bitask DIR upgrade' \
    "$work/err"

# Shell completion. The bash file parses and defines _bitask for bitask, which completes the
# commands, the options (each one --help lists) and the keys of the store (through list);
# the zsh file parses when zsh is installed, and names every command.
comp=$(cd "$(dirname "$0")/../cli/completions" && pwd)
check bash-completion-parses bash -n "$comp/bitask.bash"
check bash-completion-defines test "$(bash -c 'source "$1" && complete -p bitask' sh \
    "$comp/bitask.bash")" = 'complete -F _bitask bitask'
bash_complete() { # bash_complete LINE: what completing the end of LINE offers, one a line
    bash -c 'source "$1"
        line=$2
        read -ra COMP_WORDS <<<"$line"
        [[ $line == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) COMP_LINE=$line COMP_POINT=${#line}
        _bitask "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf "%s\n" "${COMPREPLY[@]}" | sort' sh "$comp/bitask.bash" "$1"
}
help_commands=$("$bin" --help | sed -n '/^Commands/,/^$/s/^  \([a-z][a-z]*\).*/\1/p' | sort)
check help-commands-found test "$(echo "$help_commands" | wc -l)" -ge 11
check complete-commands test "$(bash_complete "bitask $db " | grep -v '^help$')" = "$help_commands"
check complete-command-prefix test "$(bash_complete "bitask $db co")" = "$(printf 'compact\ncount')"
check complete-help-topics test "$(bash_complete "bitask help ")" = "$help_commands"
"$bin" --help | sed -n '/^Options/,/^$/p' | grep -o -- '--*[a-zA-Z][-a-z]*' | sort -u >"$work/help-options"
check help-options-found test "$(wc -l <"$work/help-options")" -ge 10
bash_complete "bitask -" >"$work/complete-options"
check complete-options test -z "$(comm -23 "$work/help-options" "$work/complete-options")"
check complete-long-option test "$(bash_complete "bitask $db put --w")" = --wait
check complete-no-word-after-wait test -z "$(bash_complete "bitask --wait ")"
check complete-keys test "$(bash_complete "$bin $db get ap")" = "$(printf 'apple\napricot')"
check complete-keys-del test "$(bash_complete "$bin --sync $db del ba")" = banana
check complete-keys-encoded test "$(bash_complete "$bin -e $db get nul")" = "$(printf %q 'nul\x00key')"
check complete-keys-plain-only test -z "$(bash_complete "$bin $db get nul")"
check complete-no-keys-of-missing-store test -z "$(bash_complete "$bin $work/none get a")"
check complete-made-nothing test ! -e "$work/none"
check complete-dir grep -qx "$work/opts" <(bash_complete "bitask $work/")
check zsh-completion-names-bitask test "$(head -n 1 "$comp/_bitask")" = '#compdef bitask'
for c in $help_commands; do
    check "zsh-completion-has:$c" grep -q "^ *'$c:" "$comp/_bitask"
done
if command -v zsh >/dev/null; then
    check zsh-completion-parses zsh -n "$comp/_bitask"
else
    echo "cli: zsh not installed: the zsh completion was not parsed (apt-get install zsh)"
fi

echo "cli: $passed passed, $failed failed"
test "$failed" = 0
