/* bitask through its public C header: default options (4 MiB data files, automatic merge on
 * unless the phase turns it off), sync mode NONE (ALWAYS when durable). Reads use bitask_get_into (one copy, no allocation). Compaction is
 * bitask_compact, which also writes the hint files. */
#include <bitask.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

static int fail(const char *what, bitask_status st) {
    char msg[512];
    bitask_last_error_message(msg, sizeof msg);
    fprintf(stderr, "bitask: %s: %s (%s)\n", what, bitask_strerror((int)st), msg);
    return BE_ERR;
}

static void *be_open(const char *dir, const struct be_opts *o) {
    bitask_options *opts = bitask_options_new();
    if (!opts) return NULL;
    bitask_options_set_sync(opts, o->durable ? BITASK_SYNC_ALWAYS : BITASK_SYNC_NONE);
    if (o->no_auto_merge) bitask_options_set_auto_merge(opts, 0);
    bitask *db = NULL;
    bitask_status st = bitask_open(dir, opts, &db);
    bitask_options_free(opts);
    if (st != BITASK_OK) {
        fail("open", st);
        return NULL;
    }
    return db;
}

static int be_close(void *db) {
    bitask_close(db);
    return 0;
}

static void *be_ctx_new(void *db) { return db; }
static void be_ctx_free(void *ctx) { (void)ctx; }

static int be_put(void *db, const char *k, size_t kl, const char *v, size_t vl) {
    bitask_status st = bitask_put(db, (const uint8_t *)k, kl, (const uint8_t *)v, vl);
    return st == BITASK_OK ? BE_OK : fail("put", st);
}

static int be_get(void *db, const char *k, size_t kl, char *buf, size_t cap, size_t *vl) {
    bitask_status st = bitask_get_into(db, (const uint8_t *)k, kl, (uint8_t *)buf, cap, vl);
    if (st == BITASK_OK) return BE_OK;
    if (st == BITASK_NOT_FOUND) return BE_MISSING;
    return fail("get_into", st);
}

static int be_del(void *db, const char *k, size_t kl) {
    bitask_status st = bitask_remove(db, (const uint8_t *)k, kl);
    if (st == BITASK_OK) return BE_OK;
    if (st == BITASK_NOT_FOUND) return BE_MISSING;
    return fail("remove", st);
}

static int64_t be_scan(void *db, uint64_t *bytes) {
    bitask_iter *it = NULL;
    bitask_status st = bitask_iter_new(db, NULL, 0, &it);
    if (st != BITASK_OK) return fail("iter_new", st);
    const uint8_t *k, *v;
    size_t kl, vl;
    int64_t n = 0;
    while ((st = bitask_iter_next(it, &k, &kl, &v, &vl)) == BITASK_OK) {
        *bytes += vl;
        n++;
    }
    bitask_iter_free(it);
    return st == BITASK_NOT_FOUND ? n : fail("iter_next", st);
}

static int64_t be_range(void *db, const char *from, size_t fl, size_t pl, uint64_t limit,
                        uint64_t *bytes) {
    bitask_iter *it = NULL;
    bitask_status st = bitask_iter_new_range(db, (const uint8_t *)from, pl,
                                             (const uint8_t *)from, fl, NULL, 0, 0, &it);
    if (st != BITASK_OK) return fail("iter_new_range", st);
    const uint8_t *k, *v;
    size_t kl, vl;
    int64_t n = 0;
    while ((uint64_t)n < limit && (st = bitask_iter_next(it, &k, &kl, &v, &vl)) == BITASK_OK) {
        *bytes += vl;
        n++;
    }
    bitask_iter_free(it);
    return st == BITASK_OK || st == BITASK_NOT_FOUND ? n : fail("iter_next", st);
}

static int be_compact(void *db, const char *dir) {
    (void)dir;
    bitask_status st = bitask_compact(db);
    return st == BITASK_OK ? 0 : fail("compact", st);
}

/* One batch per thread, reused: bitask_batch_clear keeps its memory. */
static __thread bitask_batch *thread_batch;

static int be_put_batch(void *db, size_t n, const char *keys, size_t kl, const char *const *vals,
                        size_t vl) {
    if (!thread_batch && !(thread_batch = bitask_batch_new())) return fail("batch_new", BITASK_ERR_IO);
    bitask_batch_clear(thread_batch);
    for (size_t i = 0; i < n; i++) {
        bitask_status st = bitask_batch_put(thread_batch, (const uint8_t *)keys + i * kl, kl,
                                            (const uint8_t *)vals[i], vl);
        if (st != BITASK_OK) return fail("batch_put", st);
    }
    bitask_status st = bitask_write(db, thread_batch, 0);
    return st == BITASK_OK ? BE_OK : fail("write", st);
}

static int be_multi_get(void *db, size_t n, const char *keys, size_t kl, char *buf, size_t cap,
                        size_t *offs, size_t *lens) {
    size_t key_lens[256] = {0};
    bitask_status sts[256];
    if (n > 256) return fail("multi_get", BITASK_ERR_INVALID_ARGUMENT);
    for (size_t i = 0; i < n; i++) key_lens[i] = kl;
    bitask_status st = bitask_multi_get(db, n, (const uint8_t *)keys, key_lens, (uint8_t *)buf,
                                        cap, offs, lens, sts);
    if (st != BITASK_OK) return fail("multi_get", st);
    for (size_t i = 0; i < n; i++)
        if (sts[i] != BITASK_OK) lens[i] = (size_t)-1;
    return BE_OK;
}

const struct backend bench_backend = {
    .name = "bitask",
    .open = be_open,
    .close = be_close,
    .ctx_new = be_ctx_new,
    .ctx_free = be_ctx_free,
    .put = be_put,
    .get = be_get,
    .del = be_del,
    .scan = be_scan,
    .compact = be_compact,
    .notes = "readseq in key order; compaction = bitask_compact (writes hint files)",
    .put_batch = be_put_batch,
    .multi_get = be_multi_get,
    .range = be_range,
};
