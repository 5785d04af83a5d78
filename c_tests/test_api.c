/* Every function of include/bitask.h, on its success and error paths. */
#include "harness.h"

#include <limits.h>
#include <time.h>

static bitask *open_at(const char *path) {
    bitask *db = NULL;
    bitask_status st = bitask_open(path, NULL, &db);
    CHECK_ST(st, BITASK_OK);
    return db;
}

static void test_version(void) {
    char expect[64];
    snprintf(expect, sizeof expect, "%d.%d.%d", BITASK_VERSION_MAJOR, BITASK_VERSION_MINOR,
             BITASK_VERSION_PATCH);
    CHECK(strcmp(expect, BITASK_VERSION_STRING) == 0);
    CHECK(strcmp(bitask_version(), BITASK_VERSION_STRING) == 0);
    CHECK(BITASK_ABI_MAJOR == 0);
}

static void test_strerror(void) {
    for (int code = BITASK_OK; code <= BITASK_MISMATCH; code++) {
        const char *s = bitask_strerror(code);
        CHECK(s != NULL && s[0] != '\0');
        CHECK(strcmp(s, "unknown status code") != 0);
        for (int other = BITASK_OK; other < code; other++)
            CHECK(strcmp(s, bitask_strerror(other)) != 0);
    }
    CHECK(strcmp(bitask_strerror(-1), "unknown status code") == 0);
    CHECK(strcmp(bitask_strerror(18), "unknown status code") == 0);
    CHECK(strcmp(bitask_strerror(INT_MAX), "unknown status code") == 0);
    CHECK(strcmp(bitask_strerror(INT_MIN), "unknown status code") == 0);
    /* The numbers are ABI. */
    CHECK(BITASK_OK == 0 && BITASK_NOT_FOUND == 1 && BITASK_BUFFER_TOO_SMALL == 2);
    CHECK(BITASK_ERR_INVALID_ARGUMENT == 3 && BITASK_ERR_WRITER_LOCK == 4);
    CHECK(BITASK_ERR_READ_ONLY == 5 && BITASK_ERR_IO == 6 && BITASK_ERR_CORRUPTION == 7);
    CHECK(BITASK_ERR_TOO_LARGE == 8 && BITASK_ERR_INTERNAL == 9);
    CHECK(BITASK_ERR_INCOMPATIBLE == 10);
    CHECK(BITASK_ERR_EXISTS == 15 && BITASK_KEY_EXISTS == 16 && BITASK_MISMATCH == 17);
    CHECK(sizeof(bitask_status) == sizeof(int));
}

static void test_last_error_message(void) {
    bitask *db = (bitask *)1;
    CHECK_ST(bitask_open(NULL, NULL, &db), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(db == NULL);
    size_t len = bitask_last_error_message(NULL, 0);
    CHECK(len > 0);
    char full[256];
    CHECK(bitask_last_error_message(full, sizeof full) == len);
    CHECK(strlen(full) == len);
    CHECK(strstr(full, "path") != NULL);
    char small[5];
    memset(small, 'x', sizeof small);
    CHECK(bitask_last_error_message(small, sizeof small) == len);
    CHECK(small[4] == '\0' && strlen(small) == 4 && strncmp(small, full, 4) == 0);
    /* A successful call leaves the message alone. */
    CHECK(strcmp(bitask_version(), BITASK_VERSION_STRING) == 0);
    bitask_options *o = bitask_options_new();
    CHECK_ST(bitask_options_set_sync(o, BITASK_SYNC_ALWAYS), BITASK_OK);
    bitask_options_free(o);
    CHECK(bitask_last_error_message(NULL, 0) == len);
    /* An I/O error names the file and the operating system's error. */
    const char *file = h_path(0, "a-regular-file");
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK_ST(bitask_open(file, NULL, &db), BITASK_ERR_NOT_A_DIRECTORY);
    bitask_last_error_message(full, sizeof full);
    CHECK(strstr(full, "a-regular-file: Not a directory") != NULL);
    /* In the operating system's words, naming the path once, nothing repeated. */
    bitask_options *ro = bitask_options_new();
    CHECK_ST(bitask_options_set_read_only(ro, true), BITASK_OK);
    const char *missing = h_path(0, "no-such-store");
    CHECK_ST(bitask_open(missing, ro, &db), BITASK_ERR_NO_SUCH_PATH);
    bitask_last_error_message(full, sizeof full);
    CHECK(strstr(full, "no-such-store: No such file or directory") != NULL);
    CHECK(strstr(full, "entity") == NULL && strstr(full, "os error") == NULL);
    CHECK(strstr(strstr(full, "no-such-store") + 1, "no-such-store") == NULL);
    CHECK_ST(bitask_open(h_path(0, "a-regular-file/store"), ro, &db), BITASK_ERR_NOT_A_DIRECTORY);
    bitask_options_free(ro);
}

static void test_options(void) {
    bitask_options *o = bitask_options_new();
    CHECK(o != NULL);
    CHECK_ST(bitask_options_set_max_file_size(o, 64), BITASK_OK);
    CHECK_ST(bitask_options_set_max_file_size(o, 2147483648ull), BITASK_OK);
    CHECK_ST(bitask_options_set_max_file_size(o, 63), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_max_file_size(o, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_max_file_size(o, 2147483649ull), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_max_file_size(o, UINT64_MAX), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_sync(o, BITASK_SYNC_NONE), BITASK_OK);
    CHECK_ST(bitask_options_set_sync(o, BITASK_SYNC_ALWAYS), BITASK_OK);
    CHECK_ST(bitask_options_set_sync(o, BITASK_SYNC_INTERVAL), BITASK_OK);
    CHECK_ST(bitask_options_set_sync(o, 3), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_sync(o, -1), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_sync_interval_ms(o, 1), BITASK_OK);
    CHECK_ST(bitask_options_set_sync_interval_ms(o, UINT32_MAX), BITASK_OK);
    CHECK_ST(bitask_options_set_sync_interval_ms(o, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_read_only(o, true), BITASK_OK);
    CHECK_ST(bitask_options_set_read_only(o, false), BITASK_OK);
    CHECK_ST(bitask_options_set_max_file_size(NULL, 4096), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_sync(NULL, BITASK_SYNC_NONE), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_sync_interval_ms(NULL, 10), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_read_only(NULL, true), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_create_if_missing(o, false), BITASK_OK);
    CHECK_ST(bitask_options_set_create_if_missing(NULL, false), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_options_set_error_if_exists(o, true), BITASK_OK);
    CHECK_ST(bitask_options_set_error_if_exists(NULL, true), BITASK_ERR_INVALID_ARGUMENT);
    bitask_options_free(o);
    bitask_options_free(NULL);
}

static void test_open_close(void) {
    const char *dir = h_path(0, "open");
    bitask *db = (bitask *)1;
    CHECK_ST(bitask_open(dir, NULL, NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_open(NULL, NULL, &db), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(db == NULL);
    db = (bitask *)1;
    CHECK_ST(bitask_open("", NULL, &db), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(db == NULL);
    REQUIRE_ST(bitask_open(dir, NULL, &db), BITASK_OK);
    CHECK(db != NULL);
    /* One writer at a time, even within a process. */
    bitask *second = (bitask *)1;
    CHECK_ST(bitask_open(dir, NULL, &second), BITASK_ERR_WRITER_LOCK);
    CHECK(second == NULL);
    {
        /* The message names the lock file and does not repeat bitask_strerror's words. */
        char msg[1024];
        bitask_last_error_message(msg, sizeof msg);
        CHECK(strstr(msg, "open/db.lock is held by another handle") != NULL);
        CHECK(strstr(msg, bitask_strerror(BITASK_ERR_WRITER_LOCK)) == NULL);
    }
    /* Readers take no lock. */
    bitask_options *ro = bitask_options_new();
    CHECK_ST(bitask_options_set_read_only(ro, true), BITASK_OK);
    bitask *reader = NULL;
    CHECK_ST(bitask_open(dir, ro, &reader), BITASK_OK);
    bitask_close(reader);
    bitask_close(db);
    /* The lock is released by close. */
    CHECK_ST(bitask_open(dir, NULL, &db), BITASK_OK);
    bitask_close(db);
    /* A read-only open does not create the directory. */
    db = (bitask *)1;
    CHECK_ST(bitask_open(h_path(1, "missing"), ro, &db), BITASK_ERR_NO_SUCH_PATH);
    CHECK(db == NULL);
    CHECK(access(h_path(1, "missing"), F_OK) != 0);
    bitask_options_free(ro);
    /* A writer creates the store's directory, but not missing parents: a typo does not grow
       a tree. */
    CHECK_ST(bitask_open(h_path(1, "deep/er/store"), NULL, &db), BITASK_ERR_NO_SUCH_PATH);
    CHECK(access(h_path(1, "deep"), F_OK) != 0);
    bitask_options *strict = bitask_options_new();
    CHECK_ST(bitask_options_set_create_if_missing(strict, false), BITASK_OK);
    CHECK_ST(bitask_open(h_path(1, "not-made"), strict, &db), BITASK_ERR_NO_SUCH_PATH);
    CHECK(access(h_path(1, "not-made"), F_OK) != 0);
    /* error_if_exists: a new store opens, an existing one is refused and left as it was. */
    CHECK_ST(bitask_options_set_create_if_missing(strict, true), BITASK_OK);
    CHECK_ST(bitask_options_set_error_if_exists(strict, true), BITASK_OK);
    REQUIRE_ST(bitask_open(h_path(1, "fresh"), strict, &db), BITASK_OK);
    CHECK_ST(bitask_put(db, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1), BITASK_OK);
    bitask_close(db);
    CHECK_ST(bitask_open(h_path(1, "fresh"), strict, &db), BITASK_ERR_EXISTS);
    CHECK(db == NULL);
    CHECK_ST(bitask_open(dir, strict, &db), BITASK_ERR_EXISTS);
    bitask_options_free(strict);
    REQUIRE_ST(bitask_open(h_path(1, "fresh"), NULL, &db), BITASK_OK);
    CHECK_ST(bitask_contains(db, (const uint8_t *)"k", 1), BITASK_OK);
    bitask_close(db);
    bitask_close(NULL);
}

static void test_put_get(void) {
    bitask *db = open_at(h_path(0, "putget"));
    if (!db)
        return;
    CHECK_ST(bitask_put(db, KEY("alpha"), KEY("one")), BITASK_OK);
    uint8_t *v = NULL;
    size_t n = 0;
    CHECK_ST(bitask_get(db, KEY("alpha"), &v, &n), BITASK_OK);
    CHECK(n == 3 && v && memcmp(v, "one", 3) == 0);
    bitask_free(v);
    /* Overwrite. */
    CHECK_ST(bitask_put(db, KEY("alpha"), KEY("uno, again")), BITASK_OK);
    CHECK_ST(bitask_get(db, KEY("alpha"), &v, &n), BITASK_OK);
    CHECK(n == 10 && memcmp(v, "uno, again", 10) == 0);
    bitask_free(v);
    /* An empty value is present, with a non-NULL pointer; NULL with length 0 is allowed. */
    CHECK_ST(bitask_put(db, KEY("empty"), NULL, 0), BITASK_OK);
    v = NULL;
    n = 99;
    CHECK_ST(bitask_get(db, KEY("empty"), &v, &n), BITASK_OK);
    CHECK(v != NULL && n == 0);
    bitask_free(v);
    CHECK_ST(bitask_contains(db, KEY("empty")), BITASK_OK);
    /* Binary keys and values, NUL bytes included. */
    const uint8_t bkey[] = {0, 1, 2, 0, 255};
    uint8_t bval[256];
    for (int i = 0; i < 256; i++)
        bval[i] = (uint8_t)i;
    CHECK_ST(bitask_put(db, bkey, sizeof bkey, bval, sizeof bval), BITASK_OK);
    CHECK_ST(bitask_get(db, bkey, sizeof bkey, &v, &n), BITASK_OK);
    CHECK(n == 256 && memcmp(v, bval, 256) == 0);
    bitask_free(v);
    CHECK_ST(bitask_get(db, bkey, 4, &v, &n), BITASK_NOT_FOUND);
    /* Absent keys: NOT_FOUND, out-parameters NULL/0. */
    v = (uint8_t *)1;
    n = 7;
    CHECK_ST(bitask_get(db, KEY("nope"), &v, &n), BITASK_NOT_FOUND);
    CHECK(v == NULL && n == 0);
    /* Argument errors. */
    CHECK_ST(bitask_get(db, KEY("alpha"), NULL, &n), BITASK_ERR_INVALID_ARGUMENT);
    v = (uint8_t *)1;
    CHECK_ST(bitask_get(db, KEY("alpha"), &v, NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(v == NULL);
    CHECK_ST(bitask_get(db, (const uint8_t *)"alpha", 0, &v, &n), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_get(NULL, KEY("alpha"), &v, &n), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_put(NULL, KEY("a"), KEY("b")), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_put(db, NULL, 1, KEY("b")), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_put(db, KEY("a"), NULL, 1), BITASK_ERR_INVALID_ARGUMENT);
    /* The limits. */
    uint8_t *big = calloc(BITASK_MAX_KEY_LEN + 1, 1);
    CHECK(big != NULL);
    if (big) {
        big[0] = 'K';
        CHECK_ST(bitask_put(db, big, BITASK_MAX_KEY_LEN, KEY("max key")), BITASK_OK);
        CHECK_ST(bitask_get(db, big, BITASK_MAX_KEY_LEN, &v, &n), BITASK_OK);
        CHECK(n == 7 && memcmp(v, "max key", 7) == 0);
        bitask_free(v);
        CHECK_ST(bitask_put(db, big, BITASK_MAX_KEY_LEN + 1, KEY("x")), BITASK_ERR_TOO_LARGE);
        CHECK_ST(bitask_get(db, big, BITASK_MAX_KEY_LEN + 1, &v, &n), BITASK_ERR_TOO_LARGE);
        free(big);
    }
    /* A 1 MiB value. */
    size_t mlen = 1u << 20;
    uint8_t *mval = malloc(mlen);
    if (mval) {
        for (size_t i = 0; i < mlen; i++)
            mval[i] = (uint8_t)(i * 7 + 3);
        CHECK_ST(bitask_put(db, KEY("mebibyte"), mval, mlen), BITASK_OK);
        CHECK_ST(bitask_get(db, KEY("mebibyte"), &v, &n), BITASK_OK);
        CHECK(n == mlen && memcmp(v, mval, mlen) == 0);
        bitask_free(v);
        free(mval);
    }
    bitask_free(NULL);
    bitask_close(db);
}

static void test_get_into(void) {
    bitask *db = open_at(h_path(0, "getinto"));
    if (!db)
        return;
    CHECK_ST(bitask_put(db, KEY("k"), KEY("hello")), BITASK_OK);
    CHECK_ST(bitask_put(db, KEY("empty"), NULL, 0), BITASK_OK);
    uint8_t buf[16];
    size_t n = 0;
    memset(buf, '#', sizeof buf);
    CHECK_ST(bitask_get_into(db, KEY("k"), buf, sizeof buf, &n), BITASK_OK);
    CHECK(n == 5 && memcmp(buf, "hello", 5) == 0 && buf[5] == '#');
    CHECK_ST(bitask_get_into(db, KEY("k"), buf, 5, &n), BITASK_OK);
    CHECK(n == 5);
    /* Too small: nothing copied, the needed length reported. */
    memset(buf, '#', sizeof buf);
    n = 0;
    CHECK_ST(bitask_get_into(db, KEY("k"), buf, 4, &n), BITASK_BUFFER_TOO_SMALL);
    CHECK(n == 5 && buf[0] == '#');
    n = 0;
    CHECK_ST(bitask_get_into(db, KEY("k"), NULL, 0, &n), BITASK_BUFFER_TOO_SMALL);
    CHECK(n == 5);
    /* An empty value fits any buffer. */
    n = 9;
    CHECK_ST(bitask_get_into(db, KEY("empty"), NULL, 0, &n), BITASK_OK);
    CHECK(n == 0);
    n = 9;
    CHECK_ST(bitask_get_into(db, KEY("absent"), buf, sizeof buf, &n), BITASK_NOT_FOUND);
    CHECK(n == 0);
    CHECK_ST(bitask_get_into(db, KEY("k"), NULL, 4, &n), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_get_into(db, KEY("k"), buf, sizeof buf, NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_get_into(NULL, KEY("k"), buf, sizeof buf, &n), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_get_into(db, NULL, 0, buf, sizeof buf, &n), BITASK_ERR_INVALID_ARGUMENT);
    bitask_close(db);
}

static void test_contains_remove(void) {
    const char *dir = h_path(0, "remove");
    bitask *db = open_at(dir);
    if (!db)
        return;
    CHECK_ST(bitask_put(db, KEY("k"), KEY("v")), BITASK_OK);
    CHECK_ST(bitask_contains(db, KEY("k")), BITASK_OK);
    CHECK_ST(bitask_contains(db, KEY("other")), BITASK_NOT_FOUND);
    CHECK_ST(bitask_contains(db, NULL, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_contains(NULL, KEY("k")), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_remove(db, KEY("k")), BITASK_OK);
    CHECK_ST(bitask_contains(db, KEY("k")), BITASK_NOT_FOUND);
    /* Removing an absent key writes nothing. */
    CHECK_ST(bitask_sync(db), BITASK_OK);
    uint64_t before = h_dir_digest(dir);
    CHECK_ST(bitask_remove(db, KEY("k")), BITASK_NOT_FOUND);
    CHECK_ST(bitask_remove(db, KEY("never")), BITASK_NOT_FOUND);
    CHECK(h_dir_digest(dir) == before);
    CHECK_ST(bitask_remove(db, NULL, 3), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_remove(NULL, KEY("k")), BITASK_ERR_INVALID_ARGUMENT);
    bitask_close(db);
    /* The removal survives a reopen. */
    db = open_at(dir);
    if (!db)
        return;
    CHECK_ST(bitask_contains(db, KEY("k")), BITASK_NOT_FOUND);
    bitask_close(db);
}

/* Expiry without a clock to move: instants an hour ahead and long past. */
static void test_ttl(void) {
    const char *dir = h_path(0, "ttl");
    bitask *db = open_at(dir);
    if (!db)
        return;
    const uint64_t hour = 3600 * 1000;
    int64_t left = 0;
    CHECK_ST(bitask_put_ttl(db, KEY("soon"), KEY("v"), hour), BITASK_OK);
    CHECK_ST(bitask_ttl(db, KEY("soon"), &left), BITASK_OK);
    CHECK(left > 0 && left <= (int64_t)hour);
    CHECK_ST(bitask_put_expiring_at(db, KEY("past"), KEY("v"), 1), BITASK_OK);
    CHECK_ST(bitask_contains(db, KEY("past")), BITASK_NOT_FOUND);
    CHECK_ST(bitask_ttl(db, KEY("past"), &left), BITASK_NOT_FOUND);
    CHECK_ST(bitask_put_ttl(db, KEY("zero"), KEY("v"), 0), BITASK_OK);
    CHECK_ST(bitask_contains(db, KEY("zero")), BITASK_NOT_FOUND);
    bitask_stats s;
    CHECK_ST(bitask_stat(db, &s), BITASK_OK);
    CHECK(s.key_count == 1);

    CHECK_ST(bitask_put(db, KEY("plain"), KEY("v")), BITASK_OK);
    CHECK_ST(bitask_ttl(db, KEY("plain"), &left), BITASK_OK);
    CHECK(left == -1);
    uint64_t at = 7;
    CHECK_ST(bitask_expiry(db, KEY("plain"), &at), BITASK_OK);
    CHECK(at == 0);
    CHECK_ST(bitask_expiry(db, KEY("soon"), &at), BITASK_OK);
    CHECK(at > hour);
    CHECK_ST(bitask_expiry(db, KEY("past"), &at), BITASK_NOT_FOUND);
    CHECK(at == 0); /* out-parameters are cleared on failure */
    CHECK_ST(bitask_expiry(db, KEY("soon"), NULL), BITASK_ERR_INVALID_ARGUMENT);
    int32_t removed = 7;
    CHECK_ST(bitask_persist(db, KEY("plain"), &removed), BITASK_OK);
    CHECK(removed == 0);
    CHECK_ST(bitask_expire(db, KEY("plain"), hour), BITASK_OK);
    CHECK_ST(bitask_ttl(db, KEY("plain"), &left), BITASK_OK);
    CHECK(left > 0);
    CHECK_ST(bitask_persist(db, KEY("plain"), &removed), BITASK_OK);
    CHECK(removed == 1);
    CHECK_ST(bitask_persist(db, KEY("plain"), NULL), BITASK_OK);
    CHECK_ST(bitask_expire_at(db, KEY("plain"), 1), BITASK_OK);
    CHECK_ST(bitask_contains(db, KEY("plain")), BITASK_NOT_FOUND);

    CHECK_ST(bitask_expire(db, KEY("never"), hour), BITASK_NOT_FOUND);
    CHECK_ST(bitask_expire_at(db, KEY("never"), 1), BITASK_NOT_FOUND);
    removed = 5;
    CHECK_ST(bitask_persist(db, KEY("never"), &removed), BITASK_NOT_FOUND);
    CHECK(removed == 0);
    left = 5;
    CHECK_ST(bitask_ttl(db, KEY("never"), &left), BITASK_NOT_FOUND);
    CHECK(left == 0);
    CHECK_ST(bitask_ttl(db, KEY("soon"), NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_ttl(NULL, KEY("soon"), &left), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_put_ttl(NULL, KEY("k"), KEY("v"), 1), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_put_expiring_at(db, NULL, 0, KEY("v"), 1), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_expire(db, NULL, 2, 1), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_persist(NULL, KEY("k"), NULL), BITASK_ERR_INVALID_ARGUMENT);

    /* A batch member carries its expiry. */
    bitask_batch *b = bitask_batch_new();
    CHECK(b != NULL);
    CHECK_ST(bitask_batch_put_expiring_at(b, KEY("b1"), KEY("v"), 1), BITASK_OK);
    CHECK_ST(bitask_batch_put_expiring_at(b, KEY("b2"), KEY("v"), UINT64_MAX), BITASK_OK);
    CHECK_ST(bitask_batch_put_expiring_at(NULL, KEY("b2"), KEY("v"), 1), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_batch_put_expiring_at(b, NULL, 0, KEY("v"), 1), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_write(db, b, 0), BITASK_OK);
    bitask_batch_free(b);
    CHECK_ST(bitask_contains(db, KEY("b1")), BITASK_NOT_FOUND);
    CHECK_ST(bitask_expiry(db, KEY("b2"), &at), BITASK_OK);
    CHECK(at == UINT64_MAX);
    bitask_close(db);

    /* The expiry survives a reopen and a compaction. */
    db = open_at(dir);
    if (!db)
        return;
    CHECK_ST(bitask_ttl(db, KEY("soon"), &left), BITASK_OK);
    CHECK(left > 0);
    CHECK_ST(bitask_compact(db), BITASK_OK);
    CHECK_ST(bitask_ttl(db, KEY("soon"), &left), BITASK_OK);
    CHECK(left > 0);
    CHECK_ST(bitask_contains(db, KEY("past")), BITASK_NOT_FOUND);
    CHECK_ST(bitask_contains(db, KEY("plain")), BITASK_NOT_FOUND);
    bitask_close(db);
}

static void test_batches(void) {
    const char *dir = h_path(0, "batches");
    bitask *db = open_at(dir);
    if (!db)
        return;
    CHECK_ST(bitask_put(db, KEY("gone"), KEY("x")), BITASK_OK);
    bitask_batch *b = bitask_batch_new();
    CHECK(b != NULL);
    CHECK_ST(bitask_batch_put(b, KEY("a"), KEY("1")), BITASK_OK);
    CHECK_ST(bitask_batch_remove(b, KEY("gone")), BITASK_OK);
    CHECK_ST(bitask_batch_put(b, KEY("b"), NULL, 0), BITASK_OK);
    CHECK_ST(bitask_batch_put(b, NULL, 0, KEY("v")), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_batch_put(NULL, KEY("k"), KEY("v")), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_batch_remove(b, NULL, 2), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_write(db, b, 2), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_write(NULL, b, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_write(db, NULL, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_contains(db, KEY("a")), BITASK_NOT_FOUND);
    CHECK_ST(bitask_write(db, b, BITASK_WRITE_SYNC), BITASK_OK);
    CHECK_ST(bitask_contains(db, KEY("gone")), BITASK_NOT_FOUND);
    CHECK_ST(bitask_batch_clear(b), BITASK_OK);
    CHECK_ST(bitask_batch_clear(NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_write(db, b, 0), BITASK_OK);
    bitask_batch_free(b);
    bitask_batch_free(NULL);

    /* Multi-get: values back to back in the caller's buffer, a status per key. */
    const char keys[] = "abgonea";
    size_t lens[] = {1, 1, 4, 1};
    uint8_t buf[2];
    size_t offs[4], vlens[4];
    bitask_status sts[4];
    CHECK_ST(bitask_multi_get(db, 4, (const uint8_t *)keys, lens, buf, sizeof buf, offs, vlens,
                              sts),
             BITASK_OK);
    CHECK(sts[0] == BITASK_OK && vlens[0] == 1 && buf[offs[0]] == '1');
    CHECK(sts[1] == BITASK_OK && vlens[1] == 0);
    CHECK(sts[2] == BITASK_NOT_FOUND && vlens[2] == 0);
    CHECK(sts[3] == BITASK_OK && vlens[3] == 1 && offs[3] == 1 && buf[1] == '1');
    CHECK_ST(bitask_multi_get(db, 4, (const uint8_t *)keys, lens, buf, 1, offs, vlens, sts),
             BITASK_OK);
    CHECK(sts[0] == BITASK_OK && sts[3] == BITASK_BUFFER_TOO_SMALL && vlens[3] == 1);
    size_t zero[] = {1, 0};
    CHECK_ST(bitask_multi_get(db, 2, (const uint8_t *)keys, zero, buf, 2, offs, vlens, sts),
             BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_multi_get(db, 1, (const uint8_t *)keys, lens, buf, 2, NULL, vlens, sts),
             BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_multi_get(db, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL), BITASK_OK);

    /* Conditional writes. */
    CHECK_ST(bitask_put_if_absent(db, KEY("a"), KEY("2")), BITASK_KEY_EXISTS);
    CHECK_ST(bitask_put_if_absent(db, KEY("new"), KEY("n")), BITASK_OK);
    CHECK_ST(bitask_compare_and_set(db, KEY("a"), KEY("0"), KEY("3")), BITASK_MISMATCH);
    CHECK_ST(bitask_compare_and_set(db, KEY("a"), NULL, 0, KEY("3")), BITASK_MISMATCH);
    CHECK_ST(bitask_compare_and_set(db, KEY("a"), KEY("1"), KEY("3")), BITASK_OK);
    CHECK_ST(bitask_compare_and_set(db, KEY("b"), (const uint8_t *)"", 0, NULL, 0), BITASK_OK);
    CHECK_ST(bitask_contains(db, KEY("b")), BITASK_NOT_FOUND);
    CHECK_ST(bitask_compare_and_set(db, KEY("b"), NULL, 0, NULL, 0), BITASK_OK);
    CHECK_ST(bitask_compare_and_set(db, KEY("b"), NULL, 1, NULL, 0), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_put_if_absent(NULL, KEY("a"), KEY("2")), BITASK_ERR_INVALID_ARGUMENT);
    bitask_close(db);
    db = open_at(dir);
    if (!db)
        return;
    uint8_t v[4];
    size_t n = 0;
    CHECK_ST(bitask_get_into(db, KEY("a"), v, sizeof v, &n), BITASK_OK);
    CHECK(n == 1 && v[0] == '3');
    CHECK_ST(bitask_contains(db, KEY("gone")), BITASK_NOT_FOUND);
    CHECK_ST(bitask_contains(db, KEY("new")), BITASK_OK);
    bitask_close(db);
}

static void test_stat_compact_sync(void) {
    const char *dir = h_path(0, "compact");
    bitask_options *o = bitask_options_new();
    CHECK_ST(bitask_options_set_max_file_size(o, 256), BITASK_OK);
    bitask *db = NULL;
    CHECK_ST(bitask_open(dir, o, &db), BITASK_OK);
    bitask_options_free(o);
    if (!db)
        return;
    bitask_stats s;
    CHECK_ST(bitask_stat(db, &s), BITASK_OK);
    CHECK(s.key_count == 0 && s.live_bytes == 0 && s.dead_bytes == 0 && s.torn_bytes == 0);
    char key[32], val[64];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 40; i++) {
            snprintf(key, sizeof key, "key-%02d", i);
            snprintf(val, sizeof val, "value-%d-%d", i, round);
            CHECK_ST(bitask_put(db, KEY(key), KEY(val)), BITASK_OK);
        }
    }
    for (int i = 0; i < 40; i += 4) {
        snprintf(key, sizeof key, "key-%02d", i);
        CHECK_ST(bitask_remove(db, KEY(key)), BITASK_OK);
    }
    CHECK_ST(bitask_sync(db), BITASK_OK);
    CHECK_ST(bitask_stat(db, &s), BITASK_OK);
    CHECK(s.key_count == 30);
    CHECK(s.live_bytes > 0 && s.dead_bytes > 0);
    CHECK(s.data_files > 1 && s.disk_bytes >= s.live_bytes);
    CHECK_ST(bitask_compact(db), BITASK_OK);
    bitask_stats after;
    CHECK_ST(bitask_stat(db, &after), BITASK_OK);
    CHECK(after.key_count == 30 && after.dead_bytes == 0 && after.live_bytes == s.live_bytes);
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "key-%02d", i);
        snprintf(val, sizeof val, "value-%d-2", i);
        uint8_t *v = NULL;
        size_t n = 0;
        if (i % 4 == 0) {
            CHECK_ST(bitask_get(db, KEY(key), &v, &n), BITASK_NOT_FOUND);
        } else {
            CHECK_ST(bitask_get(db, KEY(key), &v, &n), BITASK_OK);
            CHECK(n == strlen(val) && memcmp(v, val, n) == 0);
            bitask_free(v);
        }
    }
    CHECK_ST(bitask_refresh(db), BITASK_OK); /* a no-op on a writer */
    memset(&s, 0xff, sizeof s);
    CHECK_ST(bitask_stat(NULL, &s), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(s.key_count == 0 && s.live_bytes == 0 && s.disk_bytes == 0 && s.torn_bytes == 0);
    CHECK_ST(bitask_stat(db, NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_compact(NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_sync(NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_refresh(NULL), BITASK_ERR_INVALID_ARGUMENT);
    bitask_close(db);
    /* Compacted files reopen. */
    db = open_at(dir);
    if (!db)
        return;
    CHECK_ST(bitask_stat(db, &s), BITASK_OK);
    CHECK(s.key_count == 30 && s.dead_bytes == 0);
    bitask_close(db);
}

static void test_read_only(void) {
    const char *dir = h_path(0, "readonly");
    bitask *w = open_at(dir);
    if (!w)
        return;
    CHECK_ST(bitask_put(w, KEY("a"), KEY("1")), BITASK_OK);
    bitask_options *o = bitask_options_new();
    CHECK_ST(bitask_options_set_read_only(o, true), BITASK_OK);
    bitask *r = NULL;
    CHECK_ST(bitask_open(dir, o, &r), BITASK_OK);
    bitask_options_free(o);
    if (!r) {
        bitask_close(w);
        return;
    }
    uint64_t before = h_dir_digest(dir);
    CHECK_ST(bitask_put(r, KEY("b"), KEY("2")), BITASK_ERR_READ_ONLY);
    CHECK_ST(bitask_remove(r, KEY("a")), BITASK_ERR_READ_ONLY);
    CHECK_ST(bitask_compact(r), BITASK_ERR_READ_ONLY);
    CHECK_ST(bitask_sync(r), BITASK_OK);
    CHECK(h_dir_digest(dir) == before);
    CHECK_ST(bitask_contains(r, KEY("a")), BITASK_OK);
    /* The reader sees later writes after a refresh. */
    CHECK_ST(bitask_put(w, KEY("b"), KEY("2")), BITASK_OK);
    CHECK_ST(bitask_remove(w, KEY("a")), BITASK_OK);
    CHECK_ST(bitask_contains(r, KEY("b")), BITASK_NOT_FOUND);
    CHECK_ST(bitask_refresh(r), BITASK_OK);
    CHECK_ST(bitask_contains(r, KEY("b")), BITASK_OK);
    CHECK_ST(bitask_contains(r, KEY("a")), BITASK_NOT_FOUND);
    /* And after a compaction. */
    CHECK_ST(bitask_put(w, KEY("c"), KEY("3")), BITASK_OK);
    CHECK_ST(bitask_compact(w), BITASK_OK);
    CHECK_ST(bitask_refresh(r), BITASK_OK);
    uint8_t buf[8];
    size_t n = 0;
    CHECK_ST(bitask_get_into(r, KEY("c"), buf, sizeof buf, &n), BITASK_OK);
    CHECK(n == 1 && buf[0] == '3');
    bitask_close(r);
    bitask_close(w);
}

struct kv {
    const char *k, *v;
};

static int collect(bitask *db, const char *prefix, struct kv *expect, size_t count) {
    bitask_iter *it = NULL;
    size_t plen = prefix ? strlen(prefix) : 0;
    bitask_status st = bitask_iter_new(db, (const uint8_t *)prefix, plen, &it);
    CHECK_ST(st, BITASK_OK);
    if (st != BITASK_OK)
        return 0;
    const uint8_t *k, *v;
    size_t kl, vl;
    size_t i = 0;
    int ok = 1;
    while ((st = bitask_iter_next(it, &k, &kl, &v, &vl)) == BITASK_OK) {
        CHECK(k != NULL && v != NULL);
        if (i >= count || kl != strlen(expect[i].k) || memcmp(k, expect[i].k, kl) != 0 ||
            vl != strlen(expect[i].v) || memcmp(v, expect[i].v, vl) != 0)
            ok = 0;
        i++;
    }
    CHECK_ST(st, BITASK_NOT_FOUND);
    CHECK(k == NULL && kl == 0 && v == NULL && vl == 0);
    CHECK_ST(bitask_iter_next(it, &k, &kl, &v, &vl), BITASK_NOT_FOUND);
    bitask_iter_free(it);
    return ok && i == count;
}

static void test_iteration(void) {
    bitask *db = open_at(h_path(0, "iter"));
    if (!db)
        return;
    struct kv none[1] = {{"", ""}};
    CHECK(collect(db, NULL, none, 0));
    const char *keys[] = {"b", "a", "ab", "abc", "b\x01", "c", "aa"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        CHECK_ST(bitask_put(db, KEY(keys[i]), KEY(keys[i])), BITASK_OK);
    CHECK_ST(bitask_put(db, KEY("e"), NULL, 0), BITASK_OK);
    struct kv all[] = {{"a", "a"},     {"aa", "aa"},     {"ab", "ab"}, {"abc", "abc"},
                       {"b", "b"},     {"b\x01", "b\x01"}, {"c", "c"}, {"e", ""}};
    CHECK(collect(db, NULL, all, 8));
    CHECK(collect(db, "", all, 8));
    struct kv pa[] = {{"a", "a"}, {"aa", "aa"}, {"ab", "ab"}, {"abc", "abc"}};
    CHECK(collect(db, "a", pa, 4));
    struct kv pab[] = {{"ab", "ab"}, {"abc", "abc"}};
    CHECK(collect(db, "ab", pab, 2));
    CHECK(collect(db, "zzz", none, 0));

    /* The key set is a snapshot; values are read as reached. */
    bitask_iter *it = NULL;
    CHECK_ST(bitask_iter_new(db, NULL, 0, &it), BITASK_OK);
    CHECK_ST(bitask_remove(db, KEY("aa")), BITASK_OK);
    CHECK_ST(bitask_put(db, KEY("ab"), KEY("new")), BITASK_OK);
    CHECK_ST(bitask_put(db, KEY("added"), KEY("later")), BITASK_OK);
    const uint8_t *k, *v;
    size_t kl, vl;
    CHECK_ST(bitask_iter_next(it, &k, &kl, &v, &vl), BITASK_OK);
    CHECK(kl == 1 && k[0] == 'a');
    CHECK_ST(bitask_iter_next(it, &k, &kl, &v, &vl), BITASK_OK);
    CHECK(kl == 2 && memcmp(k, "ab", 2) == 0 && vl == 3 && memcmp(v, "new", 3) == 0);
    int rest = 0, empty_seen = 0;
    while (bitask_iter_next(it, &k, &kl, &v, &vl) == BITASK_OK) {
        rest++;
        if (kl == 1 && k[0] == 'e')
            empty_seen = v != NULL && vl == 0;
    }
    CHECK(rest == 5 && empty_seen);
    bitask_iter_free(it);

    /* Argument errors. */
    it = (bitask_iter *)1;
    CHECK_ST(bitask_iter_new(NULL, NULL, 0, &it), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(it == NULL);
    CHECK_ST(bitask_iter_new(db, NULL, 0, NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_new(db, NULL, 2, &it), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_new(db, (const uint8_t *)"a", BITASK_MAX_KEY_LEN + 1, &it),
             BITASK_ERR_TOO_LARGE);
    CHECK(it == NULL);
    CHECK_ST(bitask_iter_next(NULL, &k, &kl, &v, &vl), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_new(db, NULL, 0, &it), BITASK_OK);
    CHECK_ST(bitask_iter_next(it, NULL, &kl, &v, &vl), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_next(it, &k, NULL, &v, &vl), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_next(it, &k, &kl, NULL, &vl), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_next(it, &k, &kl, &v, NULL), BITASK_ERR_INVALID_ARGUMENT);
    /* A failed call did not advance the iterator. */
    CHECK_ST(bitask_iter_next(it, &k, &kl, &v, &vl), BITASK_OK);
    CHECK(kl == 1 && k[0] == 'a');
    bitask_iter_free(it);
    bitask_iter_free(NULL);
    bitask_close(db);
}

/* Scans with bitask_iter_new_range: the keys it yields, joined by ',' (values checked to
 * equal their keys, or empty when keys_only), into out. */
static void scan_into(bitask *db, const char *prefix, const char *lower, const char *upper,
                      int flags, const char *seek, char *out, size_t cap) {
    bitask_iter *it = NULL;
    out[0] = '\0';
    CHECK_ST(bitask_iter_new_range(db, (const uint8_t *)prefix, prefix ? strlen(prefix) : 0,
                                   (const uint8_t *)lower, lower ? strlen(lower) : 0,
                                   (const uint8_t *)upper, upper ? strlen(upper) : 0, flags, &it),
             BITASK_OK);
    if (!it)
        return;
    if (seek)
        CHECK_ST(bitask_iter_seek(it, KEY(seek)), BITASK_OK);
    const uint8_t *k, *v;
    size_t kl, vl, used = 0;
    bitask_status st;
    while ((st = bitask_iter_next(it, &k, &kl, &v, &vl)) == BITASK_OK) {
        if (flags & BITASK_ITER_KEYS_ONLY)
            CHECK(v != NULL && vl == 0);
        else
            CHECK(vl == kl && memcmp(k, v, kl) == 0);
        if (used + kl + 2 < cap) {
            if (used)
                out[used++] = ',';
            memcpy(out + used, k, kl);
            used += kl;
            out[used] = '\0';
        }
    }
    CHECK_ST(st, BITASK_NOT_FOUND);
    bitask_iter_free(it);
}

#define CHECK_SCAN(db, prefix, lower, upper, flags, seek, want)                                 \
    do {                                                                                       \
        char got_[256];                                                                        \
        scan_into(db, prefix, lower, upper, flags, seek, got_, sizeof got_);                   \
        __atomic_add_fetch(&h_checks, 1, __ATOMIC_RELAXED);                                    \
        if (strcmp(got_, want) != 0) {                                                         \
            char what_[600];                                                                   \
            snprintf(what_, sizeof what_, "scan yielded \"%s\", expected \"%s\"", got_, want); \
            h_report(__FILE__, __LINE__, what_);                                               \
        }                                                                                      \
    } while (0)

static void test_range_scans(void) {
    bitask *db = open_at(h_path(0, "range"));
    if (!db)
        return;
    const char *keys[] = {"a", "ab", "abc", "b", "ba", "c", "d"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        CHECK_ST(bitask_put(db, KEY(keys[i]), KEY(keys[i])), BITASK_OK);
    const int R = BITASK_ITER_REVERSE, KO = BITASK_ITER_KEYS_ONLY;
    const int LX = BITASK_ITER_LOWER_EXCLUSIVE, UI = BITASK_ITER_UPPER_INCLUSIVE;
    CHECK_SCAN(db, NULL, NULL, NULL, 0, NULL, "a,ab,abc,b,ba,c,d");
    CHECK_SCAN(db, NULL, NULL, NULL, R, NULL, "d,c,ba,b,abc,ab,a");
    /* Lower inclusive and upper exclusive by default; the flags flip each. */
    CHECK_SCAN(db, NULL, "ab", "c", 0, NULL, "ab,abc,b,ba");
    CHECK_SCAN(db, NULL, "ab", "c", LX | UI, NULL, "abc,b,ba,c");
    CHECK_SCAN(db, NULL, "ab", "c", R | KO, NULL, "ba,b,abc,ab");
    CHECK_SCAN(db, "a", NULL, NULL, R, NULL, "abc,ab,a");
    CHECK_SCAN(db, "a", "ab", NULL, 0, NULL, "ab,abc");
    CHECK_SCAN(db, NULL, "c", "b", 0, NULL, "");
    /* A seek: the first key >= it forward, the last key <= it in reverse, within bounds. */
    CHECK_SCAN(db, NULL, NULL, NULL, 0, "bb", "c,d");
    CHECK_SCAN(db, NULL, NULL, NULL, R, "bb", "ba,b,abc,ab,a");
    CHECK_SCAN(db, NULL, "b", "d", 0, "a", "b,ba,c");
    CHECK_SCAN(db, NULL, "b", "d", R, "zz", "c,ba,b");

    /* A seek moves backwards too, and after the end. */
    bitask_iter *it = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    CHECK_ST(bitask_iter_new_range(db, NULL, 0, NULL, 0, NULL, 0, 0, &it), BITASK_OK);
    while (bitask_iter_next(it, &k, &kl, &v, &vl) == BITASK_OK) {
    }
    CHECK_ST(bitask_iter_seek(it, KEY("ba")), BITASK_OK);
    CHECK_ST(bitask_iter_next(it, &k, &kl, &v, &vl), BITASK_OK);
    CHECK(kl == 2 && memcmp(k, "ba", 2) == 0);

    /* Argument errors leave the iterator where it was. */
    CHECK_ST(bitask_iter_seek(NULL, KEY("a")), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_seek(it, NULL, 1), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_seek(it, KEY("")), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_seek(it, (const uint8_t *)"a", BITASK_MAX_KEY_LEN + 1),
             BITASK_ERR_TOO_LARGE);
    CHECK_ST(bitask_iter_next(it, &k, &kl, &v, &vl), BITASK_OK);
    CHECK(kl == 1 && k[0] == 'c');
    bitask_iter_free(it);
    it = (bitask_iter *)1;
    CHECK_ST(bitask_iter_new_range(db, NULL, 0, NULL, 0, NULL, 0, 16, &it),
             BITASK_ERR_INVALID_ARGUMENT);
    CHECK(it == NULL);
    CHECK_ST(bitask_iter_new_range(db, NULL, 0, NULL, 0, NULL, 0, -1, &it),
             BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_new_range(NULL, NULL, 0, NULL, 0, NULL, 0, 0, &it),
             BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_new_range(db, NULL, 0, NULL, 0, NULL, 0, 0, NULL),
             BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_new_range(db, NULL, 0, NULL, 3, NULL, 0, 0, &it),
             BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_new_range(db, NULL, 0, NULL, 0, NULL, 3, 0, &it),
             BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_iter_new_range(db, NULL, 0, (const uint8_t *)"a", BITASK_MAX_KEY_LEN + 1,
                                   NULL, 0, 0, &it),
             BITASK_ERR_TOO_LARGE);
    CHECK(it == NULL);
    bitask_close(db);
}

static void test_sync_modes_and_reopen(void) {
    int modes[] = {BITASK_SYNC_NONE, BITASK_SYNC_ALWAYS, BITASK_SYNC_INTERVAL};
    for (int m = 0; m < 3; m++) {
        char name[32];
        snprintf(name, sizeof name, "mode-%d", m);
        const char *dir = h_path(0, name);
        bitask_options *o = bitask_options_new();
        CHECK_ST(bitask_options_set_sync(o, modes[m]), BITASK_OK);
        CHECK_ST(bitask_options_set_sync_interval_ms(o, 5), BITASK_OK);
        CHECK_ST(bitask_options_set_max_file_size(o, 4096), BITASK_OK);
        bitask *db = NULL;
        CHECK_ST(bitask_open(dir, o, &db), BITASK_OK);
        if (!db) {
            bitask_options_free(o);
            continue;
        }
        char key[32];
        for (int i = 0; i < 200; i++) {
            snprintf(key, sizeof key, "k%03d", i);
            CHECK_ST(bitask_put(db, KEY(key), KEY(key)), BITASK_OK);
        }
        if (modes[m] == BITASK_SYNC_INTERVAL)
            nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL); /* let the flusher run */
        CHECK_ST(bitask_sync(db), BITASK_OK);
        bitask_close(db);
        db = NULL;
        CHECK_ST(bitask_open(dir, o, &db), BITASK_OK);
        bitask_options_free(o);
        if (!db)
            continue;
        bitask_stats s;
        CHECK_ST(bitask_stat(db, &s), BITASK_OK);
        CHECK(s.key_count == 200 && s.data_files > 1);
        uint8_t buf[8];
        size_t n = 0;
        CHECK_ST(bitask_get_into(db, KEY("k123"), buf, sizeof buf, &n), BITASK_OK);
        CHECK(n == 4 && memcmp(buf, "k123", 4) == 0);
        bitask_close(db);
    }
}

int main(int argc, char **argv) {
    h_setup(argc, argv);
    static const struct h_test tests[] = {
        H_TEST(test_version),         H_TEST(test_strerror),
        H_TEST(test_last_error_message), H_TEST(test_options),
        H_TEST(test_open_close),      H_TEST(test_put_get),
        H_TEST(test_get_into),        H_TEST(test_contains_remove), H_TEST(test_ttl),
        H_TEST(test_batches),
        H_TEST(test_stat_compact_sync), H_TEST(test_read_only),
        H_TEST(test_iteration),       H_TEST(test_range_scans),       H_TEST(test_sync_modes_and_reopen),
    };
    return h_run("test_api", tests, sizeof tests / sizeof tests[0]);
}
