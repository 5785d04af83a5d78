# bash completion for bitask, the command-line tool of the bitask key-value store: the
# commands, the options, the store's directory, and the keys of the store for the commands
# that take a KEY or PREFIX (read from `bitask DIR list PREFIX`, which opens the store
# read-only and changes nothing).
#
# Install it as /usr/share/bash-completion/completions/bitask (bash-completion loads it when
# bitask is first completed), or source it from ~/.bashrc.

# The commands and options, as `bitask --help` lists them (c_tests/cli_test.sh checks that).
_bitask_commands='put add cas get exists del ttl expire persist list count stats verify compact dump load batch backup repair upgrade help'
_bitask_options='-e --encoded -n --no-newline --json --dry-run --from --to --reverse --wait
    --sync --max-file-size --ttl
    -h --help -V --version'

# Most keys to offer: the store may hold millions, and list reads them all.
_bitask_max_keys=1000

_bitask() {
    local cur prev words cword
    if declare -F _get_comp_words_by_ref >/dev/null; then
        # bash-completion: a key such as user:1 stays one word, though bash splits at ':'.
        _get_comp_words_by_ref -n =: cur prev words cword
    else
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
        cur=${words[cword]}
        prev=${words[cword - 1]}
    fi
    COMPREPLY=()
    case $prev in
    --wait | --max-file-size | --ttl) return ;; # a number: nothing to offer
    --from | --to) return ;;             # a key of any store: nothing offered
    esac

    # The operands before the word being completed, options and their values left out, as
    # the tool reads them: options anywhere, "--" ends them, "-5" is an operand.
    local i w encoded='' dashdash=''
    local -a ops=()
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        if [[ -z $dashdash ]]; then
            case $w in
            --) dashdash=1 && continue ;;
            --wait | --max-file-size | --ttl | --from | --to) i=$((i + 1)) && continue ;;
            -e | --encoded) encoded=1 && continue ;;
            -[0-9]*) ;;
            -?*) continue ;;
            esac
        fi
        ops+=("$w")
    done

    if [[ -z $dashdash && $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$_bitask_options" -- "$cur")
        return
    fi
    case ${#ops[@]} in
    0) # DIR, or help
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        [[ help == "$cur"* ]] && COMPREPLY+=(help)
        ;;
    1)
        if [[ ${ops[0]} == help ]]; then
            mapfile -t COMPREPLY < <(compgen -W "${_bitask_commands% help}" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$_bitask_commands" -- "$cur")
        fi
        ;;
    2)
        case ${ops[1]} in
        help) mapfile -t COMPREPLY < <(compgen -W "${_bitask_commands% help}" -- "$cur") ;;
        put | add | cas | get | exists | del | ttl | expire | persist | list | count | dump) _bitask_keys "${ops[0]}" ;;
        backup) compopt -o filenames 2>/dev/null && mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
        esac
        ;;
    *) # get takes any number of keys
        [[ ${ops[1]} == get ]] && _bitask_keys "${ops[0]}"
        ;;
    esac
    if declare -F __ltrim_colon_completions >/dev/null; then
        __ltrim_colon_completions "$cur"
    fi
}

# Offers the keys of the store in $1 that start with $cur: as list prints them (the dump
# encoding) with -e; without it, only the keys that are their own encoding (no byte that list
# writes as \xHH), since those are the only ones that name themselves on the command line.
_bitask_keys() {
    local store=$1 tool=${words[0]} typed=$cur query key
    # A tool typed as ~/...: the word still holds the tilde, which the shell expands later.
    # shellcheck disable=SC2088
    [[ $tool == "~/"* ]] && tool=$HOME/${tool#"~/"}
    # What was typed, unquoted (best effort: a leading quote, and backslashes that quote).
    typed=${typed#[\'\"]}
    typed=${typed//\\\\/\\}
    [[ $typed == *\\* && -z $encoded ]] && return
    query=$typed
    # An escape cut short (\, \x, \x4) is not yet a byte: ask for the keys before it.
    [[ -n $encoded && $query =~ \\(x[0-9a-fA-F]?)?$ ]] && query=${query%"${BASH_REMATCH[0]}"}
    local -a args=()
    [[ -n $encoded ]] && args=(-e)
    # Each key quoted for the shell (printf %q): keys may hold $, *, ; and the like.
    while IFS= read -r key; do
        [[ $key == "$typed"* && ( -n $encoded || $key != *\\* ) ]] &&
            COMPREPLY+=("$(printf '%q' "$key")")
    done < <("$tool" "${args[@]}" -- "$store" list "$query" 2>/dev/null | head -n "$_bitask_max_keys")
}

complete -F _bitask bitask
