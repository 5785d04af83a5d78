/* RocksDB through its C API: default options (create_if_missing), default write options
 * (sync only when durable), rocksdb_get_pinned (no allocation for the value) copied out.
 * Compaction is a full manual compaction (bottommost level included). */
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct db {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_writeoptions_t *wo;
    rocksdb_readoptions_t *ro;
};

static int failed(const char *what, char *err) {
    if (!err) return 0;
    fprintf(stderr, "rocksdb: %s: %s\n", what, err);
    rocksdb_free(err);
    return 1;
}

static void *be_open(const char *dir, const struct be_opts *o) {
    struct db *d = calloc(1, sizeof *d);
    d->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(d->opts, 1);
    d->wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(d->wo, (unsigned char)(o->durable != 0));
    d->ro = rocksdb_readoptions_create();
    char *err = NULL;
    d->db = rocksdb_open(d->opts, dir, &err);
    if (failed("open", err)) return NULL;
    return d;
}

static int be_close(void *p) {
    struct db *d = p;
    rocksdb_close(d->db);
    rocksdb_readoptions_destroy(d->ro);
    rocksdb_writeoptions_destroy(d->wo);
    rocksdb_options_destroy(d->opts);
    free(d);
    return 0;
}

static void *be_ctx_new(void *p) { return p; }
static void be_ctx_free(void *p) { (void)p; }

static int be_put(void *p, const char *k, size_t kl, const char *v, size_t vl) {
    struct db *d = p;
    char *err = NULL;
    rocksdb_put(d->db, d->wo, k, kl, v, vl, &err);
    return failed("put", err) ? BE_ERR : BE_OK;
}

static int be_get(void *p, const char *k, size_t kl, char *buf, size_t cap, size_t *vl) {
    struct db *d = p;
    char *err = NULL;
    rocksdb_pinnableslice_t *s = rocksdb_get_pinned(d->db, d->ro, k, kl, &err);
    if (failed("get", err)) return BE_ERR;
    if (!s) return BE_MISSING;
    size_t len = 0;
    const char *v = rocksdb_pinnableslice_value(s, &len);
    *vl = len;
    memcpy(buf, v, len < cap ? len : cap);
    rocksdb_pinnableslice_destroy(s);
    return BE_OK;
}

static int be_del(void *p, const char *k, size_t kl) {
    struct db *d = p;
    char *err = NULL;
    rocksdb_delete(d->db, d->wo, k, kl, &err);
    return failed("delete", err) ? BE_ERR : BE_OK;
}

static int64_t be_scan(void *p, uint64_t *bytes) {
    struct db *d = p;
    rocksdb_iterator_t *it = rocksdb_create_iterator(d->db, d->ro);
    int64_t n = 0;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t vl;
        rocksdb_iter_value(it, &vl);
        *bytes += vl;
        n++;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    return failed("iterate", err) ? -1 : n;
}

static int64_t be_range(void *p, const char *from, size_t fl, size_t pl, uint64_t limit,
                        uint64_t *bytes) {
    struct db *d = p;
    rocksdb_iterator_t *it = rocksdb_create_iterator(d->db, d->ro);
    int64_t n = 0;
    for (rocksdb_iter_seek(it, from, fl); rocksdb_iter_valid(it) && (uint64_t)n < limit;
         rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl < pl || memcmp(k, from, pl) != 0) break;
        rocksdb_iter_value(it, &vl);
        *bytes += vl;
        n++;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    return failed("iterate", err) ? -1 : n;
}

static int be_compact(void *p, const char *dir) {
    struct db *d = p;
    (void)dir;
    rocksdb_compactoptions_t *co = rocksdb_compactoptions_create();
    rocksdb_compactoptions_set_bottommost_level_compaction(co, 3 /* kForceOptimized */);
    rocksdb_compact_range_opt(d->db, co, NULL, 0, NULL, 0);
    rocksdb_compactoptions_destroy(co);
    return 0;
}

const struct backend bench_backend = {
    .name = "rocksdb",
    .open = be_open,
    .close = be_close,
    .ctx_new = be_ctx_new,
    .ctx_free = be_ctx_free,
    .put = be_put,
    .get = be_get,
    .del = be_del,
    .scan = be_scan,
    .compact = be_compact,
    .notes = "readseq in key order; compaction = full manual compaction (bottommost included)",
    .range = be_range,
};
