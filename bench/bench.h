/* The interface every store's backend implements, and helpers shared by the benchmark's
 * programs. One backend is linked into each bench-<store> program, so a child process holds
 * exactly one store and its peak RSS is that store's alone. */
#ifndef BITASK_BENCH_H
#define BITASK_BENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How a store is opened. */
struct be_opts {
    int durable;       /* 1: every put is on stable storage when it returns */
    size_t value_size; /* size of the values the phase writes (a hint; stores may ignore it) */
    uint64_t n;        /* keys the phase works with (a hint) */
    int no_auto_merge; /* 1: no background merging (bitask's auto-merge off; others ignore it) */
};

/* Results of get and del. */
enum { BE_OK = 0, BE_MISSING = 1, BE_ERR = -1 };

/* A store. `db` is one open store; `ctx` is one thread's handle on it (made by ctx_new on
 * the thread that uses it). Functions print their own error messages to stderr. */
struct backend {
    const char *name;
    /* Opens (creating when absent) the store in directory `dir` (which exists). */
    void *(*open)(const char *dir, const struct be_opts *o);
    /* Closes the store; 0 on success. Every ctx is freed before. */
    int (*close)(void *db);
    void *(*ctx_new)(void *db);
    void (*ctx_free)(void *ctx);
    int (*put)(void *ctx, const char *k, size_t kl, const char *v, size_t vl);
    /* Copies the value into buf (cap bytes) and sets *vl; BE_OK, BE_MISSING or BE_ERR. */
    int (*get)(void *ctx, const char *k, size_t kl, char *buf, size_t cap, size_t *vl);
    /* BE_OK, BE_MISSING or BE_ERR. */
    int (*del)(void *ctx, const char *k, size_t kl);
    /* Visits every record in the store's own iteration order; returns the count (or -1) and
     * adds the value bytes seen to *bytes. */
    int64_t (*scan)(void *ctx, uint64_t *bytes);
    /* Reclaims the space of overwritten and deleted records; 0 on success. */
    int (*compact)(void *db, const char *dir);
    /* What its iteration order is, and what compact does, for the report. */
    const char *notes;
    /* Optional (NULL: the phase is skipped). Puts n records atomically, as one batch: key i
     * is the kl bytes at keys + i * kl, its value the vl bytes at vals[i]. 0 on success. */
    int (*put_batch)(void *ctx, size_t n, const char *keys, size_t kl, const char *const *vals,
                     size_t vl);
    /* Optional. Gets n keys at once (key i: the kl bytes at keys + i * kl) into buf (cap
     * bytes); lens[i] receives value i's length, (size_t)-1 when missing, and offs[i] where
     * it is in buf. 0 on success. */
    int (*multi_get)(void *ctx, size_t n, const char *keys, size_t kl, char *buf, size_t cap,
                     size_t *offs, size_t *lens);
    /* Ordered scans; NULL for a store without key order. Visits, in key order, the records
     * from the first key >= from (fl bytes) on whose keys start with the first pl bytes of
     * from (pl <= fl; 0: any key), at most limit of them; returns the count (or -1) and adds
     * the value bytes seen to *bytes. Each call makes its own iterator. */
    int64_t (*range)(void *ctx, const char *from, size_t fl, size_t pl, uint64_t limit,
                     uint64_t *bytes);
};

extern const struct backend bench_backend;

/* Overwrites every key of a fresh store of n keys 4 times without compacting (workload.c;
 * the scale group calls it at 10M keys too). */
void overwrite_rounds_phase(const char *leaf, const char *prefix, uint64_t n, int no_auto_merge);

#ifdef __cplusplus
}
#endif

#endif
