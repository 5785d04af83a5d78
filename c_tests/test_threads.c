/*
 * One handle, many threads: writers of their own keys, readers of everyone's, an iterator
 * and a compactor, all at once, with tiny files so that rotation and merging happen all the
 * time. Every value names its key, so a reader can tell a torn or misplaced value. Each
 * thread does a fixed amount of work, so the test takes bounded time under valgrind too.
 */
#include "harness.h"

#include <pthread.h>
#include <time.h>

enum { WRITERS = 3, READERS = 2, KEYS = 40, ROUNDS = 8 };

static bitask *db;

static void make_key(char *out, size_t cap, int writer, int i) {
    snprintf(out, cap, "w%d-key-%03d", writer, i);
}

static void make_value(char *out, size_t cap, const char *key, int round) {
    snprintf(out, cap, "%s=round-%d", key, round);
}

/* Whether v is "<key>=round-N" for this key. */
static int value_fits(const char *key, const uint8_t *v, size_t n) {
    size_t kl = strlen(key);
    return n > kl + 7 && memcmp(v, key, kl) == 0 && memcmp(v + kl, "=round-", 7) == 0;
}

static void *writer(void *arg) {
    int w = (int)(intptr_t)arg;
    char key[32], val[64];
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < KEYS; i++) {
            make_key(key, sizeof key, w, i);
            make_value(val, sizeof val, key, round);
            CHECK_ST(bitask_put(db, KEY(key), KEY(val)), BITASK_OK);
            if (round == ROUNDS - 1 && i % 5 == 0)
                CHECK_ST(bitask_remove(db, KEY(key)), BITASK_OK);
        }
        /* A failure on this thread leaves its own message, whatever the others do. */
        CHECK_ST(bitask_get(db, NULL, 0, NULL, NULL), BITASK_ERR_INVALID_ARGUMENT);
        char msg[128];
        bitask_last_error_message(msg, sizeof msg);
        CHECK(strstr(msg, "NULL") != NULL || strstr(msg, "at least 1 byte") != NULL);
    }
    return NULL;
}

static void *reader(void *arg) {
    (void)arg;
    char key[32];
    uint8_t buf[64];
    unsigned seed = 12345;
    long reads = 0;
    while (reads < 1500) {
        seed = seed * 1103515245u + 12345u;
        make_key(key, sizeof key, (int)(seed >> 8) % WRITERS, (int)(seed >> 16) % KEYS);
        uint8_t *v = NULL;
        size_t n = 0;
        bitask_status st = bitask_get(db, KEY(key), &v, &n);
        CHECK(st == BITASK_OK || st == BITASK_NOT_FOUND);
        if (st == BITASK_OK) {
            CHECK(value_fits(key, v, n));
            bitask_free(v);
        }
        st = bitask_get_into(db, KEY(key), buf, sizeof buf, &n);
        CHECK(st == BITASK_OK || st == BITASK_NOT_FOUND);
        if (st == BITASK_OK)
            CHECK(value_fits(key, buf, n));
        if (++reads % 64 == 0)
            nanosleep(&(struct timespec){0, 200 * 1000}, NULL); /* leave the writers CPU */
    }
    return NULL;
}

static void *iterator(void *arg) {
    (void)arg;
    int passes = 0;
    while (passes < 6) {
        bitask_iter *it = NULL;
        if (bitask_iter_new(db, (const uint8_t *)"w", 1, &it) != BITASK_OK) {
            CHECK(0);
            return NULL;
        }
        const uint8_t *k, *v;
        size_t kl, vl;
        char prev[32] = "";
        bitask_status st;
        while ((st = bitask_iter_next(it, &k, &kl, &v, &vl)) == BITASK_OK) {
            char key[32];
            CHECK(kl < sizeof key);
            if (kl >= sizeof key)
                break;
            memcpy(key, k, kl);
            key[kl] = '\0';
            CHECK(strcmp(prev, key) < 0); /* ordered */
            CHECK(value_fits(key, v, vl));
            memcpy(prev, key, kl + 1);
        }
        CHECK_ST(st, BITASK_NOT_FOUND);
        bitask_iter_free(it);
        passes++;
        nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
    }
    return NULL;
}

static void *compactor(void *arg) {
    (void)arg;
    int runs = 0;
    while (runs < 4) {
        CHECK_ST(bitask_compact(db), BITASK_OK);
        bitask_stats s;
        CHECK_ST(bitask_stat(db, &s), BITASK_OK);
        CHECK_ST(bitask_sync(db), BITASK_OK);
        runs++;
        nanosleep(&(struct timespec){0, 2000 * 1000}, NULL);
    }
    return NULL;
}

static void run_with_sync(int mode) {
    char name[32];
    snprintf(name, sizeof name, "threads-%d", mode);
    const char *dir = h_path(0, name);
    bitask_options *o = bitask_options_new();
    CHECK_ST(bitask_options_set_max_file_size(o, 2048), BITASK_OK);
    CHECK_ST(bitask_options_set_sync(o, mode), BITASK_OK);
    CHECK_ST(bitask_options_set_sync_interval_ms(o, 2), BITASK_OK);
    REQUIRE_ST(bitask_open(dir, o, &db), BITASK_OK);
    pthread_t w[WRITERS], r[READERS], it, c;
    for (int i = 0; i < WRITERS; i++)
        pthread_create(&w[i], NULL, writer, (void *)(intptr_t)i);
    for (int i = 0; i < READERS; i++)
        pthread_create(&r[i], NULL, reader, NULL);
    pthread_create(&it, NULL, iterator, NULL);
    pthread_create(&c, NULL, compactor, NULL);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(w[i], NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    pthread_join(it, NULL);
    pthread_join(c, NULL);
    bitask_close(db);

    /* Reopen: exactly the last round survives, removals included. */
    REQUIRE_ST(bitask_open(dir, o, &db), BITASK_OK);
    bitask_options_free(o);
    bitask_stats s;
    CHECK_ST(bitask_stat(db, &s), BITASK_OK);
    CHECK(s.key_count == WRITERS * (KEYS - KEYS / 5));
    char key[32], val[64];
    for (int wr = 0; wr < WRITERS; wr++) {
        for (int i = 0; i < KEYS; i++) {
            make_key(key, sizeof key, wr, i);
            make_value(val, sizeof val, key, ROUNDS - 1);
            uint8_t *v = NULL;
            size_t n = 0;
            bitask_status st = bitask_get(db, KEY(key), &v, &n);
            if (i % 5 == 0) {
                CHECK_ST(st, BITASK_NOT_FOUND);
            } else {
                CHECK_ST(st, BITASK_OK);
                CHECK(st != BITASK_OK || (n == strlen(val) && memcmp(v, val, n) == 0));
            }
            bitask_free(v);
        }
    }
    bitask_close(db);
}

static void test_threads_sync_none(void) { run_with_sync(BITASK_SYNC_NONE); }
static void test_threads_sync_always(void) { run_with_sync(BITASK_SYNC_ALWAYS); }
static void test_threads_sync_interval(void) { run_with_sync(BITASK_SYNC_INTERVAL); }

int main(int argc, char **argv) {
    h_setup(argc, argv);
    static const struct h_test tests[] = {
        H_TEST(test_threads_sync_none),
        H_TEST(test_threads_sync_always),
        H_TEST(test_threads_sync_interval),
    };
    return h_run("test_threads", tests, sizeof tests / sizeof tests[0]);
}
