/*
 * The commands of the directory-first form, bitask DIR COMMAND ARGUMENTS.
 */
#ifndef BITASK_CLI_COMMANDS_H
#define BITASK_CLI_COMMANDS_H

#include "cli.h"
#include "dump_format.h"
#include "store.h"

/* Stores one pair durably; the exit status. `what` names the command in errors. */
static int store_pair(const uint8_t *key, size_t klen, const uint8_t *v, size_t vlen,
                      const char *what) {
    bitask *db;
    int rc = open_store(0, &db);
    if (rc == EXIT_OK) {
        bitask_status st = bitask_put(db, key, klen, v, vlen);
        rc = finish_writes(db, st == BITASK_OK ? EXIT_OK : fail(what, st));
    }
    return rc;
}

/* Prints the value of a key, then a newline; the exit status (EXIT_NOT_FOUND, silently, for
 * an absent key). */
static int print_value(const uint8_t *key, size_t klen, int escaped, const char *what) {
    bitask *db;
    int rc = open_store(1, &db);
    if (rc != EXIT_OK)
        return rc;
    uint8_t *v = NULL;
    size_t n = 0;
    bitask_status st = bitask_get(db, key, klen, &v, &n);
    if (st == BITASK_OK) {
        if (escaped)
            encode(stdout, v, n, 0);
        else
            fwrite(v, 1, n, stdout);
        putchar('\n');
        bitask_free(v);
    } else {
        rc = st == BITASK_NOT_FOUND ? EXIT_NOT_FOUND : fail(what, st);
    }
    bitask_close(db);
    return rc;
}

static int cmd_put(char *key, char *value, int escaped) {
    size_t klen, vlen;
    if (!arg_bytes(key, escaped, &klen))
        return EXIT_ERROR;
    uint8_t *input = NULL;
    const uint8_t *v = (const uint8_t *)value;
    if (strcmp(value, "-") == 0) {
        input = read_all(stdin, &vlen);
        if (!input) {
            perror("bitask: reading standard input");
            return EXIT_ERROR;
        }
        v = input;
    } else if (!arg_bytes(value, escaped, &vlen)) {
        return EXIT_ERROR;
    }
    int rc = store_pair((const uint8_t *)key, klen, v, vlen, "put");
    free(input);
    return rc;
}

static int cmd_get(char *key, int escaped) {
    size_t klen;
    if (!arg_bytes(key, escaped, &klen))
        return EXIT_ERROR;
    return print_value((const uint8_t *)key, klen, escaped, "get");
}

static int cmd_del(char *key, int escaped) {
    size_t klen;
    if (!arg_bytes(key, escaped, &klen))
        return EXIT_ERROR;
    bitask *db;
    int rc = open_store(0, &db);
    if (rc != EXIT_OK)
        return rc;
    bitask_status st = bitask_remove(db, (const uint8_t *)key, klen);
    if (st == BITASK_NOT_FOUND)
        rc = EXIT_NOT_FOUND;
    else if (st != BITASK_OK)
        rc = fail("del", st);
    return finish_writes(db, rc);
}

/* list (with_values 0) and dump (1). */
static int cmd_iterate(char *prefix, int escaped, int with_values) {
    size_t plen = 0;
    if (prefix && !arg_bytes(prefix, escaped, &plen))
        return EXIT_ERROR;
    bitask *db;
    int rc = open_store(1, &db);
    if (rc != EXIT_OK)
        return rc;
    bitask_iter *it = NULL;
    bitask_status st = bitask_iter_new(db, (const uint8_t *)prefix, plen, &it);
    if (st != BITASK_OK) {
        bitask_close(db);
        return fail("iterate", st);
    }
    if (with_values)
        fputs("# bitask dump 1\n", stdout);
    const uint8_t *k, *v;
    size_t kl, vl;
    while ((st = bitask_iter_next(it, &k, &kl, &v, &vl)) == BITASK_OK) {
        encode(stdout, k, kl, 1);
        if (with_values) {
            putchar(' ');
            encode(stdout, v, vl, 0);
        }
        putchar('\n');
    }
    if (st != BITASK_NOT_FOUND)
        rc = fail("iterate", st);
    bitask_iter_free(it);
    bitask_close(db);
    return rc;
}

static int cmd_load(void) {
    bitask *db;
    int rc = open_store(0, &db);
    if (rc != EXIT_OK)
        return rc;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long lineno = 0, stored = 0;
    while (rc == EXIT_OK && (got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (n == 0 || line[0] == '#')
            continue;
        char *space = memchr(line, ' ', n);
        long klen = -1, vlen = -1;
        if (space) {
            klen = decode(line, (size_t)(space - line));
            vlen = decode(space + 1, n - (size_t)(space - line) - 1);
        }
        if (klen <= 0 || vlen < 0) {
            fprintf(stderr, "bitask: load: line %ld: expected \"KEY VALUE\" in the dump format\n",
                    lineno);
            rc = EXIT_ERROR;
            break;
        }
        bitask_status st = bitask_put(db, (const uint8_t *)line, (size_t)klen,
                                      (const uint8_t *)space + 1, (size_t)vlen);
        if (st != BITASK_OK) {
            char what[64];
            snprintf(what, sizeof what, "load: line %ld", lineno);
            rc = fail(what, st);
        } else {
            stored++;
        }
    }
    free(line);
    if (rc == EXIT_OK && ferror(stdin)) {
        perror("bitask: load: reading standard input");
        rc = EXIT_ERROR;
    }
    rc = finish_writes(db, rc);
    if (rc == EXIT_OK)
        fprintf(stderr, "bitask: loaded %ld pairs\n", stored);
    return rc;
}

static int cmd_stats(void) {
    bitask *db;
    int rc = open_store(1, &db);
    if (rc != EXIT_OK)
        return rc;
    bitask_stats s;
    bitask_status st = bitask_stat(db, &s);
    if (st == BITASK_OK) {
        printf("key_count %llu\n", (unsigned long long)s.key_count);
        printf("live_bytes %llu\n", (unsigned long long)s.live_bytes);
        printf("dead_bytes %llu\n", (unsigned long long)s.dead_bytes);
        printf("data_files %llu\n", (unsigned long long)s.data_files);
        printf("disk_bytes %llu\n", (unsigned long long)s.disk_bytes);
        printf("torn_bytes %llu\n", (unsigned long long)s.torn_bytes);
    } else {
        rc = fail("stats", st);
    }
    bitask_close(db);
    return rc;
}

static int cmd_compact(void) {
    bitask *db;
    int rc = open_store(0, &db);
    if (rc != EXIT_OK)
        return rc;
    bitask_status st = bitask_compact(db);
    return finish_writes(db, st == BITASK_OK ? EXIT_OK : fail("compact", st));
}

/* Converts the store of bitask 0.1.1 in dir; prints the report, one "name value" line per
 * figure as stats does, then a line per region that could not be read: "unreadable FILE
 * OFFSET LENGTH" or "torn FILE OFFSET LENGTH". Exit 3 when any byte was unreadable (a torn
 * tail, a write a crash cut short, is not). */
static int cmd_upgrade(void) {
    bitask_upgrade_report r;
    bitask_status st = bitask_upgrade(dir, &r);
    if (st != BITASK_OK) {
        char what[4200];
        snprintf(what, sizeof what, "upgrade %s", dir);
        return fail(what, st);
    }
    printf("files_read %llu\n", (unsigned long long)r.files_read);
    printf("records_read %llu\n", (unsigned long long)r.records_read);
    printf("tombstones %llu\n", (unsigned long long)r.tombstones);
    printf("keys_converted %llu\n", (unsigned long long)r.keys_converted);
    printf("unreadable_bytes %llu\n", (unsigned long long)r.unreadable_bytes);
    printf("torn_bytes %llu\n", (unsigned long long)r.torn_bytes);
    for (uint64_t i = 0; i < r.regions_listed; i++) {
        const bitask_upgrade_region *g = &r.regions[i];
        printf("%s %llu.%slog %llu %llu\n", g->torn ? "torn" : "unreadable",
               (unsigned long long)g->file_id, g->active_file ? "active." : "",
               (unsigned long long)g->offset, (unsigned long long)g->length);
    }
    if (r.regions_total > r.regions_listed)
        printf("regions_not_listed %llu\n",
               (unsigned long long)(r.regions_total - r.regions_listed));
    printf("backup %s/%s\n", dir, UPGRADE_BACKUP_DIR);
    fprintf(stderr, "bitask: %s %s from bitask 0.1.1; its files are kept in %s/%s: remove that "
                    "folder once the upgraded store is checked\n",
            r.resumed ? "finished upgrading" : "upgraded", dir, dir, UPGRADE_BACKUP_DIR);
    if (r.unreadable_bytes == 0)
        return EXIT_OK;
    fprintf(stderr, "bitask: upgrade: %llu bytes of the 0.1.1 files could not be read (the "
                    "\"unreadable\" lines); the store holds every record that could\n",
            (unsigned long long)r.unreadable_bytes);
    return EXIT_UNREADABLE;
}

#endif
