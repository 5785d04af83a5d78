/*
 * Opening the store for a command, and reporting the library's errors.
 */
#ifndef BITASK_CLI_STORE_H
#define BITASK_CLI_STORE_H

#include "cli.h"
#include "dump_format.h"

/* Reports a failed call with the library's detailed message; the exit status. */
static int fail(const char *what, bitask_status st) {
    char msg[1024];
    bitask_last_error_message(msg, sizeof msg);
    fprintf(stderr, "bitask: %s: %s: %s\n", what, bitask_strerror((int)st), msg);
    return EXIT_ERROR;
}

static int open_store(int read_only, bitask **db) {
    bitask_options *o = bitask_options_new();
    if (!o)
        return fail("open", BITASK_ERR_IO);
    bitask_status st = bitask_options_set_read_only(o, read_only);
    if (st == BITASK_OK)
        st = bitask_open(dir, o, db);
    bitask_options_free(o);
    if (st != BITASK_OK) {
        char what[4200], msg[1024];
        snprintf(what, sizeof what, "open %s%s", dir, dir_origin);
        bitask_last_error_message(msg, sizeof msg);
        int rc = fail(what, st);
        if (st == BITASK_ERR_INCOMPATIBLE && strstr(msg, "bitask 0.1.1"))
            fprintf(stderr, "bitask: \"bitask %s upgrade\" converts a store of bitask 0.1.1\n",
                    dir);
        return rc;
    }
    return EXIT_OK;
}

/* Makes the writes durable, closes; the exit status. */
static int finish_writes(bitask *db, int rc) {
    if (rc != EXIT_ERROR) {
        bitask_status st = bitask_sync(db);
        if (st != BITASK_OK)
            rc = fail("sync", st);
    }
    bitask_close(db);
    return rc;
}

/* An argument as bytes: as given, or decoded with -e (in place). */
static int arg_bytes(char *arg, int escaped, size_t *len) {
    if (!escaped) {
        *len = strlen(arg);
        return 1;
    }
    long n = decode(arg, strlen(arg));
    if (n < 0) {
        fprintf(stderr, "bitask: not a valid encoded string: %s\n", arg);
        return 0;
    }
    *len = (size_t)n;
    return 1;
}

static uint8_t *read_all(FILE *in, size_t *len) {
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, in);
        if (n < cap)
            break;
        uint8_t *bigger = realloc(buf, cap * 2);
        if (!bigger)
            free(buf);
        buf = bigger;
        cap *= 2;
    }
    if (buf && ferror(in)) {
        free(buf);
        buf = NULL;
    }
    *len = n;
    return buf;
}

#endif
