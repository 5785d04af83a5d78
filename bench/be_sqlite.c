/* SQLite: WAL journal, synchronous=OFF (FULL when durable: WAL synced at every commit), a
 * WITHOUT ROWID table, prepared statements, one implicit transaction per statement (as LMDB
 * gets one transaction per put). Each thread has its own connection, except for durable
 * writes: concurrent writers share one connection under a mutex (SQLite's writers serialize
 * anyway, and its busy handler would sleep milliseconds). Compaction is VACUUM followed by a
 * truncating checkpoint. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct db {
    char *path;
    int durable;
    sqlite3 *conn; /* for setup and compaction */
    struct ctx *shared; /* durable: the one writing context */
    pthread_mutex_t lock;
};

struct ctx {
    sqlite3 *conn;
    sqlite3_stmt *put, *get, *del, *scan, *range;
    pthread_mutex_t *lock; /* set on the shared context */
};

static struct ctx *ctx_make(struct db *d);
static void ctx_destroy(struct ctx *c);

static int fail(sqlite3 *c, const char *what) {
    fprintf(stderr, "sqlite: %s: %s\n", what, c ? sqlite3_errmsg(c) : "?");
    return BE_ERR;
}

static sqlite3 *connect(struct db *d) {
    sqlite3 *c = NULL;
    if (sqlite3_open_v2(d->path, &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        fail(c, "open");
        sqlite3_close(c);
        return NULL;
    }
    sqlite3_busy_timeout(c, 60000);
    const char *setup = d->durable ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                   : "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;";
    if (sqlite3_exec(c, setup, NULL, NULL, NULL) != SQLITE_OK) {
        fail(c, "pragma");
        sqlite3_close(c);
        return NULL;
    }
    return c;
}

static void *be_open(const char *dir, const struct be_opts *o) {
    struct db *d = calloc(1, sizeof *d);
    d->durable = o->durable;
    if (asprintf(&d->path, "%s/kv.sqlite", dir) < 0) return NULL;
    d->conn = connect(d);
    if (!d->conn) return NULL;
    pthread_mutex_init(&d->lock, NULL);
    if (sqlite3_exec(d->conn,
                     "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) "
                     "WITHOUT ROWID",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fail(d->conn, "create table");
        return NULL;
    }
    return d;
}

static int be_close(void *p) {
    struct db *d = p;
    if (d->shared) ctx_destroy(d->shared);
    pthread_mutex_destroy(&d->lock);
    int rc = sqlite3_close(d->conn);
    free(d->path);
    free(d);
    return rc == SQLITE_OK ? 0 : BE_ERR;
}

static void *be_ctx_new(void *p) {
    struct db *d = p;
    if (!d->durable) return ctx_make(d);
    pthread_mutex_lock(&d->lock);
    if (!d->shared) {
        d->shared = ctx_make(d);
        if (d->shared) d->shared->lock = &d->lock;
    }
    pthread_mutex_unlock(&d->lock);
    return d->shared;
}

static struct ctx *ctx_make(struct db *d) {
    struct ctx *c = calloc(1, sizeof *c);
    c->conn = connect(d);
    if (!c->conn) return NULL;
    if (sqlite3_prepare_v3(c->conn, "INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)", -1,
                           SQLITE_PREPARE_PERSISTENT, &c->put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(c->conn, "SELECT v FROM kv WHERE k = ?1", -1,
                           SQLITE_PREPARE_PERSISTENT, &c->get, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(c->conn, "DELETE FROM kv WHERE k = ?1", -1, SQLITE_PREPARE_PERSISTENT,
                           &c->del, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(c->conn, "SELECT k, v FROM kv ORDER BY k", -1,
                           SQLITE_PREPARE_PERSISTENT, &c->scan, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(c->conn, "SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2", -1,
                           SQLITE_PREPARE_PERSISTENT, &c->range, NULL) != SQLITE_OK) {
        fail(c->conn, "prepare");
        return NULL;
    }
    return c;
}

static void be_ctx_free(void *p) {
    struct ctx *c = p;
    if (!c->lock) ctx_destroy(c);
}

static void ctx_destroy(struct ctx *c) {
    sqlite3_finalize(c->put);
    sqlite3_finalize(c->get);
    sqlite3_finalize(c->del);
    sqlite3_finalize(c->scan);
    sqlite3_finalize(c->range);
    sqlite3_close(c->conn);
    free(c);
}

static int be_put(void *p, const char *k, size_t kl, const char *v, size_t vl) {
    struct ctx *c = p;
    if (c->lock) pthread_mutex_lock(c->lock);
    sqlite3_bind_blob(c->put, 1, k, (int)kl, SQLITE_STATIC);
    sqlite3_bind_blob(c->put, 2, v, (int)vl, SQLITE_STATIC);
    int rc = sqlite3_step(c->put);
    sqlite3_reset(c->put);
    if (c->lock) pthread_mutex_unlock(c->lock);
    return rc == SQLITE_DONE ? BE_OK : fail(c->conn, "insert");
}

static int be_get(void *p, const char *k, size_t kl, char *buf, size_t cap, size_t *vl) {
    struct ctx *c = p;
    sqlite3_bind_blob(c->get, 1, k, (int)kl, SQLITE_STATIC);
    int rc = sqlite3_step(c->get), r;
    if (rc == SQLITE_ROW) {
        const void *v = sqlite3_column_blob(c->get, 0);
        size_t len = (size_t)sqlite3_column_bytes(c->get, 0);
        *vl = len;
        memcpy(buf, v, len < cap ? len : cap);
        r = BE_OK;
    } else {
        r = rc == SQLITE_DONE ? BE_MISSING : fail(c->conn, "select");
    }
    sqlite3_reset(c->get);
    return r;
}

static int be_del(void *p, const char *k, size_t kl) {
    struct ctx *c = p;
    sqlite3_bind_blob(c->del, 1, k, (int)kl, SQLITE_STATIC);
    int rc = sqlite3_step(c->del);
    sqlite3_reset(c->del);
    if (rc != SQLITE_DONE) return fail(c->conn, "delete");
    return sqlite3_changes(c->conn) ? BE_OK : BE_MISSING;
}

static int64_t be_scan(void *p, uint64_t *bytes) {
    struct ctx *c = p;
    int64_t n = 0;
    int rc;
    while ((rc = sqlite3_step(c->scan)) == SQLITE_ROW) {
        *bytes += (uint64_t)sqlite3_column_bytes(c->scan, 1);
        n++;
    }
    sqlite3_reset(c->scan);
    return rc == SQLITE_DONE ? n : fail(c->conn, "scan");
}

static int64_t be_range(void *p, const char *from, size_t fl, size_t pl, uint64_t limit,
                        uint64_t *bytes) {
    struct ctx *c = p;
    sqlite3_bind_blob(c->range, 1, from, (int)fl, SQLITE_STATIC);
    sqlite3_bind_int64(c->range, 2, (sqlite3_int64)limit);
    int64_t n = 0;
    int rc;
    while ((rc = sqlite3_step(c->range)) == SQLITE_ROW) {
        const void *k = sqlite3_column_blob(c->range, 0);
        if ((size_t)sqlite3_column_bytes(c->range, 0) < pl || memcmp(k, from, pl) != 0) {
            rc = SQLITE_DONE;
            break;
        }
        *bytes += (uint64_t)sqlite3_column_bytes(c->range, 1);
        n++;
    }
    sqlite3_reset(c->range);
    return rc == SQLITE_DONE ? n : fail(c->conn, "range");
}

static int be_compact(void *p, const char *dir) {
    struct db *d = p;
    (void)dir;
    if (sqlite3_exec(d->conn, "VACUUM; PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL) !=
        SQLITE_OK)
        return fail(d->conn, "vacuum");
    return 0;
}

const struct backend bench_backend = {
    .name = "sqlite",
    .open = be_open,
    .close = be_close,
    .ctx_new = be_ctx_new,
    .ctx_free = be_ctx_free,
    .put = be_put,
    .get = be_get,
    .del = be_del,
    .scan = be_scan,
    .compact = be_compact,
    .notes = "readseq in key order; compaction = VACUUM + wal_checkpoint(TRUNCATE)",
    .range = be_range,
};
