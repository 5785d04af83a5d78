/*
 * Hostile arguments: NULL pointers, zero and huge lengths, lengths past the limits,
 * options set twice, and documented-forbidden misuse that the library still turns into a
 * defined error. Every refused call must return its documented status, clear its
 * out-parameters and write nothing. Built with AddressSanitizer and
 * UndefinedBehaviorSanitizer by `make test`, which must report nothing.
 */
#include "harness.h"

#include <limits.h>

static const char *store;
static bitask *db;

/* Sentinels that out-parameters must not keep after a failure. */
#define BAD_PTR ((void *)(uintptr_t)0x5a5a5a5a)
#define BAD_LEN ((size_t)0xa5a5a5a5u)

static void test_null_everything(void) {
    uint64_t before = h_dir_digest(store);
    const uint8_t k[] = "k";
    uint8_t buf[4];
    size_t n = BAD_LEN;
    uint8_t *v = BAD_PTR;
    CHECK_ST(bitask_put(NULL, NULL, 0, NULL, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_put(db, NULL, 0, NULL, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_put(db, NULL, 1, k, 1), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_put(db, k, 1, NULL, 1), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_get(NULL, NULL, 0, NULL, NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_get(db, NULL, 1, &v, &n), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(v == NULL && n == 0);
    v = BAD_PTR;
    CHECK_ST(bitask_get(db, k, 1, &v, NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(v == NULL);
    n = BAD_LEN;
    CHECK_ST(bitask_get(db, k, 1, NULL, &n), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(n == 0);
    n = BAD_LEN;
    CHECK_ST(bitask_get_into(NULL, NULL, 0, NULL, 0, NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_get_into(db, NULL, 1, buf, sizeof buf, &n), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(n == 0);
    CHECK_ST(bitask_get_into(db, k, 1, NULL, 1, &n), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_contains(NULL, NULL, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_contains(db, NULL, 5), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_remove(NULL, NULL, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_remove(db, NULL, 5), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_compact(NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_sync(NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_refresh(NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_stat(NULL, NULL), BITASK_ERR_INVALID_ARGUMENT);
    bitask_iter *it = BAD_PTR;
    CHECK_ST(bitask_iter_new(NULL, NULL, 0, &it), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(it == NULL);
    it = BAD_PTR;
    CHECK_ST(bitask_iter_new(db, NULL, 1, &it), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(it == NULL);
    CHECK_ST(bitask_iter_new(db, NULL, 0, NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_next(NULL, NULL, NULL, NULL, NULL), BITASK_ERR_INVALID_ARGUMENT);
    const uint8_t *kp = BAD_PTR, *vp = BAD_PTR;
    size_t kl = BAD_LEN, vl = BAD_LEN;
    CHECK_ST(bitask_iter_next(NULL, &kp, &kl, &vp, &vl), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(kp == NULL && kl == 0 && vp == NULL && vl == 0);
    bitask *other = BAD_PTR;
    CHECK_ST(bitask_open(NULL, NULL, &other), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(other == NULL);
    CHECK_ST(bitask_open(NULL, NULL, NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_open(store, NULL, NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_sync(NULL, 99), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_max_file_size(NULL, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_sync_interval_ms(NULL, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_read_only(NULL, false), BITASK_ERR_INVALID_ARGUMENT);
    bitask_close(NULL);
    bitask_free(NULL);
    bitask_iter_free(NULL);
    bitask_options_free(NULL);
    CHECK(bitask_last_error_message(NULL, 0) > 0);
    CHECK(bitask_last_error_message(NULL, SIZE_MAX) > 0);
    char one[1] = {'x'};
    CHECK(bitask_last_error_message(one, 1) > 0);
    CHECK(one[0] == '\0');
    CHECK(h_dir_digest(store) == before);
}

static void test_zero_and_huge_lengths(void) {
    uint64_t before = h_dir_digest(store);
    const uint8_t k[] = "key";
    uint8_t buf[8] = {0};
    size_t n = BAD_LEN;
    uint8_t *v = BAD_PTR;
    /* Empty keys, with and without a pointer. */
    CHECK_ST(bitask_put(db, k, 0, k, 1), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_get(db, k, 0, &v, &n), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(v == NULL && n == 0);
    CHECK_ST(bitask_get_into(db, k, 0, buf, sizeof buf, &n), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_contains(db, k, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_remove(db, k, 0), BITASK_ERR_INVALID_ARGUMENT);
    /* Lengths no buffer can have: refused before a byte is read. */
    size_t huge[] = {SIZE_MAX, SIZE_MAX / 2, (size_t)1 << 40, BITASK_MAX_VALUE_LEN + (size_t)1};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        CHECK_ST(bitask_put(db, k, huge[i], k, 1), BITASK_ERR_TOO_LARGE);
        CHECK_ST(bitask_put(db, k, 1, k, huge[i]), BITASK_ERR_TOO_LARGE);
        CHECK_ST(bitask_put(db, NULL, huge[i], k, 1), BITASK_ERR_INVALID_ARGUMENT);
        CHECK_ST(bitask_put(db, k, 1, NULL, huge[i]), BITASK_ERR_INVALID_ARGUMENT);
        v = BAD_PTR;
        n = BAD_LEN;
        CHECK_ST(bitask_get(db, k, huge[i], &v, &n), BITASK_ERR_TOO_LARGE);
        CHECK(v == NULL && n == 0);
        CHECK_ST(bitask_get_into(db, k, huge[i], buf, sizeof buf, &n), BITASK_ERR_TOO_LARGE);
        CHECK_ST(bitask_get_into(db, k, 1, NULL, huge[i], &n), BITASK_ERR_INVALID_ARGUMENT);
        CHECK_ST(bitask_contains(db, k, huge[i]), BITASK_ERR_TOO_LARGE);
        CHECK_ST(bitask_remove(db, k, huge[i]), BITASK_ERR_TOO_LARGE);
        bitask_iter *it = BAD_PTR;
        CHECK_ST(bitask_iter_new(db, k, huge[i], &it), BITASK_ERR_TOO_LARGE);
        CHECK(it == NULL);
    }
    /* One past each limit, with real memory behind the pointer. */
    uint8_t *big = calloc(BITASK_MAX_KEY_LEN + 1, 1);
    if (big) {
        CHECK_ST(bitask_put(db, big, BITASK_MAX_KEY_LEN + 1, k, 1), BITASK_ERR_TOO_LARGE);
        CHECK_ST(bitask_remove(db, big, BITASK_MAX_KEY_LEN + 1), BITASK_ERR_TOO_LARGE);
        CHECK_ST(bitask_contains(db, big, BITASK_MAX_KEY_LEN + 1), BITASK_ERR_TOO_LARGE);
        free(big);
    }
    uint8_t *bigv = malloc(BITASK_MAX_VALUE_LEN + (size_t)1);
    if (bigv) {
        CHECK_ST(bitask_put(db, k, 3, bigv, BITASK_MAX_VALUE_LEN + (size_t)1),
                 BITASK_ERR_TOO_LARGE);
        free(bigv);
    }
    CHECK_ST(bitask_contains(db, k, 3), BITASK_NOT_FOUND);
    CHECK(h_dir_digest(store) == before);
}

static void test_options_set_twice(void) {
    const char *dir = h_path(0, "twice");
    bitask_options *o = bitask_options_new();
    CHECK(o != NULL);
    if (!o)
        return;
    CHECK_ST(bitask_options_set_max_file_size(o, 1 << 20), BITASK_OK);
    CHECK_ST(bitask_options_set_max_file_size(o, 64), BITASK_OK);
    /* A refused value leaves the last good one. */
    CHECK_ST(bitask_options_set_max_file_size(o, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_max_file_size(o, UINT64_MAX), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_sync(o, BITASK_SYNC_INTERVAL), BITASK_OK);
    CHECK_ST(bitask_options_set_sync(o, BITASK_SYNC_ALWAYS), BITASK_OK);
    int bad_modes[] = {-1, 3, 4, 100, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++)
        CHECK_ST(bitask_options_set_sync(o, bad_modes[i]), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_sync_interval_ms(o, 7), BITASK_OK);
    CHECK_ST(bitask_options_set_sync_interval_ms(o, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_read_only(o, true), BITASK_OK);
    CHECK_ST(bitask_options_set_read_only(o, false), BITASK_OK);
    bitask *d = NULL;
    CHECK_ST(bitask_open(dir, o, &d), BITASK_OK);
    /* The same options may open other stores; the handle keeps its own copy. */
    CHECK_ST(bitask_options_set_read_only(o, true), BITASK_OK);
    bitask *r = NULL;
    CHECK_ST(bitask_open(dir, o, &r), BITASK_OK);
    bitask_options_free(o);
    if (!d || !r) {
        bitask_close(r);
        bitask_close(d);
        return;
    }
    /* 64-byte files: every put rotates, so max_file_size kept its last good value. */
    char key[16];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "key%d", i);
        CHECK_ST(bitask_put(d, KEY(key), KEY("a value of some length")), BITASK_OK);
    }
    bitask_stats s;
    CHECK_ST(bitask_stat(d, &s), BITASK_OK);
    CHECK(s.data_files >= 5);
    CHECK_ST(bitask_put(r, KEY("x"), KEY("y")), BITASK_ERR_READ_ONLY);
    bitask_close(r);
    bitask_close(d);
}

static void test_iterator_after_close(void) {
    /* Forbidden by the documentation, yet defined: the call fails, nothing is touched. */
    const char *dir = h_path(0, "iter-after-close");
    bitask *d = NULL;
    REQUIRE_ST(bitask_open(dir, NULL, &d), BITASK_OK);
    CHECK_ST(bitask_put(d, KEY("a"), KEY("1")), BITASK_OK);
    CHECK_ST(bitask_put(d, KEY("b"), KEY("2")), BITASK_OK);
    bitask_iter *it = NULL;
    CHECK_ST(bitask_iter_new(d, NULL, 0, &it), BITASK_OK);
    const uint8_t *k, *v;
    size_t kl, vl;
    CHECK_ST(bitask_iter_next(it, &k, &kl, &v, &vl), BITASK_OK);
    bitask_close(d);
    CHECK_ST(bitask_iter_next(it, &k, &kl, &v, &vl), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(k == NULL && kl == 0 && v == NULL && vl == 0);
    char msg[256];
    bitask_last_error_message(msg, sizeof msg);
    CHECK(strstr(msg, "closed") != NULL);
    CHECK_ST(bitask_iter_next(it, &k, &kl, &v, &vl), BITASK_ERR_INVALID_ARGUMENT);
    /* Until it is freed, the iterator keeps the writer's lock. */
    bitask *again = NULL;
    CHECK_ST(bitask_open(dir, NULL, &again), BITASK_ERR_WRITER_LOCK);
    bitask_iter_free(it);
    CHECK_ST(bitask_open(dir, NULL, &again), BITASK_OK);
    CHECK_ST(bitask_contains(again, KEY("b")), BITASK_OK);
    bitask_close(again);
}

static void test_buffers_untouched_on_failure(void) {
    CHECK_ST(bitask_put(db, KEY("seven"), KEY("1234567")), BITASK_OK);
    uint8_t buf[16];
    memset(buf, 0xee, sizeof buf);
    size_t n = BAD_LEN;
    CHECK_ST(bitask_get_into(db, KEY("seven"), buf, 6, &n), BITASK_BUFFER_TOO_SMALL);
    CHECK(n == 7);
    for (size_t i = 0; i < sizeof buf; i++)
        CHECK(buf[i] == 0xee);
    n = BAD_LEN;
    CHECK_ST(bitask_get_into(db, KEY("absent"), buf, sizeof buf, &n), BITASK_NOT_FOUND);
    CHECK(n == 0 && buf[0] == 0xee);
    /* A cap larger than any value is fine when the buffer holds the value. */
    CHECK_ST(bitask_get_into(db, KEY("seven"), buf, 7, &n), BITASK_OK);
    CHECK(n == 7 && memcmp(buf, "1234567", 7) == 0 && buf[7] == 0xee);
    CHECK_ST(bitask_remove(db, KEY("seven")), BITASK_OK);
}

static void test_status_codes_from_c(void) {
    for (int code = -1000; code <= 1000; code++) {
        const char *s = bitask_strerror(code);
        CHECK(s != NULL && strlen(s) > 0);
    }
    CHECK(bitask_strerror(INT_MIN) != NULL && bitask_strerror(INT_MAX) != NULL);
}

static bitask_stats initial;

/* Runs last: the shared store holds exactly what it held before the hostile calls. */
static void test_store_unchanged(void) {
    bitask_stats after;
    CHECK_ST(bitask_stat(db, &after), BITASK_OK);
    CHECK(after.key_count == initial.key_count && after.live_bytes == initial.live_bytes);
    /* Only test_buffers_untouched_on_failure wrote (a put and its removal). */
    CHECK(after.dead_bytes > initial.dead_bytes);
    uint8_t buf[8];
    size_t n = 0;
    CHECK_ST(bitask_get_into(db, KEY("present"), buf, sizeof buf, &n), BITASK_OK);
    CHECK(n == 5 && memcmp(buf, "value", 5) == 0);
    bitask_close(db);
}

int main(int argc, char **argv) {
    h_setup(argc, argv);
    store = h_path(7, "store");
    if (bitask_open(store, NULL, &db) != BITASK_OK) {
        fprintf(stderr, "cannot open %s\n", store);
        return 2;
    }
    CHECK_ST(bitask_put(db, KEY("present"), KEY("value")), BITASK_OK);
    CHECK_ST(bitask_sync(db), BITASK_OK);
    CHECK_ST(bitask_stat(db, &initial), BITASK_OK);
    static const struct h_test tests[] = {
        H_TEST(test_null_everything),    H_TEST(test_zero_and_huge_lengths),
        H_TEST(test_options_set_twice),  H_TEST(test_iterator_after_close),
        H_TEST(test_buffers_untouched_on_failure), H_TEST(test_status_codes_from_c),
        H_TEST(test_store_unchanged),
    };
    return h_run("test_hostile", tests, sizeof tests / sizeof tests[0]);
}
