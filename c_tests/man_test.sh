#!/usr/bin/env bash
# The manual pages render without warnings and say what the code does, so they cannot drift:
# - groff -ww finds nothing to warn about, nor does mandoc -T lint (when it is installed; under
#   CI=true a missing groff or mandoc is an error);
# - bitask(3)'s SYNOPSIS declares every function of include/bitask.h with the header's
#   prototype, and no other; its text describes each one, lists every status code of the
#   header with its number and no other, and names every macro; the header's functions are
#   those of c_tests/symbols.txt (the exported ones, whose names the man3 links take); its
#   example compiles against the header;
# - bitask(1) has an entry for every command, form and option that `bitask --help` lists, and
#   none for a command the tool no longer has;
# - both pages carry the crate's version.
# Usage: man_test.sh PATH/TO/bitask. Run by `make test-man`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:?usage: man_test.sh PATH/TO/bitask}
page1=$root/man/bitask.1
page3=$root/man/bitask.3
header=$root/include/bitask.h
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
strict=false
[ "${CI:-}" = true ] && strict=true
work=$(mktemp -d "${TMPDIR:-/tmp}/bitask-man-XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

suite=man
# shellcheck source=c_tests/check.sh
. "$(dirname "$0")/check.sh"

# A missing tool: an error under CI, else a skip that says what to install.
missing() { # missing TOOL PACKAGE
    if $strict; then
        echo "man_test: ERROR: $1 not found, and CI=true forbids skipping (apt-get install $2)" >&2
        exit 1
    fi
    echo "man_test: SKIPPED the $1 checks: $1 not found (apt-get install $2)"
}

# True when a command prints nothing and succeeds; shows what it printed otherwise.
silent() {
    local out
    out=$("$@" 2>&1) && [ -z "$out" ] && return 0
    printf '%s\n' "$out" >&2
    return 1
}

# The page as plain text: no fonts, no hyphenation, lines long enough never to be broken.
render() { groff -man -Tascii -P-cbou -rLL=300n -rHY=0 "$1" 2>/dev/null; }

# The lines of one section of a rendered page (its heading excluded).
section() { # section TEXT-FILE HEADING
    awk -v h="$2" '/^[A-Z]/ { on = ($0 == h); next } on' "$1"
}

# Function declarations, one a line, whitespace normalized: each starts on a line naming
# bitask_NAME( and ends at the line holding its semicolon.
prototypes() {
    sed 's/^[[:space:]]*//' | awk '
        /^[A-Za-z_].*bitask_[a-z_]+\(/ { decl = ""; on = 1 }
        on {
            decl = decl " " $0
            if ($0 ~ /;/) {
                on = 0
                gsub(/[[:space:]]+/, " ", decl)
                sub(/^ /, "", decl)
                gsub(/\( /, "(", decl); gsub(/ \)/, ")", decl); gsub(/ ,/, ",", decl)
                gsub(/ ;/, ";", decl)
                print decl
            }
        }'
}

# The same lists, compared: prints what is missing or extra.
same() { # same NAME EXPECTED-FILE ACTUAL-FILE
    diff -u --label "$1 (expected)" --label "$1 (found)" "$2" "$3" >&2
}

# --- rendering -------------------------------------------------------------------------
if command -v groff >/dev/null 2>&1; then
    for page in "$page1" "$page3"; do
        check "groff-warnings-$(basename "$page")" silent groff -ww -man -z "$page"
    done
else
    missing groff groff-base
    echo "man: $passed passed, $failed failed"
    test "$failed" = 0
    exit
fi
if command -v mandoc >/dev/null 2>&1; then
    for page in "$page1" "$page3"; do
        check "mandoc-lint-$(basename "$page")" silent mandoc -T lint -W warning "$page"
    done
else
    missing mandoc mandoc
fi

render "$page1" >"$work/bitask.1.txt"
render "$page3" >"$work/bitask.3.txt"
for page in "$page1" "$page3"; do
    check "version-$(basename "$page")" grep -q "^\.TH BITASK [0-9] [0-9-]* \"bitask $version\"" "$page"
done

# --- bitask(3) against the header --------------------------------------------------------
prototypes <"$header" | sort >"$work/header.protos"
section "$work/bitask.3.txt" SYNOPSIS | prototypes | sort >"$work/page.protos"
check header-has-functions test -s "$work/header.protos"
check synopsis-matches-header same "prototypes of include/bitask.h in bitask(3)" \
    "$work/header.protos" "$work/page.protos"

sed 's/.*\(bitask_[a-z_]*\)(.*/\1/' "$work/header.protos" | sort >"$work/header.names"
check header-functions-are-the-exports same "functions of include/bitask.h in c_tests/symbols.txt" \
    "$work/header.names" "$root/c_tests/symbols.txt"

section "$work/bitask.3.txt" DESCRIPTION >"$work/description.txt"
while read -r name; do
    check "describes-$name" grep -qF "$name()" "$work/description.txt"
done <"$work/header.names"

sed -n 's/^ *\(BITASK_[A-Z_]*\) = \([0-9]*\),$/\1 (\2)/p' "$header" | sort >"$work/header.statuses"
section "$work/bitask.3.txt" "RETURN VALUE" | grep -o 'BITASK_[A-Z_]* ([0-9]*)' | sort \
    >"$work/page.statuses" || true
check header-has-statuses test -s "$work/header.statuses"
check statuses-match-header same "status codes of include/bitask.h in bitask(3)" \
    "$work/header.statuses" "$work/page.statuses"

while read -r macro; do
    check "names-$macro" grep -qw "$macro" "$work/bitask.3.txt"
done < <(sed -n 's/^#define \(BITASK_[A-Z_]*\) .*/\1/p' "$header")

section "$work/bitask.3.txt" EXAMPLES | sed -n '/^       /s/^       //p' >"$work/example.c"
check example-compiles "${CC:-cc}" -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only \
    -I"$root/include" -x c "$work/example.c"

# --- bitask(1) against `bitask --help` ---------------------------------------------------
"$bin" --help >"$work/help.txt"
# Entries of the help: lines indented by two spaces, up to the gap before their description.
sed -n 's/^  \([^ ].*[^ ]\)  .*/\1/p; s/^  \([^ ]*[^ ]\)$/\1/p' "$work/help.txt" >"$work/help.entries"
# Options of the usage lines (--help, --version, -e).
sed -n '1,/^$/p' "$work/help.txt" | grep -o -- '-[-a-z]*' | sort -u >>"$work/help.entries"
check help-has-entries test "$(wc -l <"$work/help.entries")" -ge 10
# True when a line of the page starts with ENTRY, alone or followed by its description (case
# aside: the page writes placeholders in lower-case italics, the help in capitals).
has_tag() { # has_tag TEXT-FILE ENTRY
    awk -v e="$2" '{ sub(/^ +/, ""); l = tolower($0); x = tolower(e) }
        l == x || index(l, x " ") == 1 { found = 1 }
        # An option that is the second spelling of a tag: "-h, --help".
        substr(l, 1, 1) == "-" && (p = index(l, ", " x)) > 0 {
            after = substr(l, p + 2 + length(x), 1)
            if (after == "" || after == " " || after == ",") found = 1
        }
        END { exit !found }' "$1"
}
while IFS= read -r entry; do
    check "documents-${entry// /_}" has_tag "$work/bitask.1.txt" "$entry"
done <"$work/help.entries"
# Each command the page describes (the first word of a tag in COMMANDS) is one of the tool's.
awk '{ print tolower($1) }' "$work/help.entries" | sort -u >"$work/help.commands"
section "$work/bitask.1.txt" COMMANDS | sed -n 's/^       \([a-z][a-z]*\)\( .*\)\{0,1\}$/\1/p' | sort -u \
    >"$work/page.commands"
check page-has-commands test -s "$work/page.commands"
check page-commands-exist bash -c "comm -23 '$work/page.commands' '$work/help.commands' | \
    { ! grep . >&2; }"

echo "man: $passed passed, $failed failed"
test "$failed" = 0
