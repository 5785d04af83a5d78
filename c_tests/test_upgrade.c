/* bitask_upgrade on stores in the format of bitask 0.1.1, made here byte by byte: what it
 * reads and reports, what it refuses without a change, and that the result opens as a
 * store. (tests/upgrade_0_1_1.rs runs upgrades of stores that 0.1.1 itself wrote.) */
#include "harness.h"

#include <fcntl.h>
#include <sys/file.h>

#define T0 1700000000000ull

/* CRC-32 (IEEE), as 0.1.1 computed it with crc32fast; chains like crc32fast's Hasher. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void le32(uint8_t *b, uint32_t v) {
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *b, uint64_t v) {
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

/* Appends a record of 0.1.1 (an empty value is a deletion) to buf at *len. */
static size_t add_record(uint8_t *buf, size_t *len, const char *key, const char *value,
                         uint64_t ts) {
    size_t kl = strlen(key), vl = strlen(value), at = *len;
    uint8_t *r = buf + at;
    uint32_t crc = crc32_update(crc32_update(0, (const uint8_t *)key, kl),
                                (const uint8_t *)value, vl);
    le32(r, crc);
    le64(r + 4, ts);
    le32(r + 12, (uint32_t)kl);
    le32(r + 16, (uint32_t)vl);
    memcpy(r + 20, key, kl);
    memcpy(r + 20 + kl, value, vl);
    *len += 20 + kl + vl;
    return at;
}

static void write_file(const char *path, const uint8_t *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(data, 1, len, f) == len);
        fclose(f);
    }
}

/* The whole file at path into buf (at most cap bytes); its length, or -1. */
static long read_file(const char *path, uint8_t *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return (long)n;
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A fresh, empty directory named name in the scratch directory; its path in slot. */
static const char *fresh_dir(int slot, const char *name) {
    const char *dir = h_path(slot, name);
    h_rm_tree(dir);
    CHECK(mkdir(dir, 0700) == 0);
    return dir;
}

/* Field by field: the padding between fields is not part of the report. */
static int report_is_zero(const bitask_upgrade_report *r) {
    int zero = r->files_read == 0 && r->records_read == 0 && r->tombstones == 0 &&
               r->keys_converted == 0 && r->unreadable_bytes == 0 && r->torn_bytes == 0 &&
               r->regions_total == 0 && r->regions_listed == 0 && !r->resumed;
    for (int i = 0; i < BITASK_UPGRADE_REGIONS; i++) {
        const bitask_upgrade_region *g = &r->regions[i];
        zero = zero && g->file_id == 0 && g->offset == 0 && g->length == 0 && !g->active_file &&
               !g->torn;
    }
    return zero;
}

static void test_arguments(void) {
    bitask_upgrade_report r;
    memset(&r, 0x5a, sizeof r);
    CHECK_ST(bitask_upgrade(NULL, &r), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(report_is_zero(&r));
    CHECK_ST(bitask_upgrade(h_path(0, "whatever"), NULL), BITASK_ERR_INVALID_ARGUMENT);
    CHECK_ST(bitask_upgrade("", &r), BITASK_ERR_INVALID_ARGUMENT);
    memset(&r, 0x5a, sizeof r);
    CHECK_ST(bitask_upgrade(h_path(0, "missing/dir"), &r), BITASK_ERR_NO_SUCH_PATH);
    CHECK(report_is_zero(&r));
    const char *file = h_path(1, "a-file");
    write_file(file, (const uint8_t *)"x", 1);
    CHECK_ST(bitask_upgrade(file, &r), BITASK_ERR_NOT_A_DIRECTORY);
}

static void test_what_is_not_a_store_of_0_1_1_is_refused_unchanged(void) {
    bitask_upgrade_report r;
    char msg[1024];
    const char *empty = fresh_dir(0, "empty");
    CHECK_ST(bitask_upgrade(empty, &r), BITASK_ERR_INCOMPATIBLE);
    bitask_last_error_message(msg, sizeof msg);
    CHECK(strstr(msg, "no data file of bitask 0.1.1") != NULL);
    CHECK(strstr(msg, "nothing was changed") != NULL);
    CHECK(!exists(h_path(1, "empty/db.lock"))); /* the lock file it made is gone again */

    const char *other = fresh_dir(0, "other");
    uint8_t buf[256];
    size_t len = 0;
    add_record(buf, &len, "k", "v", T0);
    write_file(h_path(1, "other/1700000000000.log"), buf, len);
    write_file(h_path(1, "other/notes.txt"), (const uint8_t *)"hi", 2);
    uint64_t before = h_dir_digest(other);
    CHECK_ST(bitask_upgrade(other, &r), BITASK_ERR_INCOMPATIBLE);
    bitask_last_error_message(msg, sizeof msg);
    CHECK(strstr(msg, "notes.txt") != NULL);
    CHECK(h_dir_digest(other) == before);
    CHECK(!exists(h_path(1, "other/db.lock")));

    const char *ours = fresh_dir(0, "ours");
    bitask *db = NULL;
    REQUIRE_ST(bitask_open(ours, NULL, &db), BITASK_OK);
    CHECK_ST(bitask_put(db, KEY("k"), KEY("v")), BITASK_OK);
    bitask_close(db);
    before = h_dir_digest(ours);
    CHECK_ST(bitask_upgrade(ours, &r), BITASK_ERR_INCOMPATIBLE);
    bitask_last_error_message(msg, sizeof msg);
    CHECK(strstr(msg, "already holds a store of this format") != NULL);
    CHECK(h_dir_digest(ours) == before);
    CHECK(report_is_zero(&r));
}

static void check_value(bitask *db, const char *key, const char *want) {
    uint8_t *v = NULL;
    size_t n = 0;
    if (!want) {
        CHECK_ST(bitask_get(db, KEY(key), &v, &n), BITASK_NOT_FOUND);
        return;
    }
    CHECK_ST(bitask_get(db, KEY(key), &v, &n), BITASK_OK);
    CHECK(v && n == strlen(want) && memcmp(v, want, n) == 0);
    bitask_free(v);
}

static void test_a_store_is_converted_and_its_damage_reported(void) {
    const char *dir = fresh_dir(0, "old");
    uint8_t sealed[512], active[512];
    size_t slen = 0, alen = 0;
    add_record(sealed, &slen, "a", "1", T0);
    add_record(sealed, &slen, "b", "2", T0 + 1);
    size_t damaged = add_record(sealed, &slen, "c", "only-c", T0 + 2);
    size_t damaged_len = slen - damaged;
    add_record(sealed, &slen, "e", "5", T0 + 3);
    sealed[damaged + damaged_len - 1] ^= 0x10; /* a flipped bit in c's value */
    add_record(active, &alen, "a", "4", T0 + 100);
    add_record(active, &alen, "b", "", T0 + 101); /* removes b */
    add_record(active, &alen, "d", "5", T0 + 102);
    size_t torn = add_record(active, &alen, "d", "cut-short", T0 + 103);
    alen -= 4; /* a crash in the middle of the last write */
    write_file(h_path(1, "old/1700000000000.log"), sealed, slen);
    write_file(h_path(1, "old/1700000000100.active.log"), active, alen);

    bitask_upgrade_report r;
    REQUIRE_ST(bitask_upgrade(dir, &r), BITASK_OK);
    CHECK(r.files_read == 2);
    CHECK(r.records_read == 6);
    CHECK(r.tombstones == 1);
    CHECK(r.keys_converted == 3); /* a, d, e */
    CHECK(r.unreadable_bytes == damaged_len);
    CHECK(r.torn_bytes == alen - torn);
    CHECK(r.regions_total == 2 && r.regions_listed == 2);
    CHECK(r.regions[0].file_id == T0 && !r.regions[0].active_file && !r.regions[0].torn);
    CHECK(r.regions[0].offset == damaged && r.regions[0].length == damaged_len);
    CHECK(r.regions[1].file_id == T0 + 100 && r.regions[1].active_file && r.regions[1].torn);
    CHECK(r.regions[1].offset == torn && r.regions[1].length == alen - torn);
    CHECK(r.regions[2].file_id == 0 && r.regions[2].length == 0);
    CHECK(!r.resumed);

    /* The 0.1.1 files, byte for byte, in the backup folder. */
    uint8_t got[512];
    CHECK(read_file(h_path(1, "old/bitask-0.1.1-backup/1700000000000.log"), got, sizeof got) ==
              (long)slen &&
          memcmp(got, sealed, slen) == 0);
    CHECK(read_file(h_path(1, "old/bitask-0.1.1-backup/1700000000100.active.log"), got,
                    sizeof got) == (long)alen &&
          memcmp(got, active, alen) == 0);
    CHECK(!exists(h_path(1, "old/1700000000000.log")));
    CHECK(!exists(h_path(1, "old/0.bitask-upgrade")));

    bitask *db = NULL;
    REQUIRE_ST(bitask_open(dir, NULL, &db), BITASK_OK);
    check_value(db, "a", "4");
    check_value(db, "b", NULL);
    check_value(db, "c", NULL); /* its only put was damaged: never converted */
    check_value(db, "d", "5");
    check_value(db, "e", "5");
    bitask_stats s;
    CHECK_ST(bitask_stat(db, &s), BITASK_OK);
    CHECK(s.key_count == 3);
    bitask_close(db);

    uint64_t before = h_dir_digest(dir);
    CHECK_ST(bitask_upgrade(dir, &r), BITASK_ERR_INCOMPATIBLE);
    CHECK(h_dir_digest(dir) == before);
    CHECK(report_is_zero(&r));
}

static void test_the_writer_lock_is_taken(void) {
    const char *dir = fresh_dir(0, "locked");
    uint8_t buf[64];
    size_t len = 0;
    add_record(buf, &len, "k", "v", T0);
    write_file(h_path(1, "locked/1700000000000.active.log"), buf, len);
    /* As a running 0.1.1 holds it (its lock is an flock too). */
    int fd = open(h_path(1, "locked/db.lock"), O_RDWR | O_CREAT, 0600);
    CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);
    uint64_t before = h_dir_digest(dir);
    bitask_upgrade_report r;
    CHECK_ST(bitask_upgrade(dir, &r), BITASK_ERR_WRITER_LOCK);
    char msg[1024];
    bitask_last_error_message(msg, sizeof msg);
    CHECK(strstr(msg, "db.lock is held") != NULL);
    CHECK(h_dir_digest(dir) == before);
    close(fd);
    CHECK_ST(bitask_upgrade(dir, &r), BITASK_OK);
    CHECK(r.keys_converted == 1);
}

static void test_the_report_lists_the_first_regions(void) {
    const char *dir = fresh_dir(0, "many");
    uint8_t buf[4096];
    size_t len = 0;
    size_t at[10];
    for (int i = 0; i < 10; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        at[i] = add_record(buf, &len, key, "value", T0 + (uint64_t)i);
        buf[len - 1] ^= 1; /* damaged */
        add_record(buf, &len, key, "good", T0 + (uint64_t)i);
    }
    write_file(h_path(1, "many/1700000000000.active.log"), buf, len);
    bitask_upgrade_report r;
    REQUIRE_ST(bitask_upgrade(dir, &r), BITASK_OK);
    CHECK(r.regions_total == 10);
    CHECK(r.regions_listed == BITASK_UPGRADE_REGIONS);
    for (int i = 0; i < BITASK_UPGRADE_REGIONS; i++)
        CHECK(r.regions[i].offset == at[i] && r.regions[i].length == 27 && !r.regions[i].torn);
    CHECK(r.unreadable_bytes == 270);
    CHECK(r.keys_converted == 10 && r.records_read == 10);
}

int main(int argc, char **argv) {
    h_setup(argc, argv);
    static const struct h_test tests[] = {
        H_TEST(test_arguments),
        H_TEST(test_what_is_not_a_store_of_0_1_1_is_refused_unchanged),
        H_TEST(test_a_store_is_converted_and_its_damage_reported),
        H_TEST(test_the_writer_lock_is_taken),
        H_TEST(test_the_report_lists_the_first_regions),
    };
    return h_run("test_upgrade", tests, sizeof tests / sizeof tests[0]);
}
