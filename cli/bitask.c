/*
 * bitask: the command-line tool. A small client of the public C interface (bitask.h and
 * libbitask.so), nothing more.
 *
 *   bitask [-e] DIR put KEY VALUE | get KEY | del KEY | list [PREFIX] | stats | compact
 *                   | dump | load
 *   bitask DIR upgrade   (converts a store written by bitask 0.1.1)
 *   BITASK_PATH=DIR bitask put --key KEY --value VALUE | ask --key KEY   (as bitask 0.1.1)
 *
 * Exit status: 0 done (for get and del: the key was found), 1 the key was not found,
 * 2 an error (message on standard error), 3 upgrade: done, but bytes of the 0.1.1 files
 * could not be read.
 *
 * The dump format is described in dump_format.h and by --help.
 *
 * The tool is one translation unit: this file includes its parts, headers of static
 * functions (cli.h, dump_format.h, store.h, commands.h, args.h, legacy.h), so every build of it
 * compiles the one file cli/bitask.c, with nothing to list or link but the library.
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
