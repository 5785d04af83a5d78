# The check function the shell test scripts share, sourced by them. A script sets `suite`
# (the prefix of its failure lines) and `passed=0 failed=0`, then calls
# `check NAME COMMAND...`: the command must succeed.
check() {
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        echo "FAIL $suite::$name" >&2
        failed=$((failed + 1))
    fi
}
