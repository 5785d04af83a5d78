/*
 * The commands that look after a store as a whole: backup (a hot backup), verify (a
 * read-only check) and repair (keeping what is intact).
 */
#ifndef BITASK_CLI_TOOLS_H
#define BITASK_CLI_TOOLS_H

#include "cli.h"
#include "store.h"

/* Where bitask_repair moves what it replaces or cannot read, inside the store's directory. */
#define QUARANTINE_DIR "bitask-quarantine"

/* Prints s as a JSON string: quotes, backslashes and control characters escaped. */
static void json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_verify_report(const bitask_verify_report *r) {
    const struct {
        const char *name;
        uint64_t value;
    } figures[] = {{"data_files", r->data_files}, {"hint_files", r->hint_files},
                   {"records", r->records},       {"torn_bytes", r->torn_bytes},
                   {"problems", r->problems_total}};
    size_t count = sizeof figures / sizeof figures[0];
    for (size_t i = 0; i < count; i++) {
        unsigned long long value = (unsigned long long)figures[i].value;
        if (opt.json)
            printf("%s\"%s\": %llu", i ? ", " : "{", figures[i].name, value);
        else
            printf("%s %llu\n", figures[i].name, value);
    }
    if (opt.json)
        fputs(", \"listed\": [", stdout);
    for (uint64_t i = 0; i < r->problems_listed; i++) {
        const bitask_problem *p = &r->problems[i];
        if (opt.json) {
            fputs(i ? ", {\"file\": " : "{\"file\": ", stdout);
            json_string(p->file);
            printf(", \"offset\": %llu, \"reason\": ", (unsigned long long)p->offset);
            json_string(p->reason);
            putchar('}');
        } else {
            printf("problem %s %llu %s\n", p->file, (unsigned long long)p->offset, p->reason);
        }
    }
    if (opt.json)
        fputs("]}\n", stdout);
}

/* Checks the store in dir without opening it or changing anything; exit 3 when anything is
 * wrong. */
static int cmd_verify(char **args) {
    (void)args;
    bitask_verify_report r;
    bitask_status st = bitask_verify_path(dir, &r);
    if (st != BITASK_OK) {
        char what[4200];
        snprintf(what, sizeof what, "verify %s", dir);
        return fail(what, st);
    }
    print_verify_report(&r);
    if (r.problems_total == 0)
        return EXIT_OK;
    fprintf(stderr, "bitask: verify: %llu problem%s in %s; bitask DIR repair keeps every intact "
                    "record\n",
            (unsigned long long)r.problems_total, r.problems_total == 1 ? "" : "s", dir);
    return EXIT_UNREADABLE;
}

/* Repairs the store in dir under its writer lock; exit 3 when records were lost or problems
 * remain. */
static int cmd_repair(char **args) {
    (void)args;
    bitask_repair_report r;
    bitask_status st;
    struct lock_wait w = lock_wait_start();
    while ((st = bitask_repair(dir, &r)) == BITASK_ERR_WRITER_LOCK && lock_wait_more(&w))
        ;
    if (st != BITASK_OK) {
        char what[4200];
        snprintf(what, sizeof what, "repair %s", dir);
        return st == BITASK_ERR_WRITER_LOCK ? locked(what) : fail(what, st);
    }
    printf("records_kept %llu\n", (unsigned long long)r.records_kept);
    printf("files_rewritten %llu\n", (unsigned long long)r.files_rewritten);
    printf("unreadable_bytes %llu\n", (unsigned long long)r.unreadable_bytes);
    printf("records_lost %llu\n", (unsigned long long)r.records_lost);
    printf("keys_lost %llu\n", (unsigned long long)r.keys_lost);
    printf("keys_rolled_back %llu\n", (unsigned long long)r.keys_rolled_back);
    printf("tombstones_rebuilt %llu\n", (unsigned long long)r.tombstones_rebuilt);
    printf("files_quarantined %llu\n", (unsigned long long)r.files_quarantined);
    printf("problems_remaining %llu\n", (unsigned long long)r.problems_remaining);
    if (r.files_quarantined)
        fprintf(stderr, "bitask: repair: the originals are kept in %s/%s\n", dir, QUARANTINE_DIR);
    int lost = r.unreadable_bytes || r.records_lost || r.problems_remaining;
    return lost ? EXIT_UNREADABLE : EXIT_OK;
}

/* Writes a consistent copy of the store in dir into DEST (an earlier backup of it is
 * brought up to date). */
static int cmd_backup(char **args) {
    bitask *db;
    int rc = open_store(WRITE_EXISTING, &db);
    if (rc != EXIT_OK)
        return rc;
    bitask_checkpoint_report r;
    bitask_status st = bitask_checkpoint(db, args[0], &r);
    if (st == BITASK_OK) {
        printf("linked %llu\n", (unsigned long long)r.linked);
        printf("copied %llu\n", (unsigned long long)r.copied);
        printf("kept %llu\n", (unsigned long long)r.kept);
        printf("removed %llu\n", (unsigned long long)r.removed);
        printf("bytes_copied %llu\n", (unsigned long long)r.bytes_copied);
    } else {
        char what[4200];
        snprintf(what, sizeof what, "backup into %s", args[0]);
        rc = fail(what, st);
    }
    bitask_close(db);
    return rc;
}

#endif
