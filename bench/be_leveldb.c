/* LevelDB through its C API: default options (create_if_missing), default write options
 * (sync only when durable), leveldb_get (returns a copy, which is copied out and freed).
 * Compaction is leveldb_compact_range over the whole key space. */
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct db {
    leveldb_t *db;
    leveldb_options_t *opts;
    leveldb_writeoptions_t *wo;
    leveldb_readoptions_t *ro;
};

static int failed(const char *what, char *err) {
    if (!err) return 0;
    fprintf(stderr, "leveldb: %s: %s\n", what, err);
    leveldb_free(err);
    return 1;
}

static void *be_open(const char *dir, const struct be_opts *o) {
    struct db *d = calloc(1, sizeof *d);
    d->opts = leveldb_options_create();
    leveldb_options_set_create_if_missing(d->opts, 1);
    d->wo = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(d->wo, (unsigned char)(o->durable != 0));
    d->ro = leveldb_readoptions_create();
    char *err = NULL;
    d->db = leveldb_open(d->opts, dir, &err);
    if (failed("open", err)) return NULL;
    return d;
}

static int be_close(void *p) {
    struct db *d = p;
    leveldb_close(d->db);
    leveldb_readoptions_destroy(d->ro);
    leveldb_writeoptions_destroy(d->wo);
    leveldb_options_destroy(d->opts);
    free(d);
    return 0;
}

static void *be_ctx_new(void *p) { return p; }
static void be_ctx_free(void *p) { (void)p; }

static int be_put(void *p, const char *k, size_t kl, const char *v, size_t vl) {
    struct db *d = p;
    char *err = NULL;
    leveldb_put(d->db, d->wo, k, kl, v, vl, &err);
    return failed("put", err) ? BE_ERR : BE_OK;
}

static int be_get(void *p, const char *k, size_t kl, char *buf, size_t cap, size_t *vl) {
    struct db *d = p;
    char *err = NULL;
    size_t len = 0;
    char *v = leveldb_get(d->db, d->ro, k, kl, &len, &err);
    if (failed("get", err)) return BE_ERR;
    if (!v) return BE_MISSING;
    *vl = len;
    memcpy(buf, v, len < cap ? len : cap);
    leveldb_free(v);
    return BE_OK;
}

static int be_del(void *p, const char *k, size_t kl) {
    struct db *d = p;
    char *err = NULL;
    leveldb_delete(d->db, d->wo, k, kl, &err);
    return failed("delete", err) ? BE_ERR : BE_OK;
}

static int64_t be_scan(void *p, uint64_t *bytes) {
    struct db *d = p;
    leveldb_iterator_t *it = leveldb_create_iterator(d->db, d->ro);
    int64_t n = 0;
    for (leveldb_iter_seek_to_first(it); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t vl;
        leveldb_iter_value(it, &vl);
        *bytes += vl;
        n++;
    }
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    return failed("iterate", err) ? -1 : n;
}

static int64_t be_range(void *p, const char *from, size_t fl, size_t pl, uint64_t limit,
                        uint64_t *bytes) {
    struct db *d = p;
    leveldb_iterator_t *it = leveldb_create_iterator(d->db, d->ro);
    int64_t n = 0;
    for (leveldb_iter_seek(it, from, fl); leveldb_iter_valid(it) && (uint64_t)n < limit;
         leveldb_iter_next(it)) {
        size_t kl, vl;
        const char *k = leveldb_iter_key(it, &kl);
        if (kl < pl || memcmp(k, from, pl) != 0) break;
        leveldb_iter_value(it, &vl);
        *bytes += vl;
        n++;
    }
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    return failed("iterate", err) ? -1 : n;
}

static int be_compact(void *p, const char *dir) {
    struct db *d = p;
    (void)dir;
    leveldb_compact_range(d->db, NULL, 0, NULL, 0);
    return 0;
}

const struct backend bench_backend = {
    .name = "leveldb",
    .open = be_open,
    .close = be_close,
    .ctx_new = be_ctx_new,
    .ctx_free = be_ctx_free,
    .put = be_put,
    .get = be_get,
    .del = be_del,
    .scan = be_scan,
    .compact = be_compact,
    .notes = "readseq in key order; compaction = leveldb_compact_range of all keys",
    .range = be_range,
};
