/*
 * A minimal test harness for the C tests: checks that report and go on, a scratch
 * directory per program, and a digest of a directory's files to prove that a refused call
 * wrote nothing. Include it first (it selects the POSIX interfaces it needs).
 */
#ifndef BITASK_TEST_HARNESS_H
#define BITASK_TEST_HARNESS_H

#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bitask.h"

static int h_checks;
static int h_failures;
static char h_root[4096];

static inline void h_report(const char *file, int line, const char *what) {
    char msg[512];
    bitask_last_error_message(msg, sizeof msg);
    fprintf(stderr, "FAIL %s:%d: %s (last error message: \"%s\")\n", file, line, what, msg);
    __atomic_add_fetch(&h_failures, 1, __ATOMIC_RELAXED);
}

/* Records a failure and goes on when cond is false. Usable from any thread. */
#define CHECK(cond)                                                                            \
    do {                                                                                       \
        __atomic_add_fetch(&h_checks, 1, __ATOMIC_RELAXED); /* tests may use threads */       \
        if (!(cond))                                                                           \
            h_report(__FILE__, __LINE__, #cond);                                               \
    } while (0)

/* Checks that expr returns the status want. */
#define CHECK_ST(expr, want)                                                                   \
    do {                                                                                       \
        bitask_status h_got_ = (expr);                                                         \
        __atomic_add_fetch(&h_checks, 1, __ATOMIC_RELAXED); /* tests may use threads */       \
        if (h_got_ != (want)) {                                                                \
            char h_what_[512];                                                                 \
            snprintf(h_what_, sizeof h_what_, "%s returned %d (%s), expected %s", #expr,       \
                     (int)h_got_, bitask_strerror((int)h_got_), #want);                        \
            h_report(__FILE__, __LINE__, h_what_);                                             \
        }                                                                                      \
    } while (0)

/* Like CHECK_ST, but leaves the current test function on failure. */
#define REQUIRE_ST(expr, want)                                                                 \
    do {                                                                                       \
        int h_before_ = h_failures;                                                            \
        CHECK_ST(expr, want);                                                                  \
        if (h_failures != h_before_)                                                           \
            return;                                                                            \
    } while (0)

#define KEY(s) (const uint8_t *)(s), strlen(s)

/* A path inside the program's scratch directory; the result lives until the next call with
 * the same slot (0..7). */
static const char *h_path(int slot, const char *name) {
    static char paths[8][4200];
    snprintf(paths[slot & 7], sizeof paths[0], "%s/%s", h_root, name);
    return paths[slot & 7];
}

static inline int h_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void h_rm_tree(const char *path) {
    nftw(path, h_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Makes the scratch directory: argv[1] when given, else a new one under $TMPDIR or /tmp. */
static inline void h_setup(int argc, char **argv) {
    if (argc > 1) {
        snprintf(h_root, sizeof h_root, "%s", argv[1]);
        mkdir(h_root, 0700);
        return;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(h_root, sizeof h_root, "%s/bitask-ctest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(h_root)) {
        perror("mkdtemp");
        exit(2);
    }
}

static inline uint64_t h_fnv(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static inline int h_cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A digest of the names and bytes of the files in dir (not recursive): equal digests
 * before and after a call show that the call wrote nothing. */
static inline uint64_t h_dir_digest(const char *dir) {
    uint64_t h = 1469598103934665603ull;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], h_cmp_names);
    for (size_t i = 0; i < n; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        h = h_fnv(h, names[i], strlen(names[i]) + 1);
        FILE *f = fopen(path, "rb");
        if (f) {
            char buf[8192];
            size_t got;
            while ((got = fread(buf, 1, sizeof buf, f)) > 0)
                h = h_fnv(h, buf, got);
            fclose(f);
        }
        free(names[i]);
    }
    return h;
}

typedef void (*h_test_fn)(void);
struct h_test {
    const char *name;
    h_test_fn fn;
};

/* Runs the tests, removes the scratch directory, prints a summary; the exit status. */
static inline int h_run(const char *program, const struct h_test *tests, size_t count) {
    int failed_tests = 0;
    for (size_t i = 0; i < count; i++) {
        int before = h_failures;
        tests[i].fn();
        int ok = h_failures == before;
        failed_tests += !ok;
        printf("%s %s::%s\n", ok ? "ok  " : "FAIL", program, tests[i].name);
    }
    h_rm_tree(h_root);
    printf("%s: %d checks, %d failed\n", program, h_checks, h_failures);
    printf("%s: %zu passed, %d failed\n", program, count - (size_t)failed_tests, failed_tests);
    fflush(stdout);
    return failed_tests ? 1 : 0;
}

#define H_TEST(fn) {#fn, fn}

#endif /* BITASK_TEST_HARNESS_H */
