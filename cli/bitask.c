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
 * functions (cli.h, dump_format.h, store.h, commands.h, legacy.h), so every build of it
 * compiles the one file cli/bitask.c, with nothing to list or link but the library.
 */
#include "cli.h"
#include "commands.h"
#include "dump_format.h"
#include "legacy.h"
#include "store.h"

static const char usage_text[] =
    "usage: bitask [-e] DIR COMMAND [ARGUMENTS]\n"
    "       bitask --help | --version\n"
    "\n"
    "Commands (DIR is the store's directory, created by the first write):\n"
    "  put KEY VALUE   store VALUE under KEY; VALUE \"-\" reads the value from standard input\n"
    "  get KEY         print the value of KEY, then a newline\n"
    "  del KEY         remove KEY\n"
    "  list [PREFIX]   print the keys (starting with PREFIX), encoded as in dump, in order\n"
    "  stats           print figures about the store\n"
    "  compact         merge the data files, dropping overwritten and removed records\n"
    "  dump            print every pair in the dump format\n"
    "  load            store every pair read from standard input in the dump format\n"
    "  upgrade         convert a store written by bitask 0.1.1 into this format, in place;\n"
    "                  its files are kept in DIR/" UPGRADE_BACKUP_DIR "\n"
    "\n"
    "Options:\n"
    "  -e              KEY, VALUE and PREFIX are given in the dump encoding (any bytes),\n"
    "                  and get prints the value encoded\n"
    "\n"
    "Reading commands open the store read-only, so they work while another process writes;\n"
    "writing commands make their writes durable before they exit.\n"
    "\n"
    "Exit status: 0 done (get, del: found), 1 not found (get, del), 2 error,\n"
    "3 upgraded, but some bytes of the 0.1.1 files could not be read (listed).\n"
    "\n"
    "The command line of bitask 0.1.1 works too, on the store whose directory is in the\n"
    "environment variable BITASK_PATH:\n"
    "  put --key KEY --value VALUE   store VALUE under KEY, print \"Value stored successfully\"\n"
    "  ask --key KEY                 print the value of KEY, then a newline; a missing key\n"
    "                                exits 1 with \"Key not found\" on standard error\n"
    "\n"
    "Dump format: a first line \"# bitask dump 1\", then one line \"KEY VALUE\" per pair, in\n"
    "key byte order. Bytes 0x21-0x7e other than \\ and \" stand for themselves; any other byte,\n"
    "and a # that begins a key, is written \\xHH; an empty value is written \"\". load skips\n"
    "empty lines and lines that start with #, and stops at the first malformed line.\n";


static int usage_error(const char *msg) {
    fprintf(stderr, "bitask: %s\n%s", msg, usage_text);
    return EXIT_ERROR;
}

/* --- main ------------------------------------------------------------------------- */

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
    int i = 1, escaped = 0;
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("bitask %s (library %s)\n", BITASK_VERSION_STRING, bitask_version());
        return EXIT_OK;
    }
    int legacy = legacy_command(argc, argv);
    if (legacy)
        return flushed(legacy_main(argc - legacy, argv + legacy));
    if (i < argc && strcmp(argv[i], "-e") == 0) {
        escaped = 1;
        i++;
    }
    if (argc - i < 2)
        return usage_error("expected a directory and a command");
    dir = argv[i];
    const char *cmd = argv[i + 1];
    char **args = argv + i + 2;
    int nargs = argc - i - 2;
    int rc;
    if (strcmp(cmd, "put") == 0 && nargs == 2)
        rc = cmd_put(args[0], args[1], escaped);
    else if (strcmp(cmd, "get") == 0 && nargs == 1)
        rc = cmd_get(args[0], escaped);
    else if (strcmp(cmd, "del") == 0 && nargs == 1)
        rc = cmd_del(args[0], escaped);
    else if (strcmp(cmd, "list") == 0 && nargs <= 1)
        rc = cmd_iterate(nargs ? args[0] : NULL, escaped, 0);
    else if (strcmp(cmd, "dump") == 0 && nargs == 0)
        rc = cmd_iterate(NULL, escaped, 1);
    else if (strcmp(cmd, "load") == 0 && nargs == 0)
        rc = cmd_load();
    else if (strcmp(cmd, "stats") == 0 && nargs == 0)
        rc = cmd_stats();
    else if (strcmp(cmd, "compact") == 0 && nargs == 0)
        rc = cmd_compact();
    else if (strcmp(cmd, "upgrade") == 0 && nargs == 0 && !escaped)
        rc = cmd_upgrade();
    else if (strcmp(dir, "upgrade") == 0 && nargs == 0)
        return usage_error("the directory comes first: bitask DIR upgrade");
    else
        return usage_error("unknown command or wrong number of arguments");
    return flushed(rc);
}
