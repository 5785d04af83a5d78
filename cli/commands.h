/*
 * The commands of the directory-first form, bitask DIR COMMAND ARGUMENTS.
 */
#ifndef BITASK_CLI_COMMANDS_H
#define BITASK_CLI_COMMANDS_H

#include "cli.h"
#include "dump_format.h"
#include "store.h"
#include "tools.h"

/* SECONDS of --wait, --ttl and expire: digits, with a fraction or not. Returns 0 when it is not such a number. */
static int parse_seconds(const char *a, double *out) {
    size_t whole = strspn(a, "0123456789"), frac = 0;
    if (a[whole] == '.')
        frac = 1 + strspn(a + whole + 1, "0123456789");
    if (whole + frac == 0 || (whole == 0 && frac == 1) || a[whole + frac] != '\0')
        return 0;
    *out = strtod(a, NULL); /* the "C" locale's decimal point: the tool never sets a locale */
    return 1;
}

/* SECONDS (of --ttl or expire) in milliseconds, rounded to the nearest. */
static uint64_t seconds_to_ms(double s) {
    double ms = s * 1000.0 + 0.5;
    return ms >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)ms;
}

/* Stores one pair durably (expiring after --ttl, when given); the exit status. `what` names
 * the command in errors. */
static int store_pair(const uint8_t *key, size_t klen, const uint8_t *v, size_t vlen,
                      const char *what) {
    bitask *db;
    int rc = open_store(WRITE, &db);
    if (rc == EXIT_OK) {
        bitask_status st = opt.has_ttl
                               ? bitask_put_ttl(db, key, klen, v, vlen, seconds_to_ms(opt.ttl_s))
                               : bitask_put(db, key, klen, v, vlen);
        rc = finish_writes(db, st == BITASK_OK ? EXIT_OK : fail(what, st));
    }
    return rc;
}

/* Prints the value of a key, then a newline unless -n; the exit status (EXIT_NOT_FOUND,
 * silently, for an absent key).
 *
 * The newline follows the value wherever the output goes, as sqlite3, redis-cli, etcdctl,
 * git config --get and bitask 0.1.1's ask do: what a script gets is what the terminal showed,
 * line tools and read see a whole line, and $(bitask DIR get K) drops it anyway. A newline
 * only on terminals would make "bitask DIR get K | cat" differ from "bitask DIR get K". For
 * the value's exact bytes (binary values, files), -n leaves the newline out, as echo -n does. */
static int print_value(const uint8_t *key, size_t klen, int escaped, const char *what) {
    bitask *db;
    int rc = open_store(READ, &db);
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
        if (!opt.no_newline)
            putchar('\n');
        bitask_free(v);
    } else {
        rc = st == BITASK_NOT_FOUND ? EXIT_NOT_FOUND : fail(what, st);
    }
    bitask_close(db);
    return rc;
}

static int cmd_put(char **args) {
    char *key = args[0], *value = args[1];
    size_t klen, vlen;
    if (!arg_bytes(key, "put", "KEY", &klen))
        return EXIT_ERROR;
    uint8_t *input = NULL;
    const uint8_t *v = (const uint8_t *)value;
    if (strcmp(value, "-") == 0) {
        int rc = read_value(stdin, &input, &vlen);
        if (rc != EXIT_OK)
            return rc;
        v = input;
    } else if (!arg_bytes(value, "put", "VALUE", &vlen)) {
        return EXIT_ERROR;
    }
    int rc = store_pair((const uint8_t *)key, klen, v, vlen, "put");
    free(input);
    return rc;
}

/* put-if-absent: writes nothing, and exits 1, when KEY has a value. */
static int cmd_add(char **args) {
    size_t klen, vlen;
    if (!arg_bytes(args[0], "add", "KEY", &klen) || !arg_bytes(args[1], "add", "VALUE", &vlen))
        return EXIT_ERROR;
    bitask *db;
    int rc = open_store(WRITE, &db);
    if (rc != EXIT_OK)
        return rc;
    bitask_status st = bitask_put_if_absent(db, (const uint8_t *)args[0], klen,
                                            (const uint8_t *)args[1], vlen);
    if (st == BITASK_KEY_EXISTS)
        rc = EXIT_NOT_FOUND;
    else if (st != BITASK_OK)
        rc = fail("add", st);
    return finish_writes(db, rc);
}

/* get with several keys: one "KEY VALUE" line in the dump format for each key found, in the
 * order given, all read as of one moment (bitask_multi_get); EXIT_NOT_FOUND when any is
 * absent. */
static int print_values(char **args, size_t count) {
    size_t *lens = calloc(count, sizeof *lens), total = 0;
    for (size_t i = 0; lens && i < count; i++) {
        if (!arg_bytes(args[i], "get", "KEY", &lens[i])) {
            free(lens);
            return EXIT_ERROR;
        }
        total += lens[i];
    }
    size_t *offsets = calloc(count, sizeof *offsets), *vlens = calloc(count, sizeof *vlens);
    bitask_status *sts = calloc(count, sizeof *sts);
    uint8_t *keys = malloc(total ? total : 1), *buf = NULL;
    int rc = EXIT_OK;
    if (!lens || !offsets || !vlens || !sts || !keys) {
        fputs("bitask: get: out of memory\n", stderr);
        rc = EXIT_ERROR;
    }
    for (size_t i = 0, at = 0; rc == EXIT_OK && i < count; at += lens[i], i++)
        memcpy(keys + at, args[i], lens[i]);
    bitask *db = NULL;
    if (rc == EXIT_OK)
        rc = open_store(READ, &db);
    size_t cap = 1 << 16;
    while (rc == EXIT_OK) {
        uint8_t *grown = realloc(buf, cap);
        if (!grown) {
            fputs("bitask: get: out of memory\n", stderr);
            rc = EXIT_ERROR;
            break;
        }
        buf = grown;
        bitask_status st = bitask_multi_get(db, count, keys, lens, buf, cap, offsets, vlens, sts);
        if (st != BITASK_OK) {
            rc = fail("get", st);
            break;
        }
        size_t need = 0;
        int small = 0;
        for (size_t i = 0; i < count; i++) {
            need += vlens[i];
            small |= sts[i] == BITASK_BUFFER_TOO_SMALL;
        }
        if (!small)
            break;
        cap = need; /* enough for every value: the next call copies them all */
    }
    for (size_t i = 0, at = 0; rc == EXIT_OK && i < count; at += lens[i], i++) {
        if (sts[i] == BITASK_NOT_FOUND)
            continue;
        encode(stdout, keys + at, lens[i], ENCODE_KEY);
        putchar(' ');
        encode(stdout, buf + offsets[i], vlens[i], 0);
        putchar('\n');
    }
    for (size_t i = 0; rc == EXIT_OK && i < count; i++)
        if (sts[i] == BITASK_NOT_FOUND)
            rc = EXIT_NOT_FOUND;
    if (db)
        bitask_close(db);
    free(buf);
    free(keys);
    free(sts);
    free(vlens);
    free(offsets);
    free(lens);
    return rc;
}

static int cmd_get(char **args) {
    size_t count = 0;
    while (args[count])
        count++;
    if (count > 1)
        return print_values(args, count);
    size_t klen;
    if (!arg_bytes(args[0], "get", "KEY", &klen))
        return EXIT_ERROR;
    return print_value((const uint8_t *)args[0], klen, opt.escaped, "get");
}

/* compare-and-set: stores NEW under KEY only while its value is OLD; exits 1, writing
 * nothing, when it is not (or KEY has no value). */
static int cmd_cas(char **args) {
    size_t klen, olen, nlen;
    if (!arg_bytes(args[0], "cas", "KEY", &klen) || !arg_bytes(args[1], "cas", "OLD", &olen) ||
        !arg_bytes(args[2], "cas", "NEW", &nlen))
        return EXIT_ERROR;
    bitask *db;
    int rc = open_store(WRITE_EXISTING, &db);
    if (rc != EXIT_OK)
        return rc;
    bitask_status st =
        bitask_compare_and_set(db, (const uint8_t *)args[0], klen, (const uint8_t *)args[1],
                               olen, (const uint8_t *)args[2], nlen);
    if (st == BITASK_MISMATCH)
        rc = EXIT_NOT_FOUND;
    else if (st != BITASK_OK)
        rc = fail("cas", st);
    return finish_writes(db, rc);
}

static int cmd_del(char **args) {
    char *key = args[0];
    size_t klen;
    if (!arg_bytes(key, "del", "KEY", &klen))
        return EXIT_ERROR;
    bitask *db;
    int rc = open_store(WRITE_EXISTING, &db);
    if (rc != EXIT_OK)
        return rc;
    bitask_status st = bitask_remove(db, (const uint8_t *)key, klen);
    if (st == BITASK_NOT_FOUND)
        rc = EXIT_NOT_FOUND;
    else if (st != BITASK_OK)
        rc = fail("del", st);
    return finish_writes(db, rc);
}

/* ttl: the seconds KEY has left (to the millisecond), or -1 when it does not expire. */
static int cmd_ttl(char **args) {
    size_t klen;
    if (!arg_bytes(args[0], "ttl", "KEY", &klen))
        return EXIT_ERROR;
    bitask *db;
    int rc = open_store(READ, &db);
    if (rc != EXIT_OK)
        return rc;
    int64_t left = 0;
    bitask_status st = bitask_ttl(db, (const uint8_t *)args[0], klen, &left);
    if (st == BITASK_OK && left < 0)
        puts("-1");
    else if (st == BITASK_OK)
        printf("%lld.%03lld\n", (long long)(left / 1000), (long long)(left % 1000));
    else
        rc = st == BITASK_NOT_FOUND ? EXIT_NOT_FOUND : fail("ttl", st);
    bitask_close(db);
    return rc;
}

/* expire KEY SECONDS: KEY keeps its value and expires SECONDS from now. */
static int cmd_expire(char **args) {
    size_t klen;
    double s;
    if (!arg_bytes(args[0], "expire", "KEY", &klen))
        return EXIT_ERROR;
    if (!parse_seconds(args[1], &s)) {
        fprintf(stderr, "bitask: expire: SECONDS is not a number: '%.200s'\n", args[1]);
        return EXIT_ERROR;
    }
    bitask *db;
    int rc = open_store(WRITE_EXISTING, &db);
    if (rc != EXIT_OK)
        return rc;
    bitask_status st = bitask_expire(db, (const uint8_t *)args[0], klen, seconds_to_ms(s));
    if (st == BITASK_NOT_FOUND)
        rc = EXIT_NOT_FOUND;
    else if (st != BITASK_OK)
        rc = fail("expire", st);
    return finish_writes(db, rc);
}

/* persist KEY: KEY keeps its value and no longer expires. */
static int cmd_persist(char **args) {
    size_t klen;
    if (!arg_bytes(args[0], "persist", "KEY", &klen))
        return EXIT_ERROR;
    bitask *db;
    int rc = open_store(WRITE_EXISTING, &db);
    if (rc != EXIT_OK)
        return rc;
    bitask_status st = bitask_persist(db, (const uint8_t *)args[0], klen, NULL);
    if (st == BITASK_NOT_FOUND)
        rc = EXIT_NOT_FOUND;
    else if (st != BITASK_OK)
        rc = fail("persist", st);
    return finish_writes(db, rc);
}

enum iterate_mode { LIST, DUMP, COUNT };

/* list and dump: the pairs whose keys start with prefix (any, for NULL). list --json prints
 * a JSON array of the keys, each a string holding the key's dump encoding: JSON strings hold
 * text, not bytes, and the encoding spells any key in ASCII, the same way list does, so that
 * get -e takes a key back from either. */
static int cmd_iterate(char *prefix, enum iterate_mode mode) {
    size_t plen = 0, from_len = 0, to_len = 0;
    static const char *const names[] = {"list", "dump", "count"};
    if (prefix && !arg_bytes(prefix, names[mode], "PREFIX", &plen))
        return EXIT_ERROR;
    if (opt.from && !arg_bytes(opt.from, names[mode], "--from KEY", &from_len))
        return EXIT_ERROR;
    if (opt.to && !arg_bytes(opt.to, names[mode], "--to KEY", &to_len))
        return EXIT_ERROR;
    bitask *db;
    int rc = open_store(READ, &db);
    if (rc != EXIT_OK)
        return rc;
    bitask_iter *it = NULL;
    int flags = BITASK_ITER_UPPER_INCLUSIVE | (opt.reverse ? BITASK_ITER_REVERSE : 0) |
                (mode == LIST || mode == COUNT ? BITASK_ITER_KEYS_ONLY : 0);
    bitask_status st =
        bitask_iter_new_range(db, (const uint8_t *)prefix, plen, (const uint8_t *)opt.from,
                              from_len, (const uint8_t *)opt.to, to_len, flags, &it);
    if (st != BITASK_OK) {
        bitask_close(db);
        return fail("iterate", st);
    }
    int json = opt.json && mode == LIST;
    if (mode == DUMP)
        fputs("# bitask dump 1\n", stdout);
    if (json)
        fputs("[", stdout);
    const uint8_t *k, *v;
    size_t kl, vl;
    long n = 0;
    while ((st = bitask_iter_next(it, &k, &kl, &v, &vl)) == BITASK_OK) {
        if (mode == COUNT) {
            /* nothing to print */
        } else if (json) {
            fputs(n ? ",\n  \"" : "\n  \"", stdout);
            encode(stdout, k, kl, ENCODE_KEY | ENCODE_JSON);
            putchar('"');
        } else {
            uint64_t at = 0;
            if (mode == DUMP) {
                st = bitask_expiry(db, k, kl, &at);
                if (st == BITASK_NOT_FOUND)
                    continue; /* it expired since the iterator read it */
                if (st != BITASK_OK)
                    break;
            }
            encode(stdout, k, kl, ENCODE_KEY);
            if (mode == DUMP) {
                putchar(' ');
                encode(stdout, v, vl, 0);
                if (at)
                    printf(" %llu", (unsigned long long)at);
            }
            putchar('\n');
        }
        n++;
    }
    if (json)
        fputs(n ? "\n]\n" : "]\n", stdout);
    if (mode == COUNT && st == BITASK_NOT_FOUND)
        printf("%ld\n", n);
    if (st != BITASK_NOT_FOUND)
        rc = fail("iterate", st);
    bitask_iter_free(it);
    bitask_close(db);
    return rc;
}

/* The version of the dump format that load reads and dump writes. */
#define DUMP_VERSION "1"
#define DUMP_VERSION_LINE "# bitask dump "

/* What is wrong with a line of a dump, or NULL; *column (from 1) tells where. Decodes the key
 * and the value in place, into their lengths. */
static const char *parse_pair(char *line, size_t n, size_t *column, long *klen, char **value,
                              long *vlen, uint64_t *expiry, struct decode_error *e) {
    /* A third field of digits, after a second space: the expiry, milliseconds since the Unix
     * epoch (a VALUE never holds a space: it is written \x20). Anything else after a second
     * space is a space inside the VALUE, and reported as such below. */
    *expiry = 0;
    char *first = memchr(line, ' ', n);
    char *second = first ? memchr(first + 1, ' ', n - (size_t)(first + 1 - line)) : NULL;
    const char *at = second ? second + 1 : NULL;
    size_t an = at ? n - (size_t)(at - line) : 0;
    if (at && an > 0 && strspn(at, "0123456789") >= an) {
        if (an > 19) {
            *column = (size_t)(at - line) + 1;
            return "the EXPIRY is too large";
        }
        *expiry = strtoull(at, NULL, 10);
        if (*expiry == 0) {
            *column = (size_t)(at - line) + 1;
            return "the EXPIRY cannot be 0";
        }
        n = (size_t)(second - line);
    }
    char *space = memchr(line, ' ', n);
    size_t kn = space ? (size_t)(space - line) : n;
    *column = 1;
    if (kn == 0)
        return "the KEY is missing";
    if ((*klen = decode(line, kn, e)) < 0) {
        *column = e->at + 1;
        return e->why;
    }
    if (*klen == 0)
        return "a KEY cannot be empty";
    *column = kn + 1;
    if (!space)
        return "expected a space, then the VALUE";
    *value = space + 1;
    size_t vn = n - kn - 1;
    *column = kn + 2;
    if (vn == 0)
        return "the VALUE is missing (the empty value is written \"\")";
    if ((*vlen = decode(*value, vn, e)) < 0) {
        *column = kn + 2 + e->at;
        return e->why;
    }
    return NULL;
}

/* Reads a dump from standard input into the store. On a malformed line it stops, says where
 * and what, and makes the pairs before it durable, as it says it stored them. */
static int cmd_load(char **args) {
    (void)args;
    bitask *db;
    int rc = open_store(WRITE, &db);
    if (rc != EXIT_OK)
        return rc;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long lineno = 0, stored = 0;
    int show = progress_wanted();
    struct timespec shown;
    clock_gettime(CLOCK_MONOTONIC, &shown);
    if (show)
        progress("bitask: load: line 0, no pair stored yet");
    while (rc == EXIT_OK && (got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        /* A dump that went through a program that writes CRLF reads the same: a CR of the
         * data is always written \x0d, so a CR before the LF is the line's end. */
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (show && (lineno & 1023) == 0 && seconds_since(&shown) >= 0.25) {
            progress("bitask: load: line %ld, %ld pairs stored", lineno, stored);
            clock_gettime(CLOCK_MONOTONIC, &shown);
        }
        if (n == 0)
            continue;
        if (line[0] == '#') {
            /* A version line, at the start of a dump or of a dump appended to another, must
             * be this version's: a later format may mean other things by the same text. */
            size_t vl = strlen(DUMP_VERSION_LINE);
            if (n >= vl && memcmp(line, DUMP_VERSION_LINE, vl) == 0 &&
                (n - vl != strlen(DUMP_VERSION) || memcmp(line + vl, DUMP_VERSION, n - vl) != 0)) {
                progress_clear();
                fprintf(stderr,
                        "bitask: load: line %ld: dump version %.*s is not supported (this bitask "
                        "reads version " DUMP_VERSION ")\n",
                        lineno, (int)(n - vl > 40 ? 40 : n - vl), line + vl);
                rc = EXIT_ERROR;
            }
            continue;
        }
        size_t column;
        long klen = -1, vlen = -1;
        uint64_t expiry = 0;
        char *value = NULL;
        struct decode_error e;
        const char *why = parse_pair(line, n, &column, &klen, &value, &vlen, &expiry, &e);
        if (why) {
            progress_clear();
            fprintf(stderr, "bitask: load: line %ld, column %zu: %s\n", lineno, column, why);
            rc = EXIT_ERROR;
            break;
        }
        bitask_status st =
            expiry ? bitask_put_expiring_at(db, (const uint8_t *)line, (size_t)klen,
                                            (const uint8_t *)value, (size_t)vlen, expiry)
                   : bitask_put(db, (const uint8_t *)line, (size_t)klen, (const uint8_t *)value,
                                (size_t)vlen);
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
        progress_clear();
        perror("bitask: load: reading standard input");
        rc = EXIT_ERROR;
    }
    progress_clear();
    int synced = finish_writes(db, EXIT_OK);
    if (rc == EXIT_OK && synced == EXIT_OK) {
        fprintf(stderr, "bitask: loaded %ld pairs\n", stored);
    } else if (synced == EXIT_OK) {
        char pairs[64];
        snprintf(pairs, sizeof pairs, stored == 1 ? "the 1 pair before it" : "the %ld pairs before it",
                 stored);
        fprintf(stderr, "bitask: load: stopped at line %ld, having stored %s\n", lineno,
                stored ? pairs : "no pair");
    }
    return rc != EXIT_OK ? rc : synced;
}

/* Reads operations from standard input, a put a line in the dump format ("KEY VALUE") or a
 * removal ("KEY" alone), and applies them as one batch: all of them, durably, or none. A
 * malformed line writes nothing. */
static int cmd_batch(char **args) {
    (void)args;
    bitask_batch *batch = bitask_batch_new();
    if (!batch) {
        fputs("bitask: batch: out of memory\n", stderr);
        return EXIT_ERROR;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long lineno = 0, ops = 0;
    int rc = EXIT_OK;
    while (rc == EXIT_OK && (got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (n == 0 || line[0] == '#')
            continue;
        size_t column = 1;
        long klen = -1, vlen = -1;
        char *value = NULL;
        uint64_t expiry = 0;
        struct decode_error e;
        const char *why = NULL;
        bitask_status st = BITASK_OK;
        if (!memchr(line, ' ', n)) {
            if ((klen = decode(line, n, &e)) < 0) {
                column = e.at + 1;
                why = e.why;
            } else if (klen == 0) {
                why = "a KEY cannot be empty";
            } else {
                st = bitask_batch_remove(batch, (const uint8_t *)line, (size_t)klen);
            }
        } else if (!(why = parse_pair(line, n, &column, &klen, &value, &vlen, &expiry, &e))) {
            st = expiry ? bitask_batch_put_expiring_at(batch, (const uint8_t *)line, (size_t)klen,
                                                       (const uint8_t *)value, (size_t)vlen,
                                                       expiry)
                        : bitask_batch_put(batch, (const uint8_t *)line, (size_t)klen,
                                           (const uint8_t *)value, (size_t)vlen);
        }
        if (why) {
            fprintf(stderr, "bitask: batch: line %ld, column %zu: %s; nothing written\n", lineno,
                    column, why);
            rc = EXIT_ERROR;
        } else if (st != BITASK_OK) {
            char what[64];
            snprintf(what, sizeof what, "batch: line %ld", lineno);
            rc = fail(what, st);
        } else {
            ops++;
        }
    }
    free(line);
    if (rc == EXIT_OK && ferror(stdin)) {
        perror("bitask: batch: reading standard input");
        rc = EXIT_ERROR;
    }
    bitask *db = NULL;
    if (rc == EXIT_OK)
        rc = open_store(WRITE, &db);
    if (rc == EXIT_OK) {
        bitask_status st = bitask_write(db, batch, BITASK_WRITE_SYNC);
        rc = finish_writes(db, st == BITASK_OK ? EXIT_OK : fail("batch", st));
        if (rc == EXIT_OK)
            fprintf(stderr, "bitask: wrote a batch of %ld operation%s\n", ops, ops == 1 ? "" : "s");
    }
    bitask_batch_free(batch);
    return rc;
}

static int cmd_stats(char **args) {
    (void)args;
    bitask *db;
    int rc = open_store(READ, &db);
    if (rc != EXIT_OK)
        return rc;
    bitask_stats s;
    bitask_status st = bitask_stat(db, &s);
    if (st == BITASK_OK) {
        const struct {
            const char *name;
            uint64_t value;
        } figures[] = {{"key_count", s.key_count},   {"live_bytes", s.live_bytes},
                       {"dead_bytes", s.dead_bytes}, {"data_files", s.data_files},
                       {"disk_bytes", s.disk_bytes}, {"torn_bytes", s.torn_bytes}};
        size_t count = sizeof figures / sizeof figures[0];
        for (size_t i = 0; i < count; i++) {
            unsigned long long value = (unsigned long long)figures[i].value;
            if (opt.json)
                printf("%s\"%s\": %llu%s", i ? ", " : "{", figures[i].name, value,
                       i + 1 < count ? "" : "}\n");
            else
                printf("%s %llu\n", figures[i].name, value);
        }
    } else {
        rc = fail("stats", st);
    }
    bitask_close(db);
    return rc;
}

static const char *merge_reason_name(uint32_t reason) {
    switch (reason) {
    case BITASK_MERGE_FRAGMENTED: return "fragmented";
    case BITASK_MERGE_DEAD_BYTES: return "dead-bytes";
    case BITASK_MERGE_SMALL: return "small";
    default: return "older";
    }
}

static const char *merge_why_not_name(uint32_t why) {
    switch (why) {
    case BITASK_MERGE_DUE: return "none";
    case BITASK_MERGE_NO_SEALED_FILES: return "no-sealed-files";
    case BITASK_MERGE_BELOW_TRIGGERS: return "below-triggers";
    case BITASK_MERGE_NOTHING_WORTH_MERGING: return "nothing-worth-merging";
    case BITASK_MERGE_OUTSIDE_WINDOW: return "outside-window";
    case BITASK_MERGE_NO_SPACE: return "no-space";
    default: return "read-only";
    }
}

/* compact --dry-run: the report of bitask_needs_merge, as text or JSON. */
static void print_merge_report(const bitask_merge_report *r) {
    const struct {
        const char *name;
        uint64_t value;
    } figures[] = {{"read_bytes", r->read_bytes},
                   {"write_bytes", r->write_bytes},
                   {"reclaim_bytes", r->reclaim_bytes},
                   {"store_record_bytes", r->store_record_bytes},
                   {"store_dead_bytes", r->store_dead_bytes},
                   {"files", r->files_total}};
    size_t count = sizeof figures / sizeof figures[0];
    if (opt.json)
        printf("{\"due\": %s, \"why_not\": \"%s\"", r->due ? "true" : "false",
               merge_why_not_name(r->why_not));
    else
        printf("due %s\nwhy_not %s\n", r->due ? "yes" : "no", merge_why_not_name(r->why_not));
    for (size_t i = 0; i < count; i++) {
        unsigned long long v = (unsigned long long)figures[i].value;
        if (opt.json)
            printf(", \"%s\": %llu", figures[i].name, v);
        else
            printf("%s %llu\n", figures[i].name, v);
    }
    if (opt.json)
        printf(", \"listed\": [");
    for (uint64_t i = 0; i < r->files_listed; i++) {
        const bitask_merge_file *f = &r->files[i];
        const char *fmt = opt.json ? "%s{\"id\": %llu, \"reason\": \"%s\", \"file_bytes\": %llu, "
                                     "\"live_bytes\": %llu, \"dead_bytes\": %llu}"
                                   : "%sfile %llu %s %llu %llu %llu\n";
        printf(fmt, opt.json && i ? ", " : "", (unsigned long long)f->file_id,
               merge_reason_name(f->reason), (unsigned long long)f->file_bytes,
               (unsigned long long)f->live_bytes, (unsigned long long)f->dead_bytes);
    }
    if (opt.json)
        printf("]}\n");
}

static int cmd_compact(char **args) {
    (void)args;
    bitask *db;
    int rc = open_store(WRITE_EXISTING, &db);
    if (rc != EXIT_OK)
        return rc;
    if (opt.dry_run) {
        bitask_merge_report r;
        bitask_status st = bitask_needs_merge(db, &r);
        if (st == BITASK_OK)
            print_merge_report(&r);
        bitask_close(db);
        return st == BITASK_OK ? EXIT_OK : fail("compact --dry-run", st);
    }
    bitask_stats s;
    if (progress_wanted() && bitask_stat(db, &s) == BITASK_OK)
        progress("bitask: compact: merging %llu data file%s (%llu live bytes, %llu dead)...",
                 (unsigned long long)s.data_files, s.data_files == 1 ? "" : "s",
                 (unsigned long long)s.live_bytes, (unsigned long long)s.dead_bytes);
    bitask_status st = bitask_compact(db);
    progress_clear();
    return finish_writes(db, st == BITASK_OK ? EXIT_OK : fail("compact", st));
}

/* Converts the store of bitask 0.1.1 in dir; prints the report, one "name value" line per
 * figure as stats does, then a line per region that could not be read: "unreadable FILE
 * OFFSET LENGTH" or "torn FILE OFFSET LENGTH". Exit 3 when any byte was unreadable (a torn
 * tail, a write a crash cut short, is not). */
static int cmd_upgrade(char **args) {
    (void)args;
    bitask_upgrade_report r;
    bitask_status st;
    struct lock_wait w = lock_wait_start();
    if (progress_wanted())
        progress("bitask: upgrade: converting %s...", dir);
    while ((st = bitask_upgrade(dir, &r)) == BITASK_ERR_WRITER_LOCK && lock_wait_more(&w))
        ;
    progress_clear();
    if (st != BITASK_OK) {
        char what[4200];
        snprintf(what, sizeof what, "upgrade %s", dir);
        return st == BITASK_ERR_WRITER_LOCK ? locked(what) : fail(what, st);
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

static int cmd_list(char **args) { return cmd_iterate(args[0], LIST); }

static int cmd_dump(char **args) { return cmd_iterate(args[0], DUMP); }

/* The keys that start with PREFIX, or lie between --from and --to, are counted by walking
 * them; all of them, from the key directory's count, without reading any. */
static int cmd_count(char **args) {
    if (args[0] || opt.from || opt.to)
        return cmd_iterate(args[0], COUNT);
    bitask *db;
    int rc = open_store(READ, &db);
    if (rc != EXIT_OK)
        return rc;
    bitask_stats s;
    bitask_status st = bitask_stat(db, &s);
    if (st == BITASK_OK)
        printf("%llu\n", (unsigned long long)s.key_count);
    else
        rc = fail("count", st);
    bitask_close(db);
    return rc;
}

static int cmd_exists(char **args) {
    size_t klen;
    if (!arg_bytes(args[0], "exists", "KEY", &klen))
        return EXIT_ERROR;
    bitask *db;
    int rc = open_store(READ, &db);
    if (rc != EXIT_OK)
        return rc;
    bitask_status st = bitask_contains(db, (const uint8_t *)args[0], klen);
    if (st == BITASK_NOT_FOUND)
        rc = EXIT_NOT_FOUND;
    else if (st != BITASK_OK)
        rc = fail("exists", st);
    bitask_close(db);
    return rc;
}

/* --- the table of commands ------------------------------------------------------------ */

/* Which options a command's help lists besides the ones every command takes. */
enum {
    TAKES_ENCODED = 1,
    TAKES_NO_NEWLINE = 2,
    TAKES_JSON = 4,
    TAKES_WAIT = 8,                /* upgrade, and the writers */
    TAKES_OPEN_OPTIONS = 16,       /* --sync and --max-file-size: the writers that open */
    TAKES_RANGE = 32,              /* --from, --to and --reverse: list, count, dump */
    TAKES_DRY_RUN = 64,            /* compact */
    TAKES_TTL = 128,               /* --ttl: put */
    WRITER = TAKES_WAIT | TAKES_OPEN_OPTIONS
};

/* max_args of a command that takes any number of arguments (get KEY...). */
#define ANY_ARGS 0x7fffffff

struct command {
    const char *name;
    /* Its arguments as its usage line shows them: "KEY VALUE", "[PREFIX]", "". */
    const char *args;
    int min_args, max_args;
    unsigned takes;
    /* args holds max_args entries, NULL past the ones given. */
    int (*run)(char **args);
    /* Its line in --help, continuation lines indented to the column of the first. */
    const char *summary;
    /* For bitask help NAME: what it does, and its exit statuses. */
    const char *details, *exits;
};

static const struct command commands[] = {
    {"put", "KEY VALUE", 2, 2, TAKES_ENCODED | WRITER | TAKES_TTL, cmd_put,
     "store VALUE under KEY; VALUE - reads the value from standard input",
     "Stores VALUE under KEY, replacing any value it had, and makes the write durable before\n"
     "exiting. A VALUE of - reads the value from standard input (binary data welcome); with -e,\n"
     "\\x2d is the value \"-\". With --ttl SECONDS, KEY expires SECONDS from now: from then on\n"
     "it is absent. Creates DIR when it does not exist (not its parents).\n",
     "Exit status: 0 stored, 2 usage error or failure, 4 locked by another writer.\n"},
    {"add", "KEY VALUE", 2, 2, TAKES_ENCODED | WRITER, cmd_add,
     "store VALUE under KEY only when KEY has no value",
     "Stores VALUE under KEY when KEY has no value, durably; when it has one, writes nothing.\n"
     "The check and the write are one step against every other writer.\n",
     "Exit status: 0 stored, 1 KEY already has a value, 2 usage error or failure, 4 locked by\n"
     "another writer.\n"},
    {"cas", "KEY OLD NEW", 3, 3, TAKES_ENCODED | WRITER, cmd_cas,
     "store NEW under KEY only while its value is OLD (compare-and-set)",
     "Stores NEW under KEY, durably, when the value of KEY is OLD; when it is another value,\n"
     "or KEY has none, writes nothing. The comparison and the write are one step against\n"
     "every other writer.\n",
     "Exit status: 0 stored, 1 the value of KEY is not OLD (nothing written), 2 usage error or\n"
     "failure (also when DIR holds no store), 4 locked by another writer.\n"},
    {"get", "KEY...", 1, ANY_ARGS, TAKES_ENCODED | TAKES_NO_NEWLINE, cmd_get,
     "print the value of KEY, then a newline (-n: the value alone);\n"
     "                  of several KEYs, \"KEY VALUE\" lines in the dump format",
     "Prints the value of KEY, then a newline, wherever the output goes (as sqlite3 and\n"
     "redis-cli do); -n prints the value's bytes alone. A missing key prints nothing. The\n"
     "keys that list prints are KEYs for get -e:\n"
     "  bitask DIR list | while IFS= read -r k; do bitask -e DIR get \"$k\"; done\n"
     "With several KEYs, all are read as of one moment (a batch written meanwhile is seen\n"
     "whole or not at all), and each one found is printed as a line \"KEY VALUE\" in the dump\n"
     "format, in the order given: load reads them back. Missing keys print nothing.\n",
     "Exit status: 0 found (every KEY), 1 not found (some KEY), 2 usage error or failure.\n"},
    {"exists", "KEY", 1, 1, TAKES_ENCODED, cmd_exists, "exit 0 when KEY has a value, 1 when not",
     "Tells, by its exit status alone, whether KEY has a value, without reading it.\n",
     "Exit status: 0 present, 1 absent, 2 usage error or failure.\n"},
    {"del", "KEY", 1, 1, TAKES_ENCODED | WRITER, cmd_del, "remove KEY",
     "Removes KEY, durably. A missing key writes nothing.\n",
     "Exit status: 0 removed, 1 not found, 2 usage error or failure, 4 locked by another\n"
     "writer.\n"},
    {"ttl", "KEY", 1, 1, TAKES_ENCODED, cmd_ttl,
     "print the seconds KEY has left before it expires (-1: it does not)",
     "Prints the seconds KEY has left before it expires, to the millisecond (\"4.250\"), or -1\n"
     "when it does not expire, then a newline. A missing or expired key prints nothing.\n",
     "Exit status: 0 found, 1 not found, 2 usage error or failure.\n"},
    {"expire", "KEY SECONDS", 2, 2, TAKES_ENCODED | WRITER, cmd_expire,
     "make KEY expire SECONDS from now, keeping its value",
     "Makes KEY expire SECONDS (fractions too) from now, keeping its value, durably: its\n"
     "record is written again with the new expiry. 0 makes it absent at once. A missing key\n"
     "writes nothing.\n",
     "Exit status: 0 done, 1 not found, 2 usage error or failure, 4 locked by another\n"
     "writer.\n"},
    {"persist", "KEY", 1, 1, TAKES_ENCODED | WRITER, cmd_persist,
     "make KEY never expire, keeping its value",
     "Removes the expiry of KEY, keeping its value, durably. A key that does not expire, or a\n"
     "missing one, writes nothing.\n",
     "Exit status: 0 done, 1 not found, 2 usage error or failure, 4 locked by another\n"
     "writer.\n"},
    {"list", "[PREFIX]", 0, 1, TAKES_ENCODED | TAKES_JSON | TAKES_RANGE, cmd_list,
     "print the keys (those starting with PREFIX), one a line, in byte order,\n"
     "                  in the dump encoding",
     "Prints the keys, or those that start with PREFIX, one a line in key byte order, each in\n"
     "the dump encoding (so a key's spaces, newlines and other bytes cannot break the lines),\n"
     "which get -e, del -e and list -e take back. With --json, a JSON array of strings, each\n"
     "holding a key in the dump encoding: JSON strings hold text, and the encoding spells any\n"
     "bytes in ASCII, so a key \"a b\" is \"a\\\\x20b\" in the JSON text. --from KEY and --to KEY\n"
     "keep the keys from KEY and up to KEY (both included), and --reverse prints them in\n"
     "descending order.\n",
     "Exit status: 0 done (also when no key matches), 2 usage error or failure.\n"},
    {"count", "[PREFIX]", 0, 1, TAKES_ENCODED | TAKES_RANGE, cmd_count,
     "print the number of keys (that start with PREFIX)",
     "Prints the number of keys, or of those that start with PREFIX (and lie between --from KEY\n"
     "and --to KEY, both included), then a newline.\n",
     "Exit status: 0 done, 2 usage error or failure.\n"},
    {"stats", "", 0, 0, TAKES_JSON, cmd_stats, "print figures about the store, one \"name value\" a line",
     "Prints key_count, live_bytes, dead_bytes, data_files, disk_bytes and torn_bytes, one\n"
     "\"name value\" a line (see bitask_stats in bitask.h); with --json, one JSON object of\n"
     "the same names and numbers.\n",
     "Exit status: 0 done, 2 usage error or failure.\n"},
    {"verify", "", 0, 0, TAKES_JSON, cmd_verify,
     "check every record, hint and seal without changing anything",
     "Reads every data file of DIR without opening the store or changing anything, checks\n"
     "every record's checksum (reading on past damage), every hint file against its data\n"
     "file, the seals, each file's store tag and the order of sequence numbers, and prints\n"
     "data_files, hint_files, records, torn_bytes and problems, one \"name value\" a line,\n"
     "then a line \"problem FILE OFFSET REASON\" for each of the first 8 problems; with\n"
     "--json, one JSON object of the same names, with the problems listed in \"listed\".\n",
     "Exit status: 0 intact, 2 usage error or failure, 3 problems found (listed).\n"},
    {"compact", "", 0, 0, WRITER | TAKES_JSON | TAKES_DRY_RUN, cmd_compact,
     "merge the data files, dropping overwritten and removed records",
     "Merges the data files into new ones that hold only the live records, and deletes the old\n"
     "ones (dead_bytes in stats tells what it reclaims). Readers may go on meanwhile. On a\n"
     "terminal, standard error shows what it merges while it runs. With --dry-run it merges\n"
     "nothing and prints what the automatic merge (bitask_needs_merge) would do now, one\n"
     "\"name value\" a line: due (yes or no), why_not, read_bytes, write_bytes,\n"
     "reclaim_bytes, store_record_bytes, store_dead_bytes, files, then a line \"file ID\n"
     "REASON FILE_BYTES LIVE_BYTES DEAD_BYTES\" per file it would take (the first 16), oldest\n"
     "first; with --json, one JSON object of the same names, files an array.\n",
     "Exit status: 0 done, 2 usage error or failure, 4 locked by another writer.\n"},
    {"dump", "[PREFIX]", 0, 1, TAKES_ENCODED | TAKES_RANGE, cmd_dump,
     "print every pair (whose key starts with PREFIX) in the dump format",
     "Prints every pair, or those whose keys start with PREFIX, in the dump format (below), in\n"
     "key byte order (--reverse: descending), for load to read back. --from KEY and --to KEY\n"
     "keep the pairs whose keys lie between them, both included.\n",
     "Exit status: 0 done, 2 usage error or failure.\n"},
    {"load", "", 0, 0, WRITER, cmd_load, "store every pair read from standard input in the dump format",
     "Stores every pair read from standard input in the dump format, then makes the writes\n"
     "durable; reports how many on standard error. Reads CRLF line ends as LF, and refuses a\n"
     "dump of another version than 1. Stops at the first malformed line, naming its line and\n"
     "column and what is wrong there, and keeps, durably, the pairs stored before it, saying\n"
     "how many. On a terminal, standard error shows its progress. Creates DIR when it does\n"
     "not exist.\n",
     "Exit status: 0 done, 2 usage error, malformed input or failure, 4 locked by another\n"
     "writer.\n"},
    {"batch", "", 0, 0, WRITER, cmd_batch,
     "apply the operations read from standard input as one atomic batch",
     "Reads operations from standard input, one a line: \"KEY VALUE\" in the dump format (as\n"
     "load reads, with its optional third field, the expiry) stores VALUE under KEY, a KEY\n"
     "alone (dump-encoded, without a space) removes\n"
     "it. Then applies them all as one batch, in their order, durably: after any crash the\n"
     "store holds all of them or none. Lines starting with # are skipped. A malformed line\n"
     "writes nothing, naming its line and column. Creates DIR when it does not exist.\n",
     "Exit status: 0 written, 2 usage error, malformed input or failure (nothing written), 4\n"
     "locked by another writer.\n"},
    {"backup", "DEST", 1, 1, TAKES_WAIT, cmd_backup,
     "write a consistent copy of the store into DEST (hot backup; again: incremental)",
     "Writes a consistent copy of the store into the directory DEST: sealed data files and\n"
     "hint files are hard-linked where the file system allows (copied otherwise), the active\n"
     "file's records copied, everything made durable. DEST must be missing, empty, or an\n"
     "earlier backup of this store, which is brought up to date (only new files are placed;\n"
     "files no longer in the store are removed); anything else is refused unchanged. Prints\n"
     "linked, copied, kept, removed and bytes_copied, one \"name value\" a line. The copy\n"
     "opens as a store. The command opens the store as its writer; a program writing to\n"
     "the store calls bitask_checkpoint instead.\n",
     "Exit status: 0 done, 2 usage error or failure, 4 locked by another writer.\n"},
    {"repair", "", 0, 0, TAKES_WAIT, cmd_repair,
     "keep every intact record of a damaged store; originals go to\n"
     "                  DIR/" QUARANTINE_DIR,
     "Repairs a store that no longer opens or has damaged files: every record whose checksum\n"
     "verifies is kept, damaged data files are rewritten with their intact records, damaged\n"
     "headers rebuilt, hint files that no longer match set aside. Every original is moved\n"
     "into DIR/" QUARANTINE_DIR " (an open ignores it; remove it by hand). Prints\n"
     "records_kept, files_rewritten, unreadable_bytes, records_lost, keys_lost,\n"
     "keys_rolled_back, tombstones_rebuilt, files_quarantined and problems_remaining, one\n"
     "\"name value\" a line.\n",
     "Exit status: 0 repaired, nothing lost, 2 usage error or failure (a directory without a\n"
     "store is left as it was), 3 repaired, but records were lost or problems remain, 4\n"
     "locked by another writer.\n"},
    {"upgrade", "", 0, 0, TAKES_WAIT, cmd_upgrade,
     "convert a store written by bitask 0.1.1 into this format, in place;\n"
     "                  its files are kept in DIR/" UPGRADE_BACKUP_DIR,
     "Converts the store of bitask 0.1.1 in DIR into a store of this format, in place, and\n"
     "prints what it read, one \"name value\" a line (files_read, records_read, tombstones,\n"
     "keys_converted, unreadable_bytes, torn_bytes), a line \"unreadable FILE OFFSET LENGTH\"\n"
     "or \"torn FILE OFFSET LENGTH\" per region that was not a whole record (the first 8), and\n"
     "\"backup DIR/" UPGRADE_BACKUP_DIR "\", the folder that keeps the 0.1.1 files until you\n"
     "remove it. After a crash or a failure, running it again finishes the upgrade.\n",
     "Exit status: 0 upgraded, 2 usage error or failure (a directory that is not a store of\n"
     "0.1.1 is left as it was), 3 upgraded, but some bytes of the 0.1.1 files could not be\n"
     "read (listed as unreadable; records there may be lost), 4 locked: bitask 0.1.1 or a\n"
     "writer of this bitask has the store open.\n"},
};

static const struct command *find_command(const char *name) {
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

#endif
