/* LMDB: one write transaction per put (MDB_NOSYNC unless durable); reads in a read
 * transaction kept per thread and reused with mdb_txn_reset / mdb_txn_renew. Compaction is
 * LMDB's compacting copy (mdb_env_copy2 with MDB_CP_COMPACT) swapped in for the file. */
#define _GNU_SOURCE
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

struct db {
    MDB_env *env;
    MDB_dbi dbi;
    unsigned flags;
};

struct ctx {
    struct db *db;
    MDB_txn *rtxn;
};

static int fail(const char *what, int rc) {
    fprintf(stderr, "lmdb: %s: %s\n", what, mdb_strerror(rc));
    return BE_ERR;
}

static int env_open(struct db *d, const char *dir) {
    int rc = mdb_env_create(&d->env);
    if (rc) return fail("env_create", rc);
    mdb_env_set_mapsize(d->env, (size_t)64 << 30);
    mdb_env_set_maxreaders(d->env, 64);
    rc = mdb_env_open(d->env, dir, d->flags, 0644);
    if (rc) return fail("env_open", rc);
    MDB_txn *txn;
    rc = mdb_txn_begin(d->env, NULL, 0, &txn);
    if (rc) return fail("txn_begin", rc);
    rc = mdb_dbi_open(txn, NULL, 0, &d->dbi);
    if (rc) return fail("dbi_open", rc);
    rc = mdb_txn_commit(txn);
    if (rc) return fail("commit", rc);
    return 0;
}

static void *be_open(const char *dir, const struct be_opts *o) {
    struct db *d = calloc(1, sizeof *d);
    d->flags = MDB_NOTLS | (o->durable ? 0 : MDB_NOSYNC);
    if (env_open(d, dir) != 0) {
        free(d);
        return NULL;
    }
    return d;
}

static int be_close(void *p) {
    struct db *d = p;
    mdb_env_close(d->env);
    free(d);
    return 0;
}

static void *be_ctx_new(void *p) {
    struct ctx *c = calloc(1, sizeof *c);
    c->db = p;
    int rc = mdb_txn_begin(c->db->env, NULL, MDB_RDONLY, &c->rtxn);
    if (rc) {
        fail("read txn_begin", rc);
        free(c);
        return NULL;
    }
    mdb_txn_reset(c->rtxn);
    return c;
}

static void be_ctx_free(void *p) {
    struct ctx *c = p;
    mdb_txn_abort(c->rtxn);
    free(c);
}

static int be_put(void *p, const char *k, size_t kl, const char *v, size_t vl) {
    struct ctx *c = p;
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->db->env, NULL, 0, &txn);
    if (rc) return fail("txn_begin", rc);
    MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
    rc = mdb_put(txn, c->db->dbi, &key, &val, 0);
    if (rc) {
        mdb_txn_abort(txn);
        return fail("put", rc);
    }
    rc = mdb_txn_commit(txn);
    return rc ? fail("commit", rc) : 0;
}

static int be_get(void *p, const char *k, size_t kl, char *buf, size_t cap, size_t *vl) {
    struct ctx *c = p;
    int rc = mdb_txn_renew(c->rtxn);
    if (rc) return fail("txn_renew", rc);
    MDB_val key = {kl, (void *)k}, val;
    rc = mdb_get(c->rtxn, c->db->dbi, &key, &val);
    int r;
    if (rc == 0) {
        *vl = val.mv_size;
        memcpy(buf, val.mv_data, val.mv_size < cap ? val.mv_size : cap);
        r = BE_OK;
    } else {
        r = rc == MDB_NOTFOUND ? BE_MISSING : fail("get", rc);
    }
    mdb_txn_reset(c->rtxn);
    return r;
}

static int be_del(void *p, const char *k, size_t kl) {
    struct ctx *c = p;
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->db->env, NULL, 0, &txn);
    if (rc) return fail("txn_begin", rc);
    MDB_val key = {kl, (void *)k};
    rc = mdb_del(txn, c->db->dbi, &key, NULL);
    if (rc) {
        mdb_txn_abort(txn);
        return rc == MDB_NOTFOUND ? BE_MISSING : fail("del", rc);
    }
    rc = mdb_txn_commit(txn);
    return rc ? fail("commit", rc) : BE_OK;
}

static int64_t be_scan(void *p, uint64_t *bytes) {
    struct ctx *c = p;
    int rc = mdb_txn_renew(c->rtxn);
    if (rc) return fail("txn_renew", rc);
    MDB_cursor *cur;
    rc = mdb_cursor_open(c->rtxn, c->db->dbi, &cur);
    if (rc) {
        mdb_txn_reset(c->rtxn);
        return fail("cursor_open", rc);
    }
    MDB_val key, val;
    int64_t n = 0;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        n++;
        *bytes += val.mv_size;
    }
    mdb_cursor_close(cur);
    mdb_txn_reset(c->rtxn);
    return rc == MDB_NOTFOUND ? n : fail("cursor_get", rc);
}

static int64_t be_range(void *p, const char *from, size_t fl, size_t pl, uint64_t limit,
                        uint64_t *bytes) {
    struct ctx *c = p;
    int rc = mdb_txn_renew(c->rtxn);
    if (rc) return fail("txn_renew", rc);
    MDB_cursor *cur;
    rc = mdb_cursor_open(c->rtxn, c->db->dbi, &cur);
    if (rc) {
        mdb_txn_reset(c->rtxn);
        return fail("cursor_open", rc);
    }
    MDB_val key = {fl, (void *)from}, val;
    int64_t n = 0;
    /* LMDB refuses an empty key (MDB_BAD_VALSIZE, in a tree deep enough to search): a scan
     * from the start is MDB_FIRST. */
    MDB_cursor_op first = fl ? MDB_SET_RANGE : MDB_FIRST;
    for (rc = mdb_cursor_get(cur, &key, &val, first); rc == 0 && (uint64_t)n < limit;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if (key.mv_size < pl || memcmp(key.mv_data, from, pl) != 0) break;
        n++;
        *bytes += val.mv_size;
    }
    mdb_cursor_close(cur);
    mdb_txn_reset(c->rtxn);
    return rc == 0 || rc == MDB_NOTFOUND ? n : fail("cursor_get", rc);
}

static int be_compact(void *p, const char *dir) {
    struct db *d = p;
    char tmp[4096], from[4200], to[4200];
    snprintf(tmp, sizeof tmp, "%s.compact", dir);
    mkdir(tmp, 0755);
    int rc = mdb_env_copy2(d->env, tmp, MDB_CP_COMPACT);
    if (rc) return fail("env_copy2", rc);
    mdb_env_close(d->env);
    snprintf(from, sizeof from, "%s/data.mdb", tmp);
    snprintf(to, sizeof to, "%s/data.mdb", dir);
    if (rename(from, to) != 0) {
        perror("lmdb: rename");
        return BE_ERR;
    }
    rmdir(tmp);
    return env_open(d, dir);
}

const struct backend bench_backend = {
    .name = "lmdb",
    .open = be_open,
    .close = be_close,
    .ctx_new = be_ctx_new,
    .ctx_free = be_ctx_free,
    .put = be_put,
    .get = be_get,
    .del = be_del,
    .scan = be_scan,
    .compact = be_compact,
    .notes = "readseq in key order; compaction = compacting copy (mdb_env_copy2 MDB_CP_COMPACT)",
    .range = be_range,
};
