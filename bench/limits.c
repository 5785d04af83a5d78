/* The machine's own costs, measured in the directory the stores live in, so the store
 * figures can be read against them:
 *
 *   limits --dir DIR [--quick]
 *
 * prints "L <name> <value>" lines:
 *   seqwrite_mbps     sequential write of 256 MiB in 1 MiB write()s plus one fdatasync, MB/s
 *   fdatasync_per_s   116-byte appends each followed by fdatasync, per second
 *   write116_us       one 116-byte write() appended to a file (page cache), microseconds
 *   pread100_us       one 100-byte pread() at a random offset of a cached 64 MiB file
 *   syscall_us        one null system call (getppid)
 *   memcpy_gbps       memcpy of 64 MiB between two resident buffers, GB/s
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void report(const char *name, double v) {
    printf("L %s %.9g\n", name, v);
    fflush(stdout);
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static uint64_t rnd(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static int fresh(const char *path) {
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die(path);
    return fd;
}

static void fill_random(char *p, size_t len) {
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t r = rnd(&s);
        memcpy(p + i, &r, 8);
    }
}

int main(int argc, char **argv) {
    const char *dir = NULL;
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else {
            fprintf(stderr, "usage: limits --dir DIR [--quick]\n");
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "usage: limits --dir DIR [--quick]\n");
        return 2;
    }
    mkdir(dir, 0755);
    char path[4096];
    snprintf(path, sizeof path, "%s/limits.tmp", dir);

    /* Sequential write bandwidth to stable storage. */
    size_t chunk = 1 << 20, total = (size_t)(quick ? 64 : 256) << 20;
    char *buf = malloc(chunk);
    if (!buf) die("malloc");
    fill_random(buf, chunk);
    int fd = fresh(path);
    double t0 = now();
    for (size_t done = 0; done < total; done += chunk)
        if (write(fd, buf, chunk) != (ssize_t)chunk) die("write");
    if (fdatasync(fd) != 0) die("fdatasync");
    report("seqwrite_mbps", (double)total / 1e6 / (now() - t0));
    close(fd);

    /* Durable small appends: what one durable put costs at least. */
    int syncs = quick ? 300 : 2000;
    fd = fresh(path);
    t0 = now();
    for (int i = 0; i < syncs; i++) {
        if (write(fd, buf, 116) != 116) die("write");
        if (fdatasync(fd) != 0) die("fdatasync");
    }
    double el = now() - t0;
    report("fdatasync_per_s", syncs / el);
    report("fdatasync_us", el * 1e6 / syncs);
    close(fd);

    /* A 116-byte write() into the page cache (a 16-byte key, a 100-byte value). */
    int writes = quick ? 50000 : 300000;
    fd = fresh(path);
    t0 = now();
    for (int i = 0; i < writes; i++)
        if (write(fd, buf + (i & 1023), 116) != 116) die("write");
    report("write116_us", (now() - t0) * 1e6 / writes);
    close(fd);

    /* A 100-byte pread() from a file in the page cache. */
    size_t flen = (size_t)64 << 20;
    fd = fresh(path);
    for (size_t done = 0; done < flen; done += chunk)
        if (write(fd, buf, chunk) != (ssize_t)chunk) die("write");
    char small[128];
    uint64_t s = 12345, sum = 0;
    int preads = quick ? 100000 : 500000;
    for (int i = 0; i < 1000; i++) /* warm up */
        if (pread(fd, small, 100, (off_t)(rnd(&s) % (flen - 100))) != 100) die("pread");
    t0 = now();
    for (int i = 0; i < preads; i++) {
        if (pread(fd, small, 100, (off_t)(rnd(&s) % (flen - 100))) != 100) die("pread");
        sum += (unsigned char)small[0];
    }
    report("pread100_us", (now() - t0) * 1e6 / preads);
    close(fd);
    unlink(path);

    /* A null system call. */
    int calls = quick ? 200000 : 1000000;
    t0 = now();
    for (int i = 0; i < calls; i++) sum += (uint64_t)syscall(SYS_getppid);
    report("syscall_us", (now() - t0) * 1e6 / calls);

    /* memcpy bandwidth between resident buffers. */
    size_t mlen = (size_t)64 << 20;
    char *a = malloc(mlen), *b = malloc(mlen);
    if (!a || !b) die("malloc");
    memset(a, 1, mlen);
    memset(b, 2, mlen);
    int rounds = quick ? 4 : 16;
    t0 = now();
    for (int i = 0; i < rounds; i++) {
        a[i] = (char)i;
        memcpy(i & 1 ? a : b, i & 1 ? b : a, mlen);
    }
    el = now() - t0;
    sum += (unsigned char)a[mlen / 2] + (unsigned char)b[mlen / 3];
    report("memcpy_gbps", (double)mlen * rounds / 1e9 / el);
    free(a);
    free(b);
    free(buf);
    if (sum == 42) fprintf(stderr, " \n"); /* keeps the reads observable */
    return 0;
}
