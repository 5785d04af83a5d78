/*
 * The command line of the directory-first form: options anywhere, operands in order, help
 * and version, and usage errors that name what was wrong.
 *
 * Options are recognised anywhere on the line, as git's and GNU getopt's are, and "--" ends
 * them, so a key or value that starts with a dash follows it (bitask DIR put -- -k -v). A lone
 * "-" is an operand (put KEY - reads standard input), and so is a word that reads as a
 * negative number, as Python's argparse does, so that bitask DIR put temp -5 stores "-5".
 *
 * Help and version win over everything else on the line, errors included, so that adding
 * --help to a command that went wrong always shows how to write it.
 */
#ifndef BITASK_CLI_ARGS_H
#define BITASK_CLI_ARGS_H

#include "cli.h"
#include "commands.h"

/* --- the help ------------------------------------------------------------------------ */

/* Options that a command takes when takes has the bit; 0 for the ones every command takes. */
struct option_help {
    unsigned takes;
    const char *text; /* lines of "  OPTION  description", continuations indented further */
};

static const struct option_help option_help[] = {
    {TAKES_ENCODED,
     "  -e, --encoded           KEY, VALUE and PREFIX are given in the dump encoding (any bytes:\n"
     "                          \\x00 is NUL, \\x20 a space), and get prints the value encoded\n"},
    {TAKES_NO_NEWLINE,
     "  -n, --no-newline        get: print the value alone, without the newline after it\n"},
    {TAKES_JSON,
     "  --json                  stats, list, verify, compact --dry-run: print JSON (list: an\n"
     "                          array of the keys, each in the dump encoding)\n"},
    {TAKES_DRY_RUN,
     "  --dry-run               compact: merge nothing; print whether an automatic merge is\n"
     "                          due, the files it would take and why, and the bytes it would\n"
     "                          read, write and reclaim\n"},
    {TAKES_RANGE,
     "  --from KEY              list, count, dump: only keys >= KEY (in the dump encoding with -e)\n"},
    {TAKES_RANGE,
     "  --to KEY                list, count, dump: only keys <= KEY (in the dump encoding with -e)\n"},
    {TAKES_RANGE,
     "  --reverse               list, count, dump: in descending key order\n"},
    {TAKES_TTL,
     "  --ttl SECONDS           put: the value expires SECONDS (fractions too) from now\n"},
    {TAKES_WAIT,
     "  --wait SECONDS          a writing command that finds the store locked by another\n"
     "                          writer tries again until it is free or SECONDS (fractions\n"
     "                          too) are up; without it, or when the time is up, it exits 4\n"},
    {TAKES_OPEN_OPTIONS,
     "  --sync                  put, del, load, compact: open with BITASK_SYNC_ALWAYS, each\n"
     "                          write on stable storage before the next (without it, the\n"
     "                          writes are made durable once, before the command exits)\n"},
    {TAKES_OPEN_OPTIONS,
     "  --max-file-size BYTES   put, del, load, compact: seal a data file once it holds BYTES\n"
     "                          (K, M, G: KiB, MiB, GiB; 64 bytes to 2G; the default is 4M)\n"},
    {0, "  -h, --help              print this help (bitask help COMMAND: a command's)\n"},
    {0, "  -V, --version           print the versions of the tool and the library\n"},
};

static void print_options(FILE *out, const struct command *cmd) {
    fputs("Options (anywhere on the line; -- ends them):\n", out);
    for (size_t i = 0; i < sizeof option_help / sizeof option_help[0]; i++)
        if (!cmd || option_help[i].takes == 0 || (cmd->takes & option_help[i].takes))
            fputs(option_help[i].text, out);
}

static const char exit_status_help[] =
    "Exit status:\n"
    "  0  done (get, del, exists, ttl, expire, persist: the key was found)\n"
    "  1  not found: get, del, exists, ttl, expire or persist of a missing key\n"
    "  2  usage error, or the command failed (the message on standard error says which)\n"
    "  3  upgrade: done, but some bytes of the 0.1.1 files could not be read (listed);\n"
    "     verify: problems found; repair: done, but records were lost\n"
    "  4  locked: another process is the store's writer (DIR/db.lock); --wait waits for it\n";

static const char legacy_help[] =
    "The command line of bitask 0.1.1 works too, on the store whose directory is in the\n"
    "environment variable BITASK_PATH:\n"
    "  put --key KEY --value VALUE  store VALUE under KEY, print \"Value stored successfully\"\n"
    "  ask --key KEY                print the value of KEY, then a newline; a missing key\n"
    "                               exits 1 with \"Key not found\" on standard error\n";

static const char dump_format_help[] =
    "Dump format: a first line \"# bitask dump 1\", then one line \"KEY VALUE\" per pair, in\n"
    "key byte order, or \"KEY VALUE EXPIRY\" for a key that expires (EXPIRY: milliseconds\n"
    "since the Unix epoch). Bytes 0x21-0x7e other than \\ and \" stand for themselves; any other byte,\n"
    "and a # that begins a key, is written \\xHH; an empty value is written \"\". load skips\n"
    "empty lines and lines that start with # (but refuses \"# bitask dump N\" for a version N\n"
    "other than 1), reads CRLF line ends as LF, and stops at the first malformed line.\n";

static void print_help(void) {
    fputs("usage: bitask [OPTIONS] DIR COMMAND [ARGUMENTS]\n"
          "       bitask help [COMMAND] | --help | --version\n"
          "\n"
          "Commands (DIR is the store's directory; put and load create it):\n",
          stdout);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char head[64];
        snprintf(head, sizeof head, "%s%s%s", commands[i].name, *commands[i].args ? " " : "",
                 commands[i].args);
        /* A usage longer than the column keeps two spaces before its summary. */
        printf("  %-15s %s%s\n", head, strlen(head) >= 15 ? " " : "", commands[i].summary);
    }
    fputs("\n", stdout);
    print_options(stdout, NULL);
    fputs("\n"
          "Reading commands (get, exists, ttl, list, count, stats, dump) open the store read-only, so\n"
          "they work while another process writes, and never create DIR; writing commands make\n"
          "their writes durable before they exit.\n"
          "\n",
          stdout);
    fputs(exit_status_help, stdout);
    fputs("\n", stdout);
    fputs(legacy_help, stdout);
    fputs("\n", stdout);
    fputs(dump_format_help, stdout);
}

static void print_usage_line(FILE *out, const struct command *cmd) {
    fprintf(out, "usage: bitask [OPTIONS] DIR %s%s%s\n", cmd->name, *cmd->args ? " " : "",
            cmd->args);
}

static void print_command_help(const struct command *cmd) {
    print_usage_line(stdout, cmd);
    fputs("\n", stdout);
    fputs(cmd->details, stdout);
    fputs("\n", stdout);
    print_options(stdout, cmd);
    fputs("\n", stdout);
    fputs(cmd->exits, stdout);
    if (strcmp(cmd->name, "dump") == 0 || strcmp(cmd->name, "load") == 0 ||
        (cmd->takes & TAKES_ENCODED)) {
        fputs("\n", stdout);
        fputs(dump_format_help, stdout);
    }
}

static void print_version(void) {
    printf("bitask %s (library %s)\n", BITASK_VERSION_STRING, bitask_version());
}

/* --- parsing ------------------------------------------------------------------------- */

/* The first usage error found, and the command whose usage line follows it (NULL for none). */
static char usage_msg[512];
static const struct command *usage_cmd;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void usage_problem(const struct command *cmd, const char *fmt, ...) {
    if (usage_msg[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(usage_msg, sizeof usage_msg, fmt, ap);
    va_end(ap);
    usage_cmd = cmd;
}

/* Prints the usage error: its line, then the command's usage line or where to read more. */
static int usage_failed(void) {
    fprintf(stderr, "bitask: %s\n", usage_msg);
    if (usage_cmd)
        print_usage_line(stderr, usage_cmd);
    else
        fputs("bitask --help lists the commands and options\n", stderr);
    return EXIT_ERROR;
}

static int is_negative_number(const char *a) {
    if (a[0] != '-' || a[1] < '0' || a[1] > '9')
        return 0;
    a++;
    while (*a >= '0' && *a <= '9')
        a++;
    if (*a == '.') {
        a++;
        while (*a >= '0' && *a <= '9')
            a++;
    }
    return *a == '\0';
}

/* What the command line asks for. */
struct request {
    enum { RUN, HELP, VERSION } what;
    const struct command *cmd; /* RUN: the command; HELP: the one asked about, or NULL */
    char **args;               /* RUN: the command's arguments, max_args of them */
};

/* A long option's name and value: "--name=value" or "--name value". Returns 1 when arg is
 * --name (with or without =value); *value then is the value, or NULL when missing. */
static int long_option(const char *arg, const char *name, int argc, char **argv, int *i,
                       const char **value) {
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
        return 0;
    if (arg[n] == '=')
        *value = arg + n + 1;
    else
        *value = *i + 1 < argc ? argv[++*i] : NULL;
    return 1;
}


/* --max-file-size's BYTES: digits and an optional K, M or G (KiB, MiB, GiB), within what
 * the library accepts, which it is asked about. Returns 0 (with the usage error said) when
 * BYTES is not such a number or out of range. */
static int parse_file_size(const char *a, uint64_t *out) {
    size_t digits = strspn(a, "0123456789");
    const char *suffix = a + digits;
    unsigned shift = 0;
    if (*suffix == 'K' || *suffix == 'k')
        shift = 10;
    else if (*suffix == 'M' || *suffix == 'm')
        shift = 20;
    else if (*suffix == 'G' || *suffix == 'g')
        shift = 30;
    if (digits == 0 || digits > 12 || suffix[shift ? 1 : 0] != '\0') {
        usage_problem(NULL, "--max-file-size: not a number: '%.200s'", a);
        return 0;
    }
    uint64_t n = strtoull(a, NULL, 10) << shift; /* at most 10^12 * 2^30: no overflow */
    bitask_options *o = bitask_options_new();
    bitask_status st = o ? bitask_options_set_max_file_size(o, n) : BITASK_ERR_IO;
    bitask_options_free(o);
    if (st != BITASK_OK) {
        usage_problem(NULL, "--max-file-size: out of range: '%.200s' (64 bytes to 2G)", a);
        return 0;
    }
    *out = n;
    return 1;
}

/* Reads the options into opt and moves the operands to the front of argv (the slots before
 * the word being read are free, so the order is kept); their count. */
static int scan(int argc, char **argv, int *help, int *version) {
    int nops = 0, options_done = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        const char *value;
        if (options_done || a[0] != '-' || a[1] == '\0' || is_negative_number(a)) {
            argv[nops++] = a;
        } else if (strcmp(a, "--") == 0) {
            options_done = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            if (!*version)
                *help = 1;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            if (!*help)
                *version = 1;
        } else if (strcmp(a, "-e") == 0 || strcmp(a, "--encoded") == 0) {
            opt.escaped = 1;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--no-newline") == 0) {
            opt.no_newline = 1;
        } else if (strcmp(a, "--json") == 0) {
            opt.json = 1;
        } else if (strcmp(a, "--dry-run") == 0) {
            opt.dry_run = 1;
        } else if (strcmp(a, "--reverse") == 0) {
            opt.reverse = 1;
        } else if (long_option(a, "--from", argc, argv, &i, &value)) {
            if (!value)
                usage_problem(NULL, "--from: missing KEY");
            opt.from = (char *)value;
        } else if (long_option(a, "--to", argc, argv, &i, &value)) {
            if (!value)
                usage_problem(NULL, "--to: missing KEY");
            opt.to = (char *)value;
        } else if (strcmp(a, "--sync") == 0) {
            opt.sync_always = 1;
        } else if (long_option(a, "--max-file-size", argc, argv, &i, &value)) {
            if (!value)
                usage_problem(NULL, "--max-file-size: missing BYTES");
            else
                parse_file_size(value, &opt.max_file_size);
        } else if (long_option(a, "--ttl", argc, argv, &i, &value)) {
            if (!value)
                usage_problem(NULL, "--ttl: missing SECONDS");
            else if (!parse_seconds(value, &opt.ttl_s))
                usage_problem(NULL, "--ttl: not a number: '%.200s'", value);
            else
                opt.has_ttl = 1;
        } else if (long_option(a, "--wait", argc, argv, &i, &value)) {
            if (!value)
                usage_problem(NULL, "--wait: missing SECONDS");
            else if (!parse_seconds(value, &opt.wait_s))
                usage_problem(NULL, "--wait: not a number: '%.200s'%s", value,
                              value[0] == '-' ? " (SECONDS is 0 or more)" : "");
        } else if (a[1] != '-' && strspn(a + 1, "ehnV") == strlen(a + 1)) {
            /* Short flags together, as getopt takes them: -en is -e -n. */
            for (const char *f = a + 1; *f; f++) {
                if (*f == 'e')
                    opt.escaped = 1;
                else if (*f == 'n')
                    opt.no_newline = 1;
                else if (*f == 'h' && !*version)
                    *help = 1;
                else if (*f == 'V' && !*help)
                    *version = 1;
            }
        } else {
            const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
            usage_problem(NULL, "unknown option '%.*s'", eq ? (int)(eq - a) : 200, a);
        }
    }
    return nops;
}

static struct request parse_args(int argc, char **argv) {
    int help = 0, version = 0;
    int nops = scan(argc, argv, &help, &version);
    char **ops = argv;
    struct request r = {RUN, NULL, NULL};

    /* "help" names no directory in the command's place, nor as the first of at most two
     * words: bitask help, bitask help get, bitask DIR help get. (A store in a directory named
     * help is reached as ./help.) */
    const char *topic = NULL;
    if (nops >= 2 && strcmp(ops[1], "help") == 0) {
        help = 1;
        topic = nops >= 3 ? ops[2] : NULL;
        if (nops > 3)
            usage_problem(NULL, "help: unexpected argument '%.200s'", ops[3]);
    } else if (nops >= 1 && nops <= 2 && strcmp(ops[0], "help") == 0) {
        help = 1;
        topic = nops == 2 ? ops[1] : NULL;
    }
    if (version && !help) {
        usage_msg[0] = '\0';
        r.what = VERSION;
        return r;
    }
    if (help) {
        usage_msg[0] = '\0'; /* help wins over any usage error */
        r.what = HELP;
        if (topic) {
            r.cmd = find_command(topic);
            if (!r.cmd)
                usage_problem(NULL, "help: unknown command '%.200s'", topic);
        } else {
            /* --help after a command tells that command's help: bitask DIR get --help, and
             * bitask get --help. */
            r.cmd = nops >= 2 ? find_command(ops[1]) : NULL;
            if (!r.cmd && nops >= 1)
                r.cmd = find_command(ops[0]);
        }
        return r;
    }
    if (usage_msg[0])
        return r;

    if (nops == 0) {
        usage_problem(NULL, "missing DIR and COMMAND");
        return r;
    }
    const struct command *first = find_command(ops[0]);
    if (nops == 1) {
        if (first)
            usage_problem(first, "%s: the directory comes first: bitask DIR %s%s%s", first->name,
                          first->name, *first->args ? " " : "", first->args);
        else
            usage_problem(NULL, "missing COMMAND after %.400s", ops[0]);
        return r;
    }
    dir = ops[0];
    r.cmd = find_command(ops[1]);
    if (!r.cmd) {
        if (first)
            usage_problem(first, "%s: the directory comes first: bitask DIR %s%s%s", first->name,
                          first->name, *first->args ? " " : "", first->args);
        else
            usage_problem(NULL, "unknown command '%.200s'", ops[1]);
        return r;
    }
    int nargs = nops - 2;
    r.args = ops + 2;
    if (nargs < r.cmd->min_args) {
        /* The first missing placeholder of the usage line: "put KEY VALUE" with one
         * argument misses VALUE ("get KEY..." with none, KEY). */
        const char *p = r.cmd->args;
        for (int k = 0; k < nargs; k++)
            p = strchr(p, ' ') + 1;
        usage_problem(r.cmd, "%s: missing %.*s", r.cmd->name, (int)strcspn(p, " ."), p);
    } else if (nargs > r.cmd->max_args) {
        usage_problem(r.cmd, "%s: unexpected argument '%.200s'", r.cmd->name,
                      r.args[r.cmd->max_args]);
    } else if (opt.no_newline && !(r.cmd->takes & TAKES_NO_NEWLINE)) {
        usage_problem(r.cmd, "%s: -n/--no-newline is an option of get", r.cmd->name);
    } else if (opt.json && !(r.cmd->takes & TAKES_JSON)) {
        usage_problem(r.cmd, "%s: --json is an option of stats, list, verify and compact",
                      r.cmd->name);
    } else if (opt.dry_run && !(r.cmd->takes & TAKES_DRY_RUN)) {
        usage_problem(r.cmd, "%s: --dry-run is an option of compact", r.cmd->name);
    } else if (opt.has_ttl && !(r.cmd->takes & TAKES_TTL)) {
        usage_problem(r.cmd, "%s: --ttl is an option of put", r.cmd->name);
    } else if ((opt.from || opt.to || opt.reverse) && !(r.cmd->takes & TAKES_RANGE)) {
        usage_problem(r.cmd, "%s: --from, --to and --reverse are options of list, count and dump",
                      r.cmd->name);
    } else {
        /* The slot past the given arguments reads NULL: argv has argc + 1 slots, the operands
         * are at its front, and the slot after them is free (max_args - min_args is at most 1,
         * or max_args is ANY_ARGS: then the arguments end at the NULL). */
        if (nargs < r.cmd->max_args)
            r.args[nargs] = NULL;
    }
    return r;
}

#endif
