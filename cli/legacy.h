/*
 * The command line of bitask 0.1.1: put --key K --value V and ask --key K, on $BITASK_PATH.
 */
#ifndef BITASK_CLI_LEGACY_H
#define BITASK_CLI_LEGACY_H

#include "cli.h"
#include "commands.h"
#include "dump_format.h"

/* bitask 0.1.1, the crate this one succeeds, shipped a tool taking "put --key K --value V"
 * and "ask --key K" (options in any order, also as --key=K, and -v/--verbose anywhere), with
 * the store's directory in the environment variable BITASK_PATH. Scripts written for it keep
 * working: put prints what 0.1.1 printed, ask prints the value and a newline, a missing key
 * exits 1 with "Key not found" on standard error. Other errors exit 2 as everywhere in this
 * tool, where 0.1.1 exited 1 on every error: a script that tells success from failure sees
 * no difference. */

static const char legacy_usage_text[] =
    "usage: bitask put --key KEY --value VALUE\n"
    "       bitask ask --key KEY\n"
    "(the command line of bitask 0.1.1: the store's directory is $BITASK_PATH;\n"
    "bitask --help tells the rest)\n";

/* The index in argv of a 0.1.1 command word, or 0 for this tool's own form. In the own form
 * the word after DIR is a command, never an option, so "put" or "ask" followed by an option
 * or by nothing is the old form, and a store in a directory named put or ask is still
 * reached as "bitask put get KEY". */
static int legacy_command(int argc, char **argv) {
    int i = 1;
    if (argc > 2 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--verbose") == 0))
        i = 2;
    if (i >= argc || (strcmp(argv[i], "put") != 0 && strcmp(argv[i], "ask") != 0))
        return 0;
    return i == 2 || i + 1 == argc || argv[i + 1][0] == '-' ? i : 0;
}

static int legacy_usage_error(const char *cmd, const char *msg) {
    fprintf(stderr, "bitask: %s: %s\n%s", cmd, msg, legacy_usage_text);
    return EXIT_ERROR;
}

/* argv[0] is put or ask. */
static int legacy_main(int argc, char **argv) {
    const char *cmd = argv[0];
    int put = strcmp(cmd, "put") == 0;
    const char *key = NULL, *value = NULL;
    char msg[512];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *name;
        const char **slot;
        size_t len;
        if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
            continue; /* 0.1.1's debug logging: this tool has nothing to log */
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(legacy_usage_text, stdout);
            return EXIT_OK;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("bitask %s (library %s)\n", BITASK_VERSION_STRING, bitask_version());
            return EXIT_OK;
        }
        if (strncmp(a, "--key", 5) == 0 && (a[5] == '\0' || a[5] == '=')) {
            name = "--key";
            slot = &key;
            len = 5;
        } else if (put && strncmp(a, "--value", 7) == 0 && (a[7] == '\0' || a[7] == '=')) {
            name = "--value";
            slot = &value;
            len = 7;
        } else {
            snprintf(msg, sizeof msg, "unexpected argument '%.300s' (%s takes %s)", a, cmd,
                     put ? "--key KEY and --value VALUE" : "only --key KEY");
            return legacy_usage_error(cmd, msg);
        }
        if (*slot) {
            snprintf(msg, sizeof msg, "%s is given twice", name);
            return legacy_usage_error(cmd, msg);
        }
        if (a[len] == '=') {
            *slot = a + len + 1;
        } else if (i + 1 < argc) {
            *slot = argv[++i];
        } else {
            snprintf(msg, sizeof msg, "%s is given without its %s", name,
                     slot == &key ? "KEY" : "VALUE");
            return legacy_usage_error(cmd, msg);
        }
    }
    if (!key)
        return legacy_usage_error(cmd, "--key KEY is missing");
    if (put && !value)
        return legacy_usage_error(cmd, "--value VALUE is missing");
    const char *path = getenv("BITASK_PATH");
    if (!path || !*path) {
        fprintf(stderr,
                "bitask: %s: BITASK_PATH is %s: \"bitask %s --key ...\" takes the store's "
                "directory from it (set BITASK_PATH=DIR, or run \"bitask DIR %s\")\n",
                cmd, path ? "empty" : "not set", cmd, put ? "put KEY VALUE" : "get KEY");
        return EXIT_ERROR;
    }
    dir = path;
    dir_origin = " (BITASK_PATH)";
    opt.legacy = 1;
    const uint8_t *k = (const uint8_t *)key;
    size_t klen = strlen(key);
    if (put) {
        int rc = store_pair(k, klen, (const uint8_t *)value, strlen(value), cmd);
        /* This form keeps the statuses it has had, 0, 1 and 2: it has no --wait to offer, and
         * the scripts written for it tell failure from success, not kinds of failure. */
        if (rc == EXIT_LOCKED)
            rc = EXIT_ERROR;
        if (rc == EXIT_OK)
            puts("Value stored successfully");
        return rc;
    }
    int rc = print_value(k, klen, 0, cmd);
    if (rc == EXIT_NOT_FOUND) {
        fprintf(stderr, "bitask: %s: Key not found: ", cmd);
        encode(stderr, k, klen, ENCODE_KEY);
        fputc('\n', stderr);
    }
    return rc;
}

#endif
