/*
 * bitask: the command-line tool. A small client of the public C interface (bitask.h and
 * libbitask.so), nothing more.
 *
 *   bitask [OPTIONS] DIR COMMAND [ARGUMENTS]     the commands: bitask --help, commands.h
 *   bitask help [COMMAND] | --help | --version
 *   BITASK_PATH=DIR bitask put --key KEY --value VALUE | ask --key KEY   (as bitask 0.1.1)
 *
 * Exit status (cli.h): 0 done, 1 not found (get, del, exists), 2 usage error or failure,
 * 3 upgrade done with unreadable bytes, 4 locked by another writer.
 *
 * The tool is one translation unit: this file includes its parts, headers of static
 * functions, so that every build of it (the Makefile's, the sanitizers', the Rust test
 * harness's) compiles the one file cli/bitask.c with nothing to list or link but the library:
 *   cli.h          the exit statuses, the options, the store's directory
 *   dump_format.h  the dump encoding of keys and values (dump, load, list, -e, --json)
 *   store.h        opening the store (read-only or not, --wait, --sync), progress, errors
 *   commands.h     the commands and their table, with each one's help
 *   args.h         options anywhere, operands, help and version, usage errors
 *   legacy.h       the command line of bitask 0.1.1
 */
#include "args.h"
#include "cli.h"
#include "commands.h"
#include "dump_format.h"
#include "legacy.h"
#include "store.h"

/* Standard output is checked once, at the end: a full disk or a closed pipe must not pass
 * for success. */
static int flushed(int rc) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("bitask: writing standard output");
        return EXIT_ERROR;
    }
    return rc;
}

int main(int argc, char **argv) {
    int legacy = legacy_command(argc, argv);
    if (legacy)
        return flushed(legacy_main(argc - legacy, argv + legacy));
    struct request r = parse_args(argc, argv);
    if (usage_msg[0])
        return usage_failed();
    if (r.what == VERSION) {
        print_version();
        return flushed(EXIT_OK);
    }
    if (r.what == HELP) {
        if (r.cmd)
            print_command_help(r.cmd);
        else
            print_help();
        return flushed(EXIT_OK);
    }
    return flushed(r.cmd->run(r.args));
}
