/*
 * What every part of the command-line tool shares: the exit statuses, the store's directory,
 * and the system headers. cli/bitask.c includes the parts (this file first); see there why
 * the tool is one translation unit.
 */
#ifndef BITASK_CLI_H
#define BITASK_CLI_H

#define _POSIX_C_SOURCE 200809L

#include <bitask.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

/* The exit statuses. They are an interface of the tool, which scripts test: a number, once
 * given a meaning, keeps it. */
enum { EXIT_OK = 0, EXIT_NOT_FOUND = 1, EXIT_ERROR = 2, EXIT_UNREADABLE = 3, EXIT_LOCKED = 4 };

/* Where bitask_upgrade keeps the files of bitask 0.1.1, inside the store's directory. */
#define UPGRADE_BACKUP_DIR "bitask-0.1.1-backup"

/* The options of the directory-first form, wherever the command line gave them. */
struct options {
    int escaped;    /* -e: arguments in the dump encoding */
    int no_newline; /* -n: get prints the value alone */
    int json;       /* --json: stats, list and compact --dry-run print JSON */
    int dry_run;    /* --dry-run: compact reports what an automatic merge would take */
    double wait_s;  /* --wait: how long a writer tries again to take the lock (0: not at all) */
    int sync_always;        /* --sync: the writers open with BITASK_SYNC_ALWAYS */
    uint64_t max_file_size; /* --max-file-size, or 0 for the library's default */
    char *from;             /* --from KEY: list, count, dump start at KEY (inclusive) */
    char *to;               /* --to KEY: ... and end at KEY (inclusive) */
    int reverse;            /* --reverse: ... in descending key order */
    double ttl_s;           /* --ttl SECONDS: put stores a value that expires */
    int has_ttl;
    int legacy;             /* the command line of bitask 0.1.1, which has no options */
};
static struct options opt;

static const char *dir;
/* Where dir came from, for errors: empty for the command line. */
static const char *dir_origin = "";

#endif
