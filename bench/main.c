/* The benchmark driver: runs bench/limits and every store's bench-<store> program, one
 * process per store per group of phases (so each store's peak RSS is its own), repeats the
 * whole run, and prints one Markdown report: the table of medians, the machine's limits, and
 * the targets of the performance issue with their measured ratios.
 *
 *   bench [--n N] [--repeat R] [--dir DIR] [--stores a,b] [--groups g,h] [--sync-ops M]
 *         [--max-seconds S] [--out FILE] [--raw FILE] [--quick-limits] [--commit ID]
 *
 * --out writes the report (also printed), --raw every figure of every run as TSV.
 *
 * Defaults come from the environment when set: BENCH_N (1000000), BENCH_REPEAT (3),
 * BENCH_DIR (bench/data), BENCH_STORES (all built), BENCH_GROUPS (all).
 *
 * Ratios are taken within one run (the stores run back to back, group by group, so drift of
 * the machine's speed between runs cancels) and the report gives the median over the runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REP 15
#define MAX_METRICS 96

static const struct {
    const char *name, *package;
} STORES[] = {
    {"bitask", "libbitask (cargo build --release)"},
    {"lmdb", "liblmdb-dev"},
    {"leveldb", "libleveldb-dev"},
    {"rocksdb", "librocksdb-dev"},
    {"sqlite", "libsqlite3-dev"},
    {"tkrzw", "libtkrzw-dev"},
};
#define NSTORES (int)(sizeof STORES / sizeof STORES[0])
#define LIMITS NSTORES /* the slot of bench/limits' figures */

static const char *GROUPS[] = {"fillseq", "fill",  "read", "compact",
                               "reopen",  "sync",  "big",  "overwrite4"};
#define NGROUPS (int)(sizeof GROUPS / sizeof GROUPS[0])

struct metric {
    char name[64];
    double v[NSTORES + 1][MAX_REP];
    unsigned char have[NSTORES + 1][MAX_REP];
};
static struct metric METRICS[MAX_METRICS];
static int NMETRICS;

static int ENABLED[NSTORES];
static int GROUP_ON[NGROUPS];
static unsigned long long N = 1000000, SYNC_OPS = 2000;
static int REPEAT = 3, QUICK_LIMITS;
static const char *MAX_SECONDS = "3";
static const char *DATA_DIR = "bench/data", *OUT, *COMMIT, *RAW;
static char BIN_DIR[PATH_MAX];
static int RUNS_DONE;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct metric *metric(const char *name, int create) {
    for (int i = 0; i < NMETRICS; i++)
        if (strcmp(METRICS[i].name, name) == 0) return &METRICS[i];
    if (!create || NMETRICS == MAX_METRICS) return NULL;
    struct metric *m = &METRICS[NMETRICS++];
    snprintf(m->name, sizeof m->name, "%s", name);
    return m;
}

static int have(int slot, const char *name, int rep) {
    struct metric *m = metric(name, 0);
    return m && m->have[slot][rep];
}

static double val(int slot, const char *name, int rep) {
    return metric(name, 0)->v[slot][rep];
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *xs, int n) {
    qsort(xs, (size_t)n, sizeof *xs, cmp_double);
    return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

/* Median over the runs of one figure; 0 when it was never measured. */
static int med(int slot, const char *name, double *out) {
    double xs[MAX_REP];
    int n = 0;
    for (int r = 0; r < RUNS_DONE; r++)
        if (have(slot, name, r)) xs[n++] = val(slot, name, r);
    if (!n) return 0;
    *out = median(xs, n);
    return 1;
}

/* Median over the runs of a/b (both from the same run). */
static int med_ratio(int sa, const char *a, int sb, const char *b, double *out) {
    double xs[MAX_REP];
    int n = 0;
    for (int r = 0; r < RUNS_DONE; r++)
        if (have(sa, a, r) && have(sb, b, r) && val(sb, b, r) > 0)
            xs[n++] = val(sa, a, r) / val(sb, b, r);
    if (!n) return 0;
    *out = median(xs, n);
    return 1;
}

/* Runs a program, collecting its "<tag> name value" lines into slot `slot` of run `rep`. */
static int run_child(char *const argv[], char tag, int slot, int rep) {
    int pfd[2];
    if (pipe(pfd) != 0) {
        perror("pipe");
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execv(argv[0], argv);
        fprintf(stderr, "bench: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    FILE *f = fdopen(pfd[0], "r");
    char line[512], name[64];
    double v;
    while (fgets(line, sizeof line, f)) {
        char t;
        if (sscanf(line, "%c %63s %lf", &t, name, &v) == 3 && t == tag) {
            struct metric *m = metric(name, 1);
            if (m) {
                m->v[slot][rep] = v;
                m->have[slot][rep] = 1;
            }
        } else {
            fputs(line, stderr);
        }
    }
    fclose(f);
    int status;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    fprintf(stderr, "bench: %s %s failed (%s %d)\n", argv[0], argv[1] ? argv[1] : "",
            WIFSIGNALED(status) ? "signal" : "exit",
            WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    return -1;
}

static int split_has(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: bench [--n N] [--repeat R] [--dir DIR] [--stores a,b] [--groups g,h]\n"
            "             [--sync-ops M] [--max-seconds S] [--out FILE] [--raw FILE]\n"
            "             [--quick-limits] [--commit ID]\n");
    exit(2);
}

/* ---------- the report ---------- */

static FILE *OUTF;
static void out(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (OUTF) {
        va_start(ap, fmt);
        vfprintf(OUTF, fmt, ap);
        va_end(ap);
    }
}

static void read_first(const char *path, const char *prefix, char *buf, size_t cap) {
    snprintf(buf, cap, "?");
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[1024];
    size_t pl = strlen(prefix);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, prefix, pl) == 0) {
            char *p = line + pl;
            if (*prefix) {
                p = strchr(line, ':');
                p = p ? p + 1 : line;
            }
            while (*p == ' ' || *p == '\t') p++;
            size_t l = strcspn(p, "\n");
            if (l >= cap) l = cap - 1;
            memcpy(buf, p, l);
            buf[l] = 0;
            break;
        }
    }
    fclose(f);
}

/* File system type of the mount holding dir (longest mount point that prefixes it). */
static void fs_of(const char *dir, char *buf, size_t cap) {
    char real[PATH_MAX];
    snprintf(buf, cap, "?");
    if (!realpath(dir, real)) return;
    FILE *f = fopen("/proc/mounts", "r");
    if (!f) return;
    char dev[512], mnt[1024], type[64];
    size_t best = 0;
    while (fscanf(f, "%511s %1023s %63s %*[^\n]", dev, mnt, type) == 3) {
        size_t ml = strlen(mnt);
        int match = strcmp(mnt, "/") == 0 ||
                    (strncmp(real, mnt, ml) == 0 && (real[ml] == '/' || real[ml] == 0));
        if (match && ml >= best) {
            best = ml;
            snprintf(buf, cap, "%.60s (%.300s on %.300s)", type, dev, mnt);
        }
    }
    fclose(f);
}

/* RATE: ops/s (shown as µs/op); REF: a rate shown for reference, without ratios. */
enum kind { RATE, REF, MS, MIB, MBPS, PERKEY, PLAIN };

struct row {
    const char *metric, *label;
    enum kind kind;
    const char *limit; /* which limit the bitask figure is read against */
};

static const struct row ROWS[] = {
    {"fillseq", "fillseq", RATE, "write"},
    {"fillrandom", "fillrandom", RATE, "write"},
    {"fillbatch", "fillbatch (random keys, 100 puts a batch; puts/s)", RATE, "write"},
    {"fillrandom_cpu", "  fillrandom per CPU second of the putting thread", RATE, NULL},
    {"fillbatch_cpu", "  fillbatch per CPU second of the putting thread", RATE, NULL},
    {"overwrite", "overwrite", RATE, "write"},
    {"readrandom", "readrandom (after close + reopen)", RATE, "pread"},
    {"multiget", "multiget (32 random keys a call; keys/s)", RATE, "pread"},
    {"readmissing", "readmissing", RATE, "pread"},
    {"readseq", "readseq (ordered iteration)", RATE, NULL},
    {"scan_first_ms", "ordered scan: first key, ms", MS, NULL},
    {"seek", "seek (a new iterator at a random key, 1 key read)", RATE, NULL},
    {"prefix100", "prefix scan of 100 keys (a new iterator each)", RATE, NULL},
    {"scan_first_hint_ms", "ordered scan after compaction: first key, ms", MS, NULL},
    {"seek_hint", "seek after compaction", RATE, NULL},
    {"prefix100_hint", "prefix scan of 100 keys after compaction", RATE, NULL},
    {"readrandom_1t", "readrandom, 1 thread (2nd pass)", RATE, "pread"},
    {"readrandom_2t", "readrandom, 2 threads (total)", RATE, "pread2"},
    {"readrandom_1t_cores", "  cores the 1 reading thread got (CPU-s per s)", PLAIN, NULL},
    {"readrandom_2t_cores", "  cores the 2 reading threads got (CPU-s per s)", PLAIN, NULL},
    {"readrandom_2t_cpu", "  readrandom, 2 threads, with a core each (from CPU time)", RATE, NULL},
    {"deleterandom", "deleterandom", RATE, "write"},
    {"fdatasync_here", "  116-byte append + fdatasync, just before fillsync", REF, NULL},
    {"fillsync_1t", "fillsync, 1 thread", RATE, "fsync"},
    {"fillsync_8t", "fillsync, 8 threads (total)", RATE, "fsync"},
    {"fill4k", "fillrandom, 4 KiB values, N/10", RATE, "memcpy4k"},
    {"read4k", "readrandom, 4 KiB values, N/10", RATE, "memcpy4k"},
    {"compact_mbps", "compaction of the 50%-garbage store, MB/s of input", MBPS, "seqwrite"},
    {"compact_out_mbps", "compaction, MB/s written", MBPS, "seqwrite"},
    {"open_ms", "open, no hint files, ms", MS, NULL},
    {"open_hint_ms", "open after compaction (hint files), ms", MS, NULL},
    {"open4k_ms", "open of the 4 KiB store, ms", MS, NULL},
    {"open4k_hint_ms", "open of the 4 KiB store after compaction, ms", MS, NULL},
    {"rss_peak_open_mib", "peak RSS after open, MiB", MIB, NULL},
    {"rss_anon_open_mib", "anonymous RSS after open, MiB", MIB, NULL},
    {"anon_bytes_per_key", "anonymous memory per key after open, B (key included)", PERKEY, NULL},
    {"rss_anon_hint_mib", "anonymous RSS after open with hint files, MiB", MIB, NULL},
    {"rss_peak_end_mib", "peak RSS after the read phases, MiB", MIB, NULL},
    {"disk_seq_mib", "disk after fillseq, MiB", MIB, NULL},
    {"disk_fill_mib", "disk after fillrandom, MiB", MIB, NULL},
    {"disk_overwrite_mib", "disk after overwrite (50% garbage), MiB", MIB, NULL},
    {"compact_out_mib", "disk after compaction, MiB", MIB, NULL},
    {"disk_4k_mib", "disk after 4 KiB fillrandom, MiB", MIB, NULL},
    {"ow4_off_ops", "overwrite ×4, no compact: bitask's auto-merge off", RATE, "write"},
    {"ow4_on_ops", "overwrite ×4, no compact: auto-merge on (others: as they are)", RATE, "write"},
    {"ow4_off_p99_ns", "  put p99, auto-merge off, ns", PLAIN, NULL},
    {"ow4_on_p50_ns", "  put p50, auto-merge on, ns", PLAIN, NULL},
    {"ow4_on_p99_ns", "  put p99, auto-merge on, ns", PLAIN, NULL},
    {"ow4_on_p999_ns", "  put p999, auto-merge on, ns", PLAIN, NULL},
    {"ow4_off_disk_ratio", "  disk / live bytes at the end, auto-merge off", PLAIN, NULL},
    {"ow4_on_disk_ratio", "  disk / live bytes at the end, auto-merge on", PLAIN, NULL},
};
#define NROWS (int)(sizeof ROWS / sizeof ROWS[0])

/* The bitask figure of one run divided by its limit: how far from the machine's cost. */
static int limit_fraction(const char *metric_name, const char *lim, int rep, double *out) {
    if (!have(0, metric_name, rep)) return 0;
    double b = val(0, metric_name, rep), l;
    if (strcmp(lim, "write") == 0 && have(LIMITS, "write116_us", rep))
        l = 1e6 / val(LIMITS, "write116_us", rep);
    else if (strcmp(lim, "pread") == 0 && have(LIMITS, "pread100_us", rep))
        l = 1e6 / val(LIMITS, "pread100_us", rep);
    else if (strcmp(lim, "pread2") == 0 && have(LIMITS, "pread100_us", rep))
        l = 2e6 / val(LIMITS, "pread100_us", rep);
    else if (strcmp(lim, "fsync") == 0 && have(0, "fdatasync_here", rep))
        l = val(0, "fdatasync_here", rep); /* measured by bench-bitask just before */
    else if (strcmp(lim, "memcpy4k") == 0 && have(LIMITS, "memcpy_gbps", rep))
        l = val(LIMITS, "memcpy_gbps", rep) * 1e9 / 4096;
    else if (strcmp(lim, "seqwrite") == 0 && have(LIMITS, "seqwrite_mbps", rep))
        l = val(LIMITS, "seqwrite_mbps", rep);
    else
        return 0;
    *out = b / l;
    return 1;
}

static const char *limit_name(const char *lim) {
    if (strcmp(lim, "write") == 0) return "write()";
    if (strcmp(lim, "pread") == 0) return "pread()";
    if (strcmp(lim, "pread2") == 0) return "2×pread()";
    if (strcmp(lim, "fsync") == 0) return "fdatasync";
    if (strcmp(lim, "memcpy4k") == 0) return "memcpy";
    if (strcmp(lim, "seqwrite") == 0) return "seq. write";
    return lim;
}

static void fmt_num(char *buf, size_t cap, double v) {
    if (v >= 1e5)
        snprintf(buf, cap, "%.0f", v);
    else if (v >= 100)
        snprintf(buf, cap, "%.1f", v);
    else if (v >= 1)
        snprintf(buf, cap, "%.2f", v);
    else
        snprintf(buf, cap, "%.3f", v);
}

static void print_table(void) {
    int cols[NSTORES], nc = 0;
    for (int s = 1; s < NSTORES; s++)
        if (ENABLED[s]) cols[nc++] = s;
    out("| workload | bitask ops/s | bitask µs/op | bitask ÷ limit |");
    for (int i = 0; i < nc; i++) out(" %s | × |", STORES[cols[i]].name);
    out("\n|---|---:|---:|---:|");
    for (int i = 0; i < nc; i++) out("---:|---:|");
    out("\n");
    for (int r = 0; r < NROWS; r++) {
        const struct row *row = &ROWS[r];
        int any = 0;
        for (int s = 0; s < NSTORES; s++) {
            double x;
            if (ENABLED[s] && med(s, row->metric, &x)) any = 1;
        }
        if (!any) continue;
        char a[32] = "", b[32] = "–", c[48] = "";
        double x;
        if (ENABLED[0] && med(0, row->metric, &x)) {
            if (row->kind == RATE || row->kind == REF) {
                fmt_num(a, sizeof a, x);
                fmt_num(b, sizeof b, 1e6 / x);
            } else {
                fmt_num(b, sizeof b, x);
            }
        }
        if (row->limit) {
            double xs[MAX_REP];
            int n = 0;
            for (int rep = 0; rep < RUNS_DONE; rep++)
                if (limit_fraction(row->metric, row->limit, rep, &xs[n])) n++;
            if (n) snprintf(c, sizeof c, "%.2f %s", median(xs, n), limit_name(row->limit));
        }
        out("| %s | %s | %s | %s |", row->label, a, b, c);
        for (int i = 0; i < nc; i++) {
            int s = cols[i];
            char p[32] = "–", q[32] = "–";
            int rate = row->kind == RATE || row->kind == REF;
            if (med(s, row->metric, &x)) fmt_num(p, sizeof p, rate ? 1e6 / x : x);
            double ratio;
            int ok = 0;
            if (ENABLED[0]) {
                if (row->kind == RATE || row->kind == MBPS)
                    ok = med_ratio(0, row->metric, s, row->metric, &ratio);
                else if (row->kind != PERKEY && row->kind != PLAIN && row->kind != REF)
                    ok = med_ratio(s, row->metric, 0, row->metric, &ratio);
            }
            if (ok) snprintf(q, sizeof q, "%.2f", ratio);
            out(" %s | %s |", p, q);
        }
        out("\n");
    }
}

/* ---------- targets ---------- */

enum tkind { VS_PEER, VS_SELF, VS_LIMIT, ABSOLUTE };

struct target {
    const char *label;
    enum tkind kind;
    const char *metric; /* bitask's figure */
    const char *other;  /* the peer's name, another bitask figure, or a limit */
    double scale;       /* ABSOLUTE: multiplies the figure */
    int at_most;        /* the figure must be <= threshold (else >=) */
    double threshold;
};

static const struct target TARGETS[] = {
    {"readrandom ≥ 2× LMDB", VS_PEER, "readrandom", "lmdb", 1, 0, 2},
    {"readrandom ≥ 1.5× tkrzw", VS_PEER, "readrandom", "tkrzw", 1, 0, 1.5},
    {"readmissing ≥ 2× tkrzw", VS_PEER, "readmissing", "tkrzw", 1, 0, 2},
    {"fillrandom ≥ 1.5× tkrzw", VS_PEER, "fillrandom", "tkrzw", 1, 0, 1.5},
    {"fillrandom ≥ 5× LevelDB", VS_PEER, "fillrandom", "leveldb", 1, 0, 5},
    {"overwrite ≥ 1.5× tkrzw", VS_PEER, "overwrite", "tkrzw", 1, 0, 1.5},
    {"overwrite ≥ 5× LevelDB", VS_PEER, "overwrite", "leveldb", 1, 0, 5},
    {"4 KiB fillrandom ≥ 2× tkrzw", VS_PEER, "fill4k", "tkrzw", 1, 0, 2},
    {"4 KiB readrandom ≥ 1× LMDB", VS_PEER, "read4k", "lmdb", 1, 0, 1},
    {"fillsync 1 thread ≥ 0.9× the fdatasync rate (measured just before)", VS_SELF,
     "fillsync_1t", "fdatasync_here", 1, 0, 0.9},
    {"fillsync 8 threads ≥ 4× 1 thread", VS_SELF, "fillsync_8t", "fillsync_1t", 1, 0, 4},
    {"multiget of 32 keys ≥ 2× readrandom (keys/s)", VS_SELF, "multiget", "readrandom", 1, 0, 2},
    {"fillbatch (100 puts a batch) ≥ 1× fillrandom: a batch is faster (puts/s)", VS_SELF,
     "fillbatch", "fillrandom", 1, 0, 1},
    {"  the same per CPU second of the putting thread", VS_SELF, "fillbatch_cpu",
     "fillrandom_cpu", 1, 0, 1},
    {"readrandom 2 threads ≥ 1.8× 1 thread", VS_SELF, "readrandom_2t", "readrandom_1t", 1, 0,
     1.8},
    {"  the same from CPU time (as if each thread had a core)", VS_SELF,
     "readrandom_2t_cpu", "readrandom_1t_cpu", 1, 0, 1.8},
    {"open with hint files ≤ 100 ms per 1M keys (ms)", ABSOLUTE, "open_hint_ms", NULL, 0, 1, 100},
    {"open with hint files, 4 KiB values ≤ 100 ms per 1M keys (ms)", ABSOLUTE, "open4k_hint_ms",
     NULL, 0, 1, 100},
    {"anonymous RSS after opening 1M keys ≤ 48 MiB (MiB)", ABSOLUTE, "rss_anon_open_mib", NULL,
     1, 1, 48},
    {"key directory ≤ 32 B per key beyond its 16-byte key (B)", ABSOLUTE, "anon_bytes_per_key",
     NULL, 1, 1, 32},
    {"compaction ≥ 0.5× sequential write bandwidth (input MB/s)", VS_LIMIT, "compact_mbps",
     "seqwrite_mbps", 1, 0, 0.5},
    {"overwrite ×4 with auto-merge ≥ 0.7× without", VS_SELF, "ow4_on_ops", "ow4_off_ops", 1, 0,
     0.7},
    {"  its put p99 ≤ 2× without", VS_SELF, "ow4_on_p99_ns", "ow4_off_p99_ns", 1, 1, 2},
    {"  disk / live bytes after it ≤ 2 (×)", ABSOLUTE, "ow4_on_disk_ratio", NULL, 1, 1, 2},
};
#define NTARGETS (int)(sizeof TARGETS / sizeof TARGETS[0])

static int store_slot(const char *name) {
    for (int s = 0; s < NSTORES; s++)
        if (strcmp(STORES[s].name, name) == 0) return s;
    return -1;
}

/* The figure a target is judged on, in run `rep`. */
static int target_run(const struct target *g, int rep, double *x) {
    const char *a = g->metric;
    switch (g->kind) {
    case VS_PEER: {
        int s = store_slot(g->other);
        if (!ENABLED[s] || !have(0, a, rep) || !have(s, a, rep) || val(s, a, rep) <= 0) return 0;
        *x = val(0, a, rep) / val(s, a, rep);
        return 1;
    }
    case VS_SELF:
    case VS_LIMIT: {
        int s = g->kind == VS_SELF ? 0 : LIMITS;
        if (!have(0, a, rep) || !have(s, g->other, rep) || val(s, g->other, rep) <= 0) return 0;
        *x = val(0, a, rep) / val(s, g->other, rep);
        return 1;
    }
    case ABSOLUTE:
        if (!have(0, a, rep)) return 0;
        *x = val(0, a, rep);
        if (strcmp(a, "rss_anon_open_mib") == 0) {
            /* Anonymous RSS at another N: the per-key part scaled to 1M keys. */
            if (N != 1000000 && have(0, "anon_bytes_per_key", rep))
                *x += val(0, "anon_bytes_per_key", rep) * (1e6 - (double)N) / 1048576.0;
        } else if (strcmp(a, "anon_bytes_per_key") == 0) {
            *x -= 16; /* beyond the key's own bytes */
        } else {
            /* Open times scale with the keys opened: reported per 1M keys. */
            double keys = strcmp(a, "open4k_hint_ms") == 0 ? (double)(N / 10) : (double)N;
            *x *= g->scale ? g->scale : 1e6 / keys;
        }
        return 1;
    }
    return 0;
}

static void print_targets(void) {
    out("| target | measured (median) | needed | | each run |\n|---|---:|---:|---|---|\n");
    for (int t = 0; t < NTARGETS; t++) {
        const struct target *g = &TARGETS[t];
        double xs[MAX_REP];
        char runs[256] = "";
        int n = 0;
        for (int rep = 0; rep < RUNS_DONE; rep++) {
            if (!target_run(g, rep, &xs[n])) continue;
            snprintf(runs + strlen(runs), sizeof runs - strlen(runs), "%s%.2f", n ? ", " : "",
                     xs[n]);
            n++;
        }
        if (!n) {
            out("| %s | not measured | | | |\n", g->label);
            continue;
        }
        double x = median(xs, n);
        int met = g->at_most ? x <= g->threshold : x >= g->threshold;
        const char *unit = g->kind == ABSOLUTE ? "" : "×";
        out("| %s | %.2f%s | %s %.4g%s | %s | %s |\n", g->label, x, unit, g->at_most ? "≤" : "≥",
            g->threshold, unit, met ? "met" : "**missed**", runs);
    }
}

static void print_limits(void) {
    static const struct {
        const char *metric, *label, *fmt;
    } L[] = {
        {"seqwrite_mbps", "sequential write + fdatasync", "%.0f MB/s"},
        {"fdatasync_per_s", "116-byte append + fdatasync", "%.0f /s"},
        {"fdatasync_us", "  (one fdatasync)", "%.0f µs"},
        {"write116_us", "116-byte write() to the page cache", "%.3f µs"},
        {"pread100_us", "100-byte pread() from the page cache", "%.3f µs"},
        {"syscall_us", "null system call", "%.3f µs"},
        {"memcpy_gbps", "memcpy bandwidth", "%.1f GB/s"},
    };
    out("| limit | median | runs |\n|---|---:|---|\n");
    for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
        double x;
        if (!med(LIMITS, L[i].metric, &x)) continue;
        char m[64], runs[256] = "";
        snprintf(m, sizeof m, L[i].fmt, x);
        for (int r = 0; r < RUNS_DONE; r++) {
            if (!have(LIMITS, L[i].metric, r)) continue;
            char one[64];
            snprintf(one, sizeof one, L[i].fmt, val(LIMITS, L[i].metric, r));
            snprintf(runs + strlen(runs), sizeof runs - strlen(runs), "%s%s", r ? ", " : "",
                     one);
        }
        out("| %s | %s | %s |\n", L[i].label, m, runs);
    }
}

static void print_report(int argc, char **argv, double seconds, const char *load0) {
    char cpu[256], kernel[512], fs[1024], mem[64], load1[128];
    read_first("/proc/cpuinfo", "model name", cpu, sizeof cpu);
    read_first("/proc/meminfo", "MemTotal", mem, sizeof mem);
    read_first("/proc/loadavg", "", load1, sizeof load1);
    struct utsname u;
    uname(&u);
    snprintf(kernel, sizeof kernel, "%s %s %s", u.sysname, u.release, u.machine);
    fs_of(DATA_DIR, fs, sizeof fs);
    time_t t = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&t));

    out("## Results\n\n");
    out("N = %llu keys (16-byte keys, 100-byte non-compressible values), %d run%s, "
        "medians; %s%s%s.\n\n",
        N, RUNS_DONE, RUNS_DONE == 1 ? "" : "s", date, COMMIT ? ", commit " : "",
        COMMIT ? COMMIT : "");
    out("Rates are per operation (µs/op; ops/s for bitask). **×** is how many times better "
        "bitask does than that store, taken within each run and then the median over the "
        "runs: bitask ops/s ÷ the store's ops/s for rates, the store's figure ÷ bitask's for "
        "times and sizes; above 1, bitask is ahead. \"bitask ÷ limit\" divides bitask's rate "
        "by the machine's own cost for the same work (below): write() and pread() are one "
        "system call per operation, fdatasync the rate of 116-byte appends + fdatasync measured just "
        "before fillsync, memcpy the bytes "
        "moved per 4 KiB value, seq. write the disk's bandwidth.\n\n");
    print_table();
    out("\n### The machine's limits (bench/limits, same runs)\n\n");
    print_limits();
    out("\n### Targets\n\n");
    print_targets();
    out("\n### Machine and command\n\n");
    out("- CPU: %s, %ld online cores; memory %s\n", cpu, sysconf(_SC_NPROCESSORS_ONLN), mem);
    out("- kernel: %s\n", kernel);
    out("- bench directory: %s, file system %s\n", DATA_DIR, fs);
    out("- load average before / after: %s / %s\n", load0, load1);
    out("- duration: %.0f s\n", seconds);
    out("- command: `");
    for (int i = 0; i < argc; i++) out("%s%s", i ? " " : "", argv[i]);
    out("`\n");
    out("- skipped stores:");
    int skipped = 0;
    for (int s = 0; s < NSTORES; s++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/bench-%s", BIN_DIR, STORES[s].name);
        if (access(path, X_OK) != 0) {
            out(" %s (%s not installed)", STORES[s].name, STORES[s].package);
            skipped = 1;
        }
    }
    out("%s\n", skipped ? "" : " none");
}

int main(int argc, char **argv) {
    const char *stores = getenv("BENCH_STORES"), *groups = getenv("BENCH_GROUPS");
    if (getenv("BENCH_N")) N = strtoull(getenv("BENCH_N"), NULL, 10);
    if (getenv("BENCH_REPEAT")) REPEAT = atoi(getenv("BENCH_REPEAT"));
    if (getenv("BENCH_DIR") && *getenv("BENCH_DIR")) DATA_DIR = getenv("BENCH_DIR");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick-limits") == 0) {
            QUICK_LIMITS = 1;
            continue;
        }
        if (!next) usage();
        if (strcmp(a, "--n") == 0)
            N = strtoull(next, NULL, 10);
        else if (strcmp(a, "--repeat") == 0)
            REPEAT = atoi(next);
        else if (strcmp(a, "--dir") == 0)
            DATA_DIR = next;
        else if (strcmp(a, "--stores") == 0)
            stores = next;
        else if (strcmp(a, "--groups") == 0)
            groups = next;
        else if (strcmp(a, "--sync-ops") == 0)
            SYNC_OPS = strtoull(next, NULL, 10);
        else if (strcmp(a, "--max-seconds") == 0)
            MAX_SECONDS = next;
        else if (strcmp(a, "--out") == 0)
            OUT = next;
        else if (strcmp(a, "--commit") == 0)
            COMMIT = next;
        else if (strcmp(a, "--raw") == 0)
            RAW = next;
        else
            usage();
        i++;
    }
    if (REPEAT < 1 || REPEAT > MAX_REP || N < 10) usage();

    /* The store programs sit beside this one. */
    ssize_t len = readlink("/proc/self/exe", BIN_DIR, sizeof BIN_DIR - 1);
    if (len <= 0) {
        perror("readlink /proc/self/exe");
        return 1;
    }
    BIN_DIR[len] = 0;
    *strrchr(BIN_DIR, '/') = 0;

    int nstores = 0;
    for (int s = 0; s < NSTORES; s++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/bench-%s", BIN_DIR, STORES[s].name);
        int wanted = !stores || !*stores || split_has(stores, STORES[s].name);
        if (access(path, X_OK) != 0) {
            if (wanted)
                fprintf(stderr, "bench: skipping %s: not built (%s not installed)\n",
                        STORES[s].name, STORES[s].package);
            continue;
        }
        ENABLED[s] = wanted;
        nstores += wanted;
    }
    for (int g = 0; g < NGROUPS; g++) GROUP_ON[g] = !groups || !*groups || split_has(groups, GROUPS[g]);
    if (!nstores) {
        fprintf(stderr, "bench: no store to run\n");
        return 1;
    }
    if (mkdir(DATA_DIR, 0755) != 0 && errno != EEXIST) {
        perror(DATA_DIR);
        return 1;
    }

    char load0[128];
    read_first("/proc/loadavg", "", load0, sizeof load0);
    char nbuf[32], sbuf[32], limits_path[PATH_MAX + 32], limits_dir[PATH_MAX + 32];
    snprintf(nbuf, sizeof nbuf, "%llu", N);
    snprintf(sbuf, sizeof sbuf, "%llu", SYNC_OPS);
    snprintf(limits_path, sizeof limits_path, "%s/limits", BIN_DIR);
    snprintf(limits_dir, sizeof limits_dir, "%s/limits", DATA_DIR);
    double t_all = now();
    int failures = 0;
    for (int rep = 0; rep < REPEAT; rep++) {
        RUNS_DONE = rep + 1;
        fprintf(stderr, "bench: run %d of %d, N = %llu\n", rep + 1, REPEAT, N);
        char *largv[] = {limits_path, "--dir", limits_dir, QUICK_LIMITS ? "--quick" : NULL, NULL};
        double t0 = now();
        if (run_child(largv, 'L', LIMITS, rep) != 0) failures++;
        fprintf(stderr, "  %-8s %-8s %6.1f s\n", "limits", "", now() - t0);
        for (int g = 0; g < NGROUPS; g++) {
            if (!GROUP_ON[g]) continue;
            for (int s = 0; s < NSTORES; s++) {
                if (!ENABLED[s]) continue;
                char path[PATH_MAX + 32], dir[PATH_MAX + 32];
                snprintf(path, sizeof path, "%s/bench-%s", BIN_DIR, STORES[s].name);
                snprintf(dir, sizeof dir, "%s/%s", DATA_DIR, STORES[s].name);
                char *cargv[] = {path,   (char *)GROUPS[g], "--dir",      dir,
                                 "--n",  nbuf,              "--sync-ops", sbuf,
                                 "--max-seconds", (char *)MAX_SECONDS, NULL};
                t0 = now();
                if (run_child(cargv, 'R', s, rep) != 0) failures++;
                fprintf(stderr, "  %-8s %-8s %6.1f s\n", GROUPS[g], STORES[s].name, now() - t0);
            }
        }
    }
    double seconds = now() - t_all;
    if (OUT) {
        OUTF = fopen(OUT, "w");
        if (!OUTF) perror(OUT);
    }
    print_report(argc, argv, seconds, load0);
    if (OUTF) fclose(OUTF);
    if (RAW) {
        FILE *f = fopen(RAW, "w");
        if (!f) {
            perror(RAW);
        } else {
            fprintf(f, "run\tstore\tfigure\tvalue\n");
            for (int i = 0; i < NMETRICS; i++)
                for (int s = 0; s <= NSTORES; s++)
                    for (int r = 0; r < RUNS_DONE; r++)
                        if (METRICS[i].have[s][r])
                            fprintf(f, "%d\t%s\t%s\t%.9g\n", r + 1,
                                    s == LIMITS ? "limits" : STORES[s].name, METRICS[i].name,
                                    METRICS[i].v[s][r]);
            fclose(f);
        }
    }
    if (failures) fprintf(stderr, "bench: %d program run(s) failed; see above\n", failures);
    return failures ? 1 : 0;
}
