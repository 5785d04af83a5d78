/*
 * What the commands share around the library: opening the store (read-only or not, waiting
 * for the writer lock, --sync, --max-file-size), progress on a terminal, the library's errors,
 * and the bytes of arguments and of put's standard input.
 */
#ifndef BITASK_CLI_STORE_H
#define BITASK_CLI_STORE_H

#include "cli.h"
#include "dump_format.h"

#include <sys/stat.h>
#include <unistd.h>

/* --- progress ------------------------------------------------------------------------ */

/* A line of progress for the long commands (load, compact, upgrade) on standard error, only
 * when it is a terminal: a person watching sees that the command is working, and a script's
 * or a test's standard error never gets it. Each update overwrites the line ("\r" and
 * erase-to-end-of-line), and progress_clear erases it before anything else is printed. */
static int progress_shown;

static int progress_wanted(void) { return isatty(STDERR_FILENO); }

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void progress(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("\r\033[K", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
    progress_shown = 1;
}

static void progress_clear(void) {
    if (progress_shown)
        fputs("\r\033[K", stderr);
    progress_shown = 0;
}

/* --- errors -------------------------------------------------------------------------- */

/* Reports a failed call with the library's detailed message; the exit status. */
static int fail(const char *what, bitask_status st) {
    progress_clear();
    char msg[1024];
    bitask_last_error_message(msg, sizeof msg);
    fprintf(stderr, "bitask: %s: %s: %s\n", what, bitask_strerror((int)st), msg);
    return EXIT_ERROR;
}

/* --- waiting for the writer lock ------------------------------------------------------ */

/* A store has one writer at a time, and a second writer's open fails at once with
 * BITASK_ERR_WRITER_LOCK. With --wait SECONDS a writing command tries again, like sqlite's
 * busy timeout: sleeps that grow from 1 ms to 100 ms, so a lock held for a moment costs a
 * moment and a long wait polls ten times a second, until the open succeeds or the time is
 * up. The library offers no way to block on the lock, and a poll keeps the limit exact. */
struct lock_wait {
    struct timespec start;
    double delay_s;
};

static double seconds_since(const struct timespec *t) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static struct lock_wait lock_wait_start(void) {
    struct lock_wait w = {{0, 0}, 0.001};
    clock_gettime(CLOCK_MONOTONIC, &w.start);
    return w;
}

/* After a refusal for the lock: sleeps a little and returns 1 while --wait's time lasts, else
 * returns 0. */
static int lock_wait_more(struct lock_wait *w) {
    double left = opt.wait_s - seconds_since(&w->start);
    if (left <= 0)
        return 0;
    double d = w->delay_s < left ? w->delay_s : left;
    struct timespec t = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ; /* a signal that does not end the process only interrupts the sleep */
    w->delay_s = w->delay_s * 2 < 0.1 ? w->delay_s * 2 : 0.1;
    return 1;
}

/* The message of a store still locked: it names the lock file, which tells the user what to
 * look for (fuser DIR/db.lock), and how to wait. */
static int locked(const char *what) {
    progress_clear();
    if (opt.legacy)
        fprintf(stderr, "bitask: %s: the store is locked: another writer holds %s/db.lock\n",
                what, dir);
    else if (opt.wait_s > 0)
        fprintf(stderr,
                "bitask: %s: the store is locked: another writer held %s/db.lock for all of the "
                "%g s waited\n",
                what, dir, opt.wait_s);
    else
        fprintf(stderr,
                "bitask: %s: the store is locked: another writer holds %s/db.lock (--wait "
                "SECONDS waits for it)\n",
                what, dir);
    return EXIT_LOCKED;
}

/* --- opening ------------------------------------------------------------------------- */

/* How a command opens the store. Reading commands open it read-only: they take no lock, so
 * they work beside a writer, and they never make a directory, so a mistyped DIR is an error
 * rather than a new empty store. Of the writers, only the ones that add pairs (put, load)
 * make a missing DIR; del and compact have nothing to do in a store that does not exist. */
enum access { READ, WRITE, WRITE_EXISTING };

/* A failed open, reported as fail does, except that a message of the library's own that
 * names the directory ("open DIR: No such file or directory") stands alone: the path once,
 * in the system's words. */
static int open_failed(const char *what, bitask_status st, const char *msg) {
    size_t n = strlen(dir);
    if (strncmp(msg, "open ", 5) != 0 || strncmp(msg + 5, dir, n) != 0 || msg[5 + n] != ':')
        return fail(what, st);
    progress_clear();
    fprintf(stderr, "bitask: open %s%s%s\n", dir, dir_origin, msg + 5 + n);
    return EXIT_ERROR;
}

static int open_store(enum access access, bitask **db) {
    bitask_options *o = bitask_options_new();
    if (!o)
        return fail("open", BITASK_ERR_IO);
    bitask_status st = bitask_options_set_read_only(o, access == READ);
    if (st == BITASK_OK && access == WRITE_EXISTING)
        st = bitask_options_set_create_if_missing(o, 0);
    /* The tool's commands are short: a merge thread would only be stopped again at the
     * close. compact merges on request, and a long-running writer merges on its own. */
    if (st == BITASK_OK)
        st = bitask_options_set_auto_merge(o, 0);
    if (st == BITASK_OK && opt.sync_always)
        st = bitask_options_set_sync(o, BITASK_SYNC_ALWAYS);
    if (st == BITASK_OK && opt.max_file_size)
        st = bitask_options_set_max_file_size(o, opt.max_file_size);
    if (st == BITASK_OK) {
        struct lock_wait w = lock_wait_start();
        while ((st = bitask_open(dir, o, db)) == BITASK_ERR_WRITER_LOCK && lock_wait_more(&w))
            ;
    }
    bitask_options_free(o);
    if (st != BITASK_OK) {
        char what[4200], msg[1024];
        snprintf(what, sizeof what, "open %s%s", dir, dir_origin);
        if (st == BITASK_ERR_WRITER_LOCK)
            return locked(what);
        bitask_last_error_message(msg, sizeof msg);
        int rc = open_failed(what, st, msg);
        if (st == BITASK_ERR_INCOMPATIBLE && strstr(msg, "bitask 0.1.1"))
            fprintf(stderr, "bitask: \"bitask %s upgrade\" converts a store of bitask 0.1.1\n",
                    dir);
        return rc;
    }
    return EXIT_OK;
}

/* Makes the writes durable, closes; the exit status. */
static int finish_writes(bitask *db, int rc) {
    if (rc == EXIT_OK || rc == EXIT_NOT_FOUND) {
        bitask_status st = bitask_sync(db);
        if (st != BITASK_OK)
            rc = fail("sync", st);
    }
    bitask_close(db);
    return rc;
}

/* An argument as bytes: as given, or decoded with -e (in place). A bad one is named, by
 * command and placeholder, with the column at fault. */
static int arg_bytes(char *arg, const char *cmd, const char *name, size_t *len) {
    if (!opt.escaped) {
        *len = strlen(arg);
        return 1;
    }
    struct decode_error e;
    size_t n = strlen(arg);
    char shown[256];
    snprintf(shown, sizeof shown, "%s", arg); /* decode changes arg in place */
    long got = decode(arg, n, &e);
    if (got < 0) {
        fprintf(stderr, "bitask: %s: %s '%.200s%s' (-e): column %zu: %s\n", cmd, name, shown,
                n > 200 ? "..." : "", e.at + 1, e.why);
        return 0;
    }
    *len = (size_t)got;
    return 1;
}

/* Reads the value of put KEY - from standard input into *out (the caller frees it); the exit
 * status. A value longer than BITASK_MAX_VALUE_LEN is refused once the input passes the
 * limit: bitask_put takes a value whole, so up to the limit it is kept, but never a byte past
 * it, and what follows is left unread, so an endless writer (yes | bitask DIR put k -) is
 * refused rather than read until memory runs out. A regular file is refused by its size,
 * before anything is read, and read into a buffer of that size. */
static int value_too_long(void) {
    fprintf(stderr,
            "bitask: put: the value on standard input is longer than %lu bytes "
            "(BITASK_MAX_VALUE_LEN); nothing was stored\n",
            (unsigned long)BITASK_MAX_VALUE_LEN);
    return EXIT_ERROR;
}

static int read_value(FILE *in, uint8_t **out, size_t *len) {
    const size_t limit = BITASK_MAX_VALUE_LEN;
    size_t cap = 64 * 1024, n = 0;
    struct stat st;
    off_t at;
    if (fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) &&
        (at = lseek(fileno(in), 0, SEEK_CUR)) >= 0) {
        uint64_t left = st.st_size > at ? (uint64_t)(st.st_size - at) : 0;
        if (left > limit)
            return value_too_long();
        cap = (size_t)left + 1; /* a byte more, so that reading it tells of a file that grew */
    }
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "bitask: put: no memory for a value of %zu bytes\n", cap);
            return EXIT_ERROR;
        }
        size_t got = fread(buf + n, 1, cap - n, in);
        n += got;
        if (n > limit) { /* cap is at most limit + 1: this is the first byte past it */
            free(buf);
            return value_too_long();
        }
        if (got == 0)
            break;
        if (n == cap) {
            size_t want = cap > limit / 2 ? limit + 1 : cap * 2;
            uint8_t *bigger = realloc(buf, want);
            if (!bigger)
                free(buf);
            buf = bigger;
            cap = want;
        }
    }
    if (ferror(in)) {
        perror("bitask: put: reading standard input");
        free(buf);
        return EXIT_ERROR;
    }
    *out = buf;
    *len = n;
    return EXIT_OK;
}

#endif
