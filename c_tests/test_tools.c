/*
 * The C interface of the store's tools: bitask_checkpoint (a hot backup that opens as the
 * store), bitask_verify and bitask_verify_path (nothing on an intact store, each damage
 * reported with its file and offset, nothing changed), bitask_repair (a damaged store
 * opens again with every intact record, the original in bitask-quarantine).
 */
#include "harness.h"

#include <fcntl.h>

static bitask *open_at(const char *path) {
    bitask *db = NULL;
    bitask_status st = bitask_open(path, NULL, &db);
    CHECK_ST(st, BITASK_OK);
    return db;
}

static void put_three(bitask *db) {
    CHECK_ST(bitask_put(db, KEY("one"), KEY("1")), BITASK_OK);
    CHECK_ST(bitask_put(db, KEY("two"), KEY("2")), BITASK_OK);
    CHECK_ST(bitask_put(db, KEY("three"), KEY("3")), BITASK_OK);
}

static int value_is(bitask *db, const char *key, const char *want) {
    uint8_t *v = NULL;
    size_t n = 0;
    if (bitask_get(db, KEY(key), &v, &n) != BITASK_OK)
        return 0;
    int same = n == strlen(want) && memcmp(v, want, n) == 0;
    bitask_free(v);
    return same;
}

/* The name of the active file of the store in dir, into name. */
static int active_file(const char *dir, char *name, size_t cap) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 11 && strcmp(e->d_name + n - 11, ".active.log") == 0) {
            snprintf(name, cap, "%s", e->d_name);
            found = 1;
        }
    }
    if (d)
        closedir(d);
    return found;
}

static void test_checkpoint(void) {
    const char *path = h_path(0, "backed-up");
    const char *dest = h_path(1, "backup");
    bitask *db = open_at(path);
    if (!db)
        return;
    put_three(db);
    bitask_checkpoint_report r;
    REQUIRE_ST(bitask_checkpoint(db, dest, &r), BITASK_OK);
    CHECK(r.copied == 1 && r.kept == 0 && r.bytes_copied > 0);
    CHECK_ST(bitask_put(db, KEY("four"), KEY("4")), BITASK_OK);
    CHECK_ST(bitask_checkpoint(db, dest, NULL), BITASK_OK);
    CHECK_ST(bitask_checkpoint(db, NULL, &r), BITASK_ERR_INVALID_ARGUMENT);
    CHECK(r.copied == 0);
    CHECK_ST(bitask_checkpoint(NULL, dest, &r), BITASK_ERR_INVALID_ARGUMENT);
    const char *foreign = h_path(2, "foreign");
    mkdir(foreign, 0700);
    FILE *f = fopen(h_path(3, "foreign/notes.txt"), "w");
    fputs("mine", f);
    fclose(f);
    uint64_t before = h_dir_digest(foreign);
    CHECK_ST(bitask_checkpoint(db, foreign, &r), BITASK_ERR_INCOMPATIBLE);
    CHECK(h_dir_digest(foreign) == before);
    bitask_close(db);
    bitask *copy = open_at(dest);
    if (!copy)
        return;
    CHECK(value_is(copy, "two", "2") && value_is(copy, "four", "4"));
    bitask_close(copy);
}

static void test_verify_and_repair(void) {
    const char *path = h_path(0, "damaged");
    bitask *db = open_at(path);
    if (!db)
        return;
    put_three(db);
    bitask_verify_report v;
    REQUIRE_ST(bitask_verify(db, &v), BITASK_OK);
    CHECK(v.problems_total == 0 && v.records == 3 && v.data_files == 1);
    CHECK_ST(bitask_verify(db, NULL), BITASK_ERR_INVALID_ARGUMENT);
    bitask_close(db);

    char name[256], file[4400];
    REQUIRE_ST(active_file(path, name, sizeof name) ? BITASK_OK : BITASK_ERR_IO, BITASK_OK);
    snprintf(file, sizeof file, "%s/%s", path, name);
    /* The value of the first record: 52-byte file header, 29-byte record header, "one". */
    int fd = open(file, O_WRONLY);
    CHECK(fd >= 0 && pwrite(fd, "\377", 1, 52 + 29 + 3) == 1);
    close(fd);
    uint64_t before = h_dir_digest(path);
    REQUIRE_ST(bitask_verify_path(path, &v), BITASK_OK);
    CHECK(h_dir_digest(path) == before);
    CHECK(v.problems_total == 1 && v.problems_listed == 1 && v.records == 2);
    CHECK(strcmp(v.problems[0].file, name) == 0 && v.problems[0].offset == 52);
    CHECK(strstr(v.problems[0].reason, "checksum") != NULL);

    bitask_repair_report r;
    REQUIRE_ST(bitask_repair(path, &r), BITASK_OK);
    CHECK(r.records_kept == 2 && r.records_lost == 1 && r.files_rewritten == 1);
    CHECK(r.files_quarantined == 1 && r.problems_remaining == 0);
    char kept[4400];
    snprintf(kept, sizeof kept, "%s/bitask-quarantine/%s", path, name);
    CHECK(access(kept, F_OK) == 0);
    db = open_at(path);
    if (!db)
        return;
    CHECK(value_is(db, "two", "2") && value_is(db, "three", "3"));
    CHECK_ST(bitask_contains(db, KEY("one")), BITASK_NOT_FOUND);
    CHECK_ST(bitask_repair(path, &r), BITASK_ERR_WRITER_LOCK);
    bitask_close(db);
    CHECK_ST(bitask_repair(h_path(1, "no-store-here"), &r), BITASK_ERR_NO_SUCH_PATH);
}

int main(int argc, char **argv) {
    h_setup(argc, argv);
    static const struct h_test tests[] = {
        H_TEST(test_checkpoint),
        H_TEST(test_verify_and_repair),
    };
    return h_run("test_tools", tests, sizeof tests / sizeof tests[0]);
}
