/* The workloads, run by one bench-<store> program (this file linked with one backend).
 *
 *   bench-<store> GROUP --dir DIR [--n N] [--sync-ops M] [--max-seconds S]
 *
 * runs one group of phases on the store kept in DIR and prints one line per figure on
 * standard output, "R <name> <value>", which the bench program collects. Groups, in the order
 * the bench program runs them (later groups use the stores the earlier ones left in DIR):
 *   fillseq  fresh store, N puts in key order
 *   fill     fresh store DIR/main, N puts in random order (each key once), close, bytes on
 *            disk; reopen, N overwrites in random order (each key once): the store is now 50%
 *            garbage; close, and a copy of it to DIR/garbage (untimed)
 *   read     open DIR/main (timed, resident memory after it), readrandom N, readmissing N,
 *            readseq, the scan phases (stores with key order: first key of a full scan,
 *            seek, prefix scans of 100 keys), readrandom N split over 2 threads
 *   compact  compaction of DIR/garbage, as the overwrite left it (the reads on DIR/main may
 *            have made LevelDB and RocksDB compact in the background)
 *   reopen   open DIR/garbage after compaction (timed: the hint-file open for bitask), the
 *            scan phases again (for bitask, on files that all have sorted hints),
 *            deleterandom N
 *   sync     the machine's rate of 116-byte appends + fdatasync, measured here; then 2,000
 *            durable puts from 1 thread, then from 8 threads, each on a fresh store
 *   big      fresh store, N/10 puts of 4 KiB values in random order, reopen (timed),
 *            readrandom N/10; bitask also compacts and reopens (timed, with hint files)
 *   overwrite4  fresh store, N puts, then every key overwritten 4 times, never compacted:
 *            rate, put latency p50/p99/p999 and disk over live bytes; bitask runs it with
 *            its automatic merge off, then on (overwrite_rounds_phase)
 *
 * Phases that only measure (fillseq, the reads, deleterandom, fillsync) stop early after S
 * seconds (default 3) and report the rate of what they did, so the slowest stores do not
 * stretch the run; the phases that build the stores (fillrandom, overwrite, the 4 KiB fill)
 * always complete.
 *
 * Keys are 16 decimal digits (LevelDB's db_bench format); missing keys are 15 digits and an
 * 'x', so they sort between present keys. Values are random bytes (non-compressible) whose
 * first 8 bytes are the key's number, which every read checks. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define KEY_LEN 16
#define SMALL_VALUE 100
#define BIG_VALUE 4096
#define POOL_SPAN (1u << 20)

static const struct backend *B = &bench_backend;
static uint64_t N = 1000000;
static uint64_t SYNC_OPS = 2000;
static double MAX_SECONDS = 3;
static const char *DIR_ROOT;

/* ---------- small helpers ---------- */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread. */
static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void report(const char *name, double v) {
    printf("R %s %.9g\n", name, v);
    fflush(stdout);
}

static void die(const char *what) {
    fprintf(stderr, "bench-%s: %s\n", B->name, what);
    exit(1);
}

static void fmt_key(char *k, uint64_t i) {
    for (int j = KEY_LEN - 1; j >= 0; j--) {
        k[j] = (char)('0' + i % 10);
        i /= 10;
    }
}

static void fmt_missing(char *k, uint64_t i) {
    for (int j = KEY_LEN - 2; j >= 0; j--) {
        k[j] = (char)('0' + i % 10);
        i /= 10;
    }
    k[KEY_LEN - 1] = 'x';
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* A pseudo-random permutation of [0, n) that needs no memory (so it adds nothing to the
 * resident size being measured): a bijection on [0, 2^bits) walked until it lands below n. */
struct perm {
    uint64_t n, mask, seed;
    unsigned bits;
};

static struct perm perm_make(uint64_t n, uint64_t seed) {
    struct perm p = {n, 0, mix64(seed), 1};
    while ((1ull << p.bits) < n) p.bits++;
    p.mask = (1ull << p.bits) - 1;
    return p;
}

static uint64_t perm_step(const struct perm *p, uint64_t x) {
    unsigned b = p->bits;
    x = (x ^ p->seed) & p->mask;
    x = (x * 0x9e3779b97f4a7c15ull) & p->mask;
    x ^= x >> (b / 2 + 1);
    x = (x * 0xbf58476d1ce4e5b9ull) & p->mask;
    x ^= x >> (b / 3 + 1);
    x = (x * 0x94d049bb133111ebull) & p->mask;
    x ^= x >> (b / 2 + 1);
    return x;
}

static uint64_t perm_at(const struct perm *p, uint64_t i) {
    uint64_t x = i;
    do x = perm_step(p, x);
    while (x >= p->n);
    return x;
}

/* xorshift64*: uniform keys for the random reads (with repeats, like db_bench). */
static uint64_t rnd_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t *s, uint64_t n) {
    return (uint64_t)(((unsigned __int128)rnd_next(s) * n) >> 64);
}

/* Random bytes the values are cut from. */
static char *pool_make(size_t value_size) {
    size_t len = POOL_SPAN + value_size + 8;
    char *p = malloc(len);
    if (!p) die("out of memory");
    uint64_t s = 0x1234567887654321ull;
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t r = rnd_next(&s);
        memcpy(p + i, &r, 8);
    }
    return p;
}

/* The value of key number i in version ver: a slice of the pool with i stamped in front.
 * Single-threaded writers stamp the pool in place (no copy); others pass a buffer. */
static const char *value_for(char *pool, char *buf, uint64_t i, uint64_t ver, size_t vs) {
    size_t off = (size_t)(mix64(i * 2 + ver) % POOL_SPAN);
    if (buf) {
        memcpy(buf, pool + off, vs);
        memcpy(buf, &i, 8);
        return buf;
    }
    memcpy(pool + off, &i, 8);
    return pool + off;
}

static int value_ok(const char *v, size_t len, uint64_t i, size_t vs) {
    return len == vs && memcmp(v, &i, 8) == 0;
}

static double status_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    size_t fl = strlen(field);
    double v = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            v = strtod(line + fl + 1, NULL);
            break;
        }
    }
    fclose(f);
    return v;
}

static uint64_t du_total;
static int du_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)path, (void)flag, (void)ftw;
    du_total += (uint64_t)st->st_blocks * 512;
    return 0;
}

/* Bytes allocated on disk under dir. */
static uint64_t disk_usage(const char *dir) {
    du_total = 0;
    nftw(dir, du_one, 16, FTW_PHYS);
    return du_total;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    if (remove(path) != 0 && errno != ENOENT) perror(path);
    return 0;
}

static void rm_rf(const char *dir) {
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Copies the files of directory `from` into the new directory `to` (untimed setup). */
static void copy_dir(const char *from, const char *to) {
    rm_rf(to);
    if (mkdir(to, 0755) != 0) die("mkdir for the copy failed");
    DIR *d = opendir(from);
    if (!d) die("opendir failed");
    struct dirent *e;
    char a[4096], b[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        struct stat st;
        if (lstat(a, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            copy_dir(a, b);
            continue;
        }
        if (!S_ISREG(st.st_mode)) continue;
        int in = open(a, O_RDONLY), out = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0) die("open for the copy failed");
        off_t left = st.st_size;
        while (left > 0) {
            ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
            if (n <= 0) die("copy_file_range failed");
            left -= n;
        }
        close(in);
        close(out);
    }
    closedir(d);
}

static char *path_of(const char *leaf) {
    char *p;
    if (asprintf(&p, "%s/%s", DIR_ROOT, leaf) < 0) die("out of memory");
    return p;
}

static void fresh_dir(const char *dir) {
    rm_rf(dir);
    mkdir(DIR_ROOT, 0755);
    if (mkdir(dir, 0755) != 0) {
        perror(dir);
        exit(1);
    }
}

static void *open_store(const char *dir, int durable, size_t vs, uint64_t n) {
    struct be_opts o = {durable, vs, n, 0};
    void *db = B->open(dir, &o);
    if (!db) die("open failed");
    return db;
}

static void close_store(void *db) {
    if (B->close(db) != 0) die("close failed");
}

static void *ctx_of(void *db) {
    void *c = B->ctx_new(db);
    if (!c) die("ctx_new failed");
    return c;
}

/* ---------- phases ---------- */

/* True when a capped phase that started at t0 has run long enough (checked every 1024 ops). */
static int time_up(uint64_t done, double t0) {
    return (done & 1023) == 0 && now() - t0 > MAX_SECONDS;
}

/* Puts keys perm(i) (or i when sequential) for i in [0, n). Returns ops/s; *done (when not
 * NULL) caps the phase's time and receives the number of puts made. */
static double fill(void *ctx, char *pool, uint64_t n, int sequential, uint64_t seed, uint64_t ver,
                   size_t vs, uint64_t *done) {
    struct perm p = perm_make(n, seed);
    char k[KEY_LEN];
    double t0 = now();
    uint64_t i = 0;
    while (i < n) {
        uint64_t idx = sequential ? i : perm_at(&p, i);
        fmt_key(k, idx);
        const char *v = value_for(pool, NULL, idx, ver, vs);
        if (B->put(ctx, k, KEY_LEN, v, vs) != 0) die("put failed");
        i++;
        if (done && time_up(i, t0)) break;
    }
    if (done) *done = i;
    return (double)i / (now() - t0);
}

/* ops uniform random gets of present keys (capped in time); every one must be found with its
 * value. Returns ops/s; *done and *cpu (when not NULL) receive the gets made and the thread's
 * CPU seconds. */
static double read_random(void *ctx, uint64_t ops, uint64_t n, uint64_t seed, size_t vs,
                          uint64_t *done, double *cpu) {
    char k[KEY_LEN];
    char *buf = malloc(vs + 64);
    uint64_t s = mix64(seed) | 1, bad = 0, i = 0;
    double c0 = thread_cpu();
    double t0 = now();
    while (i < ops) {
        uint64_t idx = rnd_below(&s, n);
        fmt_key(k, idx);
        size_t len = 0;
        int r = B->get(ctx, k, KEY_LEN, buf, vs + 64, &len);
        if (r != BE_OK || !value_ok(buf, len, idx, vs)) bad++;
        i++;
        if (time_up(i, t0)) break;
    }
    double rate = (double)i / (now() - t0);
    if (cpu) *cpu = thread_cpu() - c0;
    if (done) *done = i;
    free(buf);
    if (bad) {
        fprintf(stderr, "bench-%s: readrandom: %llu of %llu reads wrong or missing\n", B->name,
                (unsigned long long)bad, (unsigned long long)ops);
        exit(1);
    }
    return rate;
}

/* Puts of n keys in random order, BATCH_OPS to a batch (B->put_batch); returns puts/s. */
#define BATCH_OPS 100
static double fill_batches(void *ctx, char *pool, uint64_t n, uint64_t seed, size_t vs,
                           uint64_t *done) {
    struct perm p = perm_make(n, seed);
    char keys[BATCH_OPS * KEY_LEN];
    const char *vals[BATCH_OPS];
    double t0 = now();
    uint64_t i = 0;
    while (i < n) {
        size_t m = 0;
        for (; m < BATCH_OPS && i < n; m++, i++) {
            uint64_t idx = perm_at(&p, i);
            fmt_key(keys + m * KEY_LEN, idx);
            vals[m] = value_for(pool, NULL, idx, 0, vs);
        }
        if (B->put_batch(ctx, m, keys, KEY_LEN, vals, vs) != 0) die("batch write failed");
        if (time_up(i, t0)) break;
    }
    *done = i;
    return (double)i / (now() - t0);
}

/* Uniform random reads of present keys, MULTI_KEYS at a time (B->multi_get), every value
 * checked; returns keys/s. */
#define MULTI_KEYS 32
static double read_multi(void *ctx, uint64_t ops, uint64_t n, uint64_t seed, size_t vs) {
    char keys[MULTI_KEYS * KEY_LEN];
    uint64_t idx[MULTI_KEYS];
    size_t cap = MULTI_KEYS * (vs + 64), offs[MULTI_KEYS], lens[MULTI_KEYS];
    char *buf = malloc(cap);
    uint64_t s = mix64(seed) | 1, bad = 0, i = 0;
    double t0 = now();
    while (i < ops) {
        for (int j = 0; j < MULTI_KEYS; j++) {
            idx[j] = rnd_below(&s, n);
            fmt_key(keys + j * KEY_LEN, idx[j]);
        }
        if (B->multi_get(ctx, MULTI_KEYS, keys, KEY_LEN, buf, cap, offs, lens) != 0)
            die("multi_get failed");
        for (int j = 0; j < MULTI_KEYS; j++)
            if (lens[j] == (size_t)-1 || !value_ok(buf + offs[j], lens[j], idx[j], vs)) bad++;
        i += MULTI_KEYS;
        if (time_up(i, t0)) break;
    }
    double rate = (double)i / (now() - t0);
    free(buf);
    if (bad) die("multiget: reads wrong or missing");
    return rate;
}

static double read_missing(void *ctx, uint64_t ops, uint64_t n, uint64_t seed) {
    char k[KEY_LEN], buf[SMALL_VALUE + 64];
    uint64_t s = mix64(seed) | 1, found = 0, i = 0;
    double t0 = now();
    while (i < ops) {
        fmt_missing(k, rnd_below(&s, n));
        size_t len = 0;
        int r = B->get(ctx, k, KEY_LEN, buf, sizeof buf, &len);
        if (r != BE_MISSING) found++;
        i++;
        if (time_up(i, t0)) break;
    }
    double rate = (double)i / (now() - t0);
    if (found) die("readmissing: a missing key was found (or a read failed)");
    return rate;
}

struct reader {
    void *db;
    uint64_t ops, seed, done;
    pthread_barrier_t *start;
    double cpu;
};

static void *reader_main(void *arg) {
    struct reader *r = arg;
    void *ctx = ctx_of(r->db);
    pthread_barrier_wait(r->start);
    read_random(ctx, r->ops, N, r->seed, SMALL_VALUE, &r->done, &r->cpu);
    B->ctx_free(ctx);
    return NULL;
}

/* readrandom of N keys in all, split over `threads` threads; returns total ops/s. *per_cpu
 * receives the rate the threads would reach with a core each (gets per CPU-second of the
 * threads, times the threads: on a busy machine they may not get the cores), *cores the
 * CPU-seconds per second the threads got. */
static double read_threads(void *db, int threads, double *per_cpu, double *cores) {
    pthread_t t[16];
    struct reader r[16];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        r[i] = (struct reader){db, N / (uint64_t)threads, 1000 + (uint64_t)i, 0, &start, 0};
        pthread_create(&t[i], NULL, reader_main, &r[i]);
    }
    pthread_barrier_wait(&start);
    double t0 = now();
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    double el = now() - t0;
    pthread_barrier_destroy(&start);
    uint64_t done = 0;
    double cpu = 0;
    for (int i = 0; i < threads; i++) {
        done += r[i].done;
        cpu += r[i].cpu;
    }
    *per_cpu = (double)done / cpu * threads;
    *cores = cpu / el;
    return (double)done / el;
}

struct writer {
    void *db;
    char *pool;
    uint64_t first, count, done;
    pthread_barrier_t *start;
};

static void *writer_main(void *arg) {
    struct writer *w = arg;
    void *ctx = ctx_of(w->db);
    char k[KEY_LEN], v[SMALL_VALUE];
    pthread_barrier_wait(w->start);
    double t0 = now();
    for (uint64_t i = w->first; i < w->first + w->count; i++) {
        fmt_key(k, i);
        value_for(w->pool, v, i, 0, SMALL_VALUE);
        if (B->put(ctx, k, KEY_LEN, v, SMALL_VALUE) != 0) die("durable put failed");
        w->done++;
        if (now() - t0 > MAX_SECONDS) break;
    }
    B->ctx_free(ctx);
    return NULL;
}

/* SYNC_OPS durable puts from `threads` threads on a fresh store; ops/s. */
static double fill_sync(const char *leaf, int threads) {
    char *dir = path_of(leaf);
    fresh_dir(dir);
    char *pool = pool_make(SMALL_VALUE);
    void *db = open_store(dir, 1, SMALL_VALUE, SYNC_OPS);
    pthread_t t[16];
    struct writer w[16];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    uint64_t per = SYNC_OPS / (uint64_t)threads;
    for (int i = 0; i < threads; i++) {
        w[i] = (struct writer){db, pool, per * (uint64_t)i, per, 0, &start};
        pthread_create(&t[i], NULL, writer_main, &w[i]);
    }
    pthread_barrier_wait(&start);
    double t0 = now();
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    double el = now() - t0;
    pthread_barrier_destroy(&start);
    close_store(db);
    rm_rf(dir);
    free(pool);
    free(dir);
    uint64_t done = 0;
    for (int i = 0; i < threads; i++) done += w[i].done;
    return (double)done / el;
}

/* Opens dir and times it (with the first thread context, which for some stores is where the
 * schema is read). */
static void *timed_open(const char *dir, size_t vs, uint64_t n, void **ctx, double *ms) {
    double t0 = now();
    void *db = open_store(dir, 0, vs, n);
    *ctx = ctx_of(db);
    *ms = (now() - t0) * 1e3;
    return db;
}

/* ---------- groups ---------- */

static void group_fillseq(void) {
    char *dir = path_of("seq");
    fresh_dir(dir);
    char *pool = pool_make(SMALL_VALUE);
    void *db = open_store(dir, 0, SMALL_VALUE, N);
    void *ctx = ctx_of(db);
    uint64_t done;
    report("fillseq", fill(ctx, pool, N, 1, 1, 0, SMALL_VALUE, &done));
    B->ctx_free(ctx);
    close_store(db);
    if (done == N) report("disk_seq_mib", (double)disk_usage(dir) / 1048576.0);
    rm_rf(dir);
    free(pool);
    free(dir);
}

static void group_fill(void) {
    char *dir = path_of("main");
    fresh_dir(dir);
    char *pool = pool_make(SMALL_VALUE);
    /* Both fills start with nothing of earlier phases left to write back: fillbatch ran after
     * the copy of the overwritten store once, and measured that copy's writeback. */
    sync();
    void *db = open_store(dir, 0, SMALL_VALUE, N);
    void *ctx = ctx_of(db);
    /* Each fill also per CPU second of the thread that puts (its system time included): a
     * ratio of the two that other processes on the machine do not move. */
    double c0 = thread_cpu();
    report("fillrandom", fill(ctx, pool, N, 0, 2, 0, SMALL_VALUE, NULL));
    report("fillrandom_cpu", (double)N / (thread_cpu() - c0));
    B->ctx_free(ctx);
    close_store(db);
    report("disk_fill_mib", (double)disk_usage(dir) / 1048576.0);
    if (B->put_batch) {
        char *bdir = path_of("batch");
        fresh_dir(bdir);
        sync();
        db = open_store(bdir, 0, SMALL_VALUE, N);
        ctx = ctx_of(db);
        uint64_t done;
        c0 = thread_cpu();
        report("fillbatch", fill_batches(ctx, pool, N, 2, SMALL_VALUE, &done));
        report("fillbatch_cpu", (double)done / (thread_cpu() - c0));
        B->ctx_free(ctx);
        close_store(db);
        rm_rf(bdir);
        free(bdir);
    }
    db = open_store(dir, 0, SMALL_VALUE, N);
    ctx = ctx_of(db);
    report("overwrite", fill(ctx, pool, N, 0, 3, 1, SMALL_VALUE, NULL));
    B->ctx_free(ctx);
    close_store(db);
    report("disk_overwrite_mib", (double)disk_usage(dir) / 1048576.0);
    char *garbage = path_of("garbage");
    copy_dir(dir, garbage);
    free(garbage);
    free(pool);
    free(dir);
}

/* The ordered-scan phases: the first key of a full scan (ms), seeks (one key each, random
 * positions) and prefix scans of 100 keys (random prefixes of 14 of the 16 digits), as rates;
 * each call makes its own iterator, as a program answering one query would. */
static void scan_phases(void *ctx, const char *suffix) {
    char name[64];
    uint64_t bytes = 0;
    double t0 = now();
    if (B->range(ctx, "", 0, 0, 1, &bytes) != 1) die("range: first key not found");
    snprintf(name, sizeof name, "scan_first%s_ms", suffix);
    report(name, (now() - t0) * 1e3);
    char k[KEY_LEN];
    uint64_t groups = N / 100, done = 0, x = 21;
    t0 = now();
    for (; done < N && (done < 3 || now() - t0 < MAX_SECONDS); done++) {
        x = mix64(x + done);
        fmt_key(k, x % N);
        if (B->range(ctx, k, KEY_LEN, 0, 1, &bytes) != 1) die("range: seek found no key");
    }
    snprintf(name, sizeof name, "seek%s", suffix);
    report(name, (double)done / (now() - t0));
    if (groups == 0) return;
    t0 = now();
    for (done = 0; done < N && (done < 3 || now() - t0 < MAX_SECONDS); done++) {
        x = mix64(x + done);
        fmt_key(k, (x % groups) * 100);
        if (B->range(ctx, k, KEY_LEN, KEY_LEN - 2, 1000, &bytes) != 100)
            die("range: a prefix scan did not find its 100 keys");
    }
    snprintf(name, sizeof name, "prefix100%s", suffix);
    report(name, (double)done / (now() - t0));
}

static void group_read(void) {
    char *dir = path_of("main");
    double base = status_kib("RssAnon"), ms;
    void *ctx;
    void *db = timed_open(dir, SMALL_VALUE, N, &ctx, &ms);
    report("open_ms", ms);
    double anon = status_kib("RssAnon");
    report("rss_peak_open_mib", status_kib("VmHWM") / 1024.0);
    report("rss_anon_open_mib", anon / 1024.0);
    report("anon_bytes_per_key", (anon - base) * 1024.0 / (double)N);
    report("readrandom", read_random(ctx, N, N, 11, SMALL_VALUE, NULL, NULL));
    if (B->multi_get) report("multiget", read_multi(ctx, N, N, 14, SMALL_VALUE));
    report("readmissing", read_missing(ctx, N, N, 12));
    uint64_t bytes = 0;
    double t0 = now();
    int64_t count = B->scan(ctx, &bytes);
    double el = now() - t0;
    if (count != (int64_t)N || bytes != N * SMALL_VALUE) {
        fprintf(stderr, "bench-%s: readseq saw %lld records, %llu value bytes (want %llu)\n",
                B->name, (long long)count, (unsigned long long)bytes, (unsigned long long)N);
        exit(1);
    }
    report("readseq", (double)count / el);
    if (B->range) scan_phases(ctx, "");
    double cpu1;
    uint64_t done1;
    double readrandom_1t_rate = read_random(ctx, N, N, 13, SMALL_VALUE, &done1, &cpu1);
    report("readrandom_1t", readrandom_1t_rate);
    report("readrandom_1t_cpu", (double)done1 / cpu1);
    report("readrandom_1t_cores", cpu1 * readrandom_1t_rate / (double)done1);
    B->ctx_free(ctx);
    double cpu2, cores2;
    report("readrandom_2t", read_threads(db, 2, &cpu2, &cores2));
    report("readrandom_2t_cpu", cpu2);
    report("readrandom_2t_cores", cores2);
    report("rss_peak_end_mib", status_kib("VmHWM") / 1024.0);
    close_store(db);
    rm_rf(dir);
    free(dir);
}

static void group_compact(void) {
    char *dir = path_of("garbage");
    void *db = open_store(dir, 0, SMALL_VALUE, N);
    uint64_t in = disk_usage(dir);
    /* Timed up to the end of close: some stores finish compaction work in the background. */
    double t0 = now();
    if (B->compact(db, dir) != 0) die("compact failed");
    double compact_s = now() - t0;
    close_store(db);
    double el = now() - t0;
    report("compact_call_s", compact_s);
    uint64_t out = disk_usage(dir);
    report("compact_in_mib", (double)in / 1048576.0);
    report("compact_out_mib", (double)out / 1048576.0);
    report("compact_s", el);
    report("compact_mbps", (double)in / 1e6 / el);
    report("compact_out_mbps", (double)out / 1e6 / el);
    free(dir);
}

static void group_reopen(void) {
    char *dir = path_of("garbage");
    double base = status_kib("RssAnon"), ms;
    void *ctx;
    void *db = timed_open(dir, SMALL_VALUE, N, &ctx, &ms);
    report("open_hint_ms", ms);
    double anon = status_kib("RssAnon");
    report("rss_peak_hint_mib", status_kib("VmHWM") / 1024.0);
    report("rss_anon_hint_mib", anon / 1024.0);
    report("anon_bytes_per_key_hint", (anon - base) * 1024.0 / (double)N);
    read_random(ctx, N / 10, N, 21, SMALL_VALUE, NULL, NULL); /* the compacted store reads back right */
    if (B->range) scan_phases(ctx, "_hint"); /* bitask: every file has a sorted hint */
    struct perm p = perm_make(N, 4);
    char k[KEY_LEN];
    double t0 = now();
    uint64_t i = 0;
    while (i < N) {
        fmt_key(k, perm_at(&p, i));
        if (B->del(ctx, k, KEY_LEN) != BE_OK) die("delete failed");
        i++;
        if (time_up(i, t0)) break;
    }
    report("deleterandom", (double)i / (now() - t0));
    B->ctx_free(ctx);
    close_store(db);
    rm_rf(dir);
    free(dir);
}

/* The machine's own durable-append rate, measured here, seconds before the store's fillsync
 * (the disk's flush latency drifts too much over a run to compare with bench/limits' figure):
 * 116-byte appends to a fresh file, each followed by fdatasync. */
static double raw_sync_rate(void) {
    char *dir = path_of("syncref");
    fresh_dir(dir);
    char path[4200], rec[116] = {0};
    snprintf(path, sizeof path, "%s/f", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("open for the fdatasync reference failed");
    uint64_t i = 0;
    double t0 = now();
    while (i < SYNC_OPS) {
        if (write(fd, rec, sizeof rec) != (ssize_t)sizeof rec || fdatasync(fd) != 0)
            die("write + fdatasync failed");
        i++;
        if (now() - t0 > MAX_SECONDS) break;
    }
    double rate = (double)i / (now() - t0);
    close(fd);
    rm_rf(dir);
    free(dir);
    return rate;
}

static void group_sync(void) {
    report("fdatasync_here", raw_sync_rate());
    report("fillsync_1t", fill_sync("sync1", 1));
    report("fillsync_8t", fill_sync("sync8", 8));
}

static void group_big(void) {
    uint64_t n = N / 10 ? N / 10 : 1;
    char *dir = path_of("big");
    fresh_dir(dir);
    char *pool = pool_make(BIG_VALUE);
    void *db = open_store(dir, 0, BIG_VALUE, n);
    void *ctx = ctx_of(db);
    report("fill4k", fill(ctx, pool, n, 0, 5, 0, BIG_VALUE, NULL));
    B->ctx_free(ctx);
    close_store(db);
    report("disk_4k_mib", (double)disk_usage(dir) / 1048576.0);
    double ms;
    db = timed_open(dir, BIG_VALUE, n, &ctx, &ms);
    report("open4k_ms", ms);
    report("read4k", read_random(ctx, n, n, 31, BIG_VALUE, NULL, NULL));
    B->ctx_free(ctx);
    if (strcmp(B->name, "bitask") == 0) {
        if (B->compact(db, dir) != 0) die("compact failed");
        close_store(db);
        db = timed_open(dir, BIG_VALUE, n, &ctx, &ms);
        report("open4k_hint_ms", ms);
        B->ctx_free(ctx);
    }
    close_store(db);
    rm_rf(dir);
    free(pool);
    free(dir);
}

/* ---------- overwrite without compact: the automatic merge ---------- */

/* Put latencies in a log-linear histogram: 32 buckets per power of two of nanoseconds
 * (3% resolution), so percentiles need no per-put memory at any N. */
#define LAT_SUB 32
#define LAT_BUCKETS (64 * LAT_SUB)
struct latency {
    uint64_t count[LAT_BUCKETS];
    uint64_t total;
};

static int lat_bucket(uint64_t ns) {
    if (ns < LAT_SUB) return (int)ns;
    int e = 63 - __builtin_clzll(ns); /* ns in [2^e, 2^(e+1)) */
    int sub = (int)((ns >> (e - 5)) & (LAT_SUB - 1));
    int b = (e - 4) * LAT_SUB + sub;
    return b < LAT_BUCKETS ? b : LAT_BUCKETS - 1;
}

static double lat_bucket_ns(int b) {
    if (b < LAT_SUB) return b;
    int e = b / LAT_SUB + 4, sub = b % LAT_SUB;
    return (double)(((uint64_t)LAT_SUB + sub) << (e - 5));
}

static double lat_percentile(const struct latency *l, double p) {
    uint64_t want = (uint64_t)(p * (double)l->total), seen = 0;
    for (int b = 0; b < LAT_BUCKETS; b++) {
        seen += l->count[b];
        if (seen > want) return lat_bucket_ns(b);
    }
    return 0;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The phase: a fresh store DIR/<leaf>, n puts in random order, then every key overwritten 4
 * times (rounds in random order) without a call to compact, each put timed; reports, with
 * the prefix "<prefix>_": the rate of the overwrites (ops/s), their latency p50/p99/p999
 * (ns), and the bytes on disk over the live records' bytes (n records of key, value and
 * 29-byte header), at the end of the writes and after close. no_auto_merge turns bitask's
 * automatic merge off. Callable at any n (the scale group runs it at 10M). */
void overwrite_rounds_phase(const char *leaf, const char *prefix, uint64_t n, int no_auto_merge) {
    char *dir = path_of(leaf);
    fresh_dir(dir);
    char *pool = pool_make(SMALL_VALUE);
    struct be_opts o = {0, SMALL_VALUE, n, no_auto_merge};
    void *db = B->open(dir, &o);
    if (!db) die("open failed");
    void *ctx = ctx_of(db);
    fill(ctx, pool, n, 0, 7, 0, SMALL_VALUE, NULL);
    struct latency *lat = calloc(1, sizeof *lat);
    if (!lat) die("out of memory");
    char k[KEY_LEN], name[96];
    double t0 = now();
    for (uint64_t round = 1; round <= 4; round++) {
        struct perm p = perm_make(n, 100 + round);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t idx = perm_at(&p, i);
            fmt_key(k, idx);
            const char *v = value_for(pool, NULL, idx, round, SMALL_VALUE);
            uint64_t a = now_ns();
            if (B->put(ctx, k, KEY_LEN, v, SMALL_VALUE) != 0) die("put failed");
            lat->count[lat_bucket(now_ns() - a)]++;
            lat->total++;
        }
    }
    double rate = (double)lat->total / (now() - t0);
    double live = (double)n * (KEY_LEN + SMALL_VALUE + 29);
    snprintf(name, sizeof name, "%s_ops", prefix);
    report(name, rate);
    const struct {
        const char *suffix;
        double p;
    } pct[] = {{"p50_ns", 0.50}, {"p99_ns", 0.99}, {"p999_ns", 0.999}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s_%s", prefix, pct[i].suffix);
        report(name, lat_percentile(lat, pct[i].p));
    }
    snprintf(name, sizeof name, "%s_disk_ratio", prefix);
    report(name, (double)disk_usage(dir) / live);
    B->ctx_free(ctx);
    close_store(db);
    snprintf(name, sizeof name, "%s_disk_ratio_closed", prefix);
    report(name, (double)disk_usage(dir) / live);
    free(lat);
    rm_rf(dir);
    free(pool);
    free(dir);
}

/* overwrite4: the phase with bitask's automatic merge off, then on (other stores: their own
 * background compaction, once). */
static void group_overwrite4(void) {
    if (strcmp(B->name, "bitask") == 0) overwrite_rounds_phase("ow4", "ow4_off", N, 1);
    overwrite_rounds_phase("ow4", "ow4_on", N, 0);
}

static const struct {
    const char *name;
    void (*run)(void);
} GROUPS[] = {
    {"fillseq", group_fillseq}, {"fill", group_fill},     {"read", group_read},
    {"compact", group_compact}, {"reopen", group_reopen}, {"sync", group_sync},
    {"big", group_big},         {"overwrite4", group_overwrite4},
};

static void usage(void) {
    fprintf(stderr, "usage: bench-%s GROUP --dir DIR [--n N] [--sync-ops M] [--max-seconds S]\n"
            "groups:", B->name);
    for (size_t i = 0; i < sizeof GROUPS / sizeof GROUPS[0]; i++)
        fprintf(stderr, " %s", GROUPS[i].name);
    fprintf(stderr, "\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *group = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            DIR_ROOT = argv[++i];
        else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            N = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--sync-ops") == 0 && i + 1 < argc)
            SYNC_OPS = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc)
            MAX_SECONDS = strtod(argv[++i], NULL);
        else if (argv[i][0] != '-' && !group)
            group = argv[i];
        else
            usage();
    }
    if (!group || !DIR_ROOT || N < 10 || SYNC_OPS < 8) usage();
    for (size_t i = 0; i < sizeof GROUPS / sizeof GROUPS[0]; i++) {
        if (strcmp(GROUPS[i].name, group) == 0) {
            GROUPS[i].run();
            return 0;
        }
    }
    usage();
    return 2;
}
