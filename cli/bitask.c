/*
 * bitask: the command-line tool. A small client of the public C interface (bitask.h and
 * libbitask.so), nothing more.
 *
 *   bitask [-e] DIR put KEY VALUE | get KEY | del KEY | list [PREFIX] | stats | compact
 *                   | dump | load
 *   bitask DIR upgrade   (converts a store written by bitask 0.1.1)
 *   BITASK_PATH=DIR bitask put --key KEY --value VALUE | ask --key KEY   (as bitask 0.1.1)
 *
 * Exit status: 0 done (for get and del: the key was found), 1 the key was not found,
 * 2 an error (message on standard error), 3 upgrade: done, but bytes of the 0.1.1 files
 * could not be read.
 *
 * The dump format (also printed by --help): one line per pair, "KEY VALUE\n", in key byte
 * order, after a first comment line "# bitask dump 1". In KEY and VALUE, the bytes 0x21 to
 * 0x7e other than backslash and double quote stand for themselves; every other byte is
 * written \xHH (two hex digits); a '#' that begins a KEY is written \x23 too; an empty value
 * is written "". load skips empty lines and lines starting with '#', and stops at the first
 * malformed line (with its number), having stored the pairs before it. dump | load
 * round-trips any keys and values.
 *
 * The escaped leading '#' is the one change to version 1 of the format, which keeps its
 * version line: load always decoded \x23, so old and new load read old and new dumps alike.
 * Earlier dumps wrote such a key raw, and load skipped its line as a comment; since dump
 * writes no comment but its first line, every later line of such a dump that starts with
 * '#' is a pair, and `sed '2,$s/^#/\\x23/'` makes the dump load whole.
 */
#define _POSIX_C_SOURCE 200809L

#include <bitask.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_OK = 0, EXIT_NOT_FOUND = 1, EXIT_ERROR = 2, EXIT_UNREADABLE = 3 };

/* Where bitask_upgrade keeps the files of bitask 0.1.1, inside the store's directory. */
#define UPGRADE_BACKUP_DIR "bitask-0.1.1-backup"

static const char usage_text[] =
    "usage: bitask [-e] DIR COMMAND [ARGUMENTS]\n"
    "       bitask --help | --version\n"
    "\n"
    "Commands (DIR is the store's directory, created by the first write):\n"
    "  put KEY VALUE   store VALUE under KEY; VALUE \"-\" reads the value from standard input\n"
    "  get KEY         print the value of KEY, then a newline\n"
    "  del KEY         remove KEY\n"
    "  list [PREFIX]   print the keys (starting with PREFIX), encoded as in dump, in order\n"
    "  stats           print figures about the store\n"
    "  compact         merge the data files, dropping overwritten and removed records\n"
    "  dump            print every pair in the dump format\n"
    "  load            store every pair read from standard input in the dump format\n"
    "  upgrade         convert a store written by bitask 0.1.1 into this format, in place;\n"
    "                  its files are kept in DIR/" UPGRADE_BACKUP_DIR "\n"
    "\n"
    "Options:\n"
    "  -e              KEY, VALUE and PREFIX are given in the dump encoding (any bytes),\n"
    "                  and get prints the value encoded\n"
    "\n"
    "Reading commands open the store read-only, so they work while another process writes;\n"
    "writing commands make their writes durable before they exit.\n"
    "\n"
    "Exit status: 0 done (get, del: found), 1 not found (get, del), 2 error,\n"
    "3 upgraded, but some bytes of the 0.1.1 files could not be read (listed).\n"
    "\n"
    "The command line of bitask 0.1.1 works too, on the store whose directory is in the\n"
    "environment variable BITASK_PATH:\n"
    "  put --key KEY --value VALUE   store VALUE under KEY, print \"Value stored successfully\"\n"
    "  ask --key KEY                 print the value of KEY, then a newline; a missing key\n"
    "                                exits 1 with \"Key not found\" on standard error\n"
    "\n"
    "Dump format: a first line \"# bitask dump 1\", then one line \"KEY VALUE\" per pair, in\n"
    "key byte order. Bytes 0x21-0x7e other than \\ and \" stand for themselves; any other byte,\n"
    "and a # that begins a key, is written \\xHH; an empty value is written \"\". load skips\n"
    "empty lines and lines that start with #, and stops at the first malformed line.\n";

static const char *dir;
/* Where dir came from, for errors: empty for the command line. */
static const char *dir_origin = "";

/* Reports a failed call with the library's detailed message; the exit status. */
static int fail(const char *what, bitask_status st) {
    char msg[1024];
    bitask_last_error_message(msg, sizeof msg);
    fprintf(stderr, "bitask: %s: %s: %s\n", what, bitask_strerror((int)st), msg);
    return EXIT_ERROR;
}

static int usage_error(const char *msg) {
    fprintf(stderr, "bitask: %s\n%s", msg, usage_text);
    return EXIT_ERROR;
}

/* --- the dump encoding ------------------------------------------------------------ */

/* Writes n bytes in the dump encoding. A key is a line's first field, and load takes a line
 * that starts with '#' for a comment, so a key's leading '#' is escaped as well. The output
 * goes through a local buffer because a value may be hundreds of MiB of escapes. */
static void encode(FILE *out, const uint8_t *p, size_t n, int is_key) {
    static const char hex[] = "0123456789abcdef";
    char buf[8192];
    size_t o = 0;
    if (n == 0) {
        fputs("\"\"", out);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (o > sizeof buf - 4) {
            fwrite(buf, 1, o, out);
            o = 0;
        }
        if (c >= 0x21 && c <= 0x7e && c != '\\' && c != '"' && !(is_key && i == 0 && c == '#')) {
            buf[o++] = (char)c;
        } else {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        }
    }
    fwrite(buf, 1, o, out);
}

static int hex_digit(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the n characters at s in place (the result is never longer); its length, or -1
 * when s is not a valid encoded string. */
static long decode(char *s, size_t n) {
    if (n == 2 && s[0] == '"' && s[1] == '"')
        return 0;
    if (n == 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') {
            int hi, lo;
            if (i + 3 >= n || s[i + 1] != 'x' || (hi = hex_digit(s[i + 2])) < 0 ||
                (lo = hex_digit(s[i + 3])) < 0)
                return -1;
            s[o++] = (char)(hi * 16 + lo);
            i += 3;
        } else if (c >= 0x21 && c <= 0x7e && c != '"') {
            s[o++] = (char)c;
        } else {
            return -1;
        }
    }
    return (long)o;
}

/* --- opening ---------------------------------------------------------------------- */

static int open_store(int read_only, bitask **db) {
    bitask_options *o = bitask_options_new();
    if (!o)
        return fail("open", BITASK_ERR_IO);
    bitask_status st = bitask_options_set_read_only(o, read_only);
    if (st == BITASK_OK)
        st = bitask_open(dir, o, db);
    bitask_options_free(o);
    if (st != BITASK_OK) {
        char what[4200], msg[1024];
        snprintf(what, sizeof what, "open %s%s", dir, dir_origin);
        bitask_last_error_message(msg, sizeof msg);
        int rc = fail(what, st);
        if (st == BITASK_ERR_INCOMPATIBLE && strstr(msg, "bitask 0.1.1"))
            fprintf(stderr, "bitask: \"bitask %s upgrade\" converts a store of bitask 0.1.1\n",
                    dir);
        return rc;
    }
    return EXIT_OK;
}

/* Makes the writes durable, closes; the exit status. */
static int finish_writes(bitask *db, int rc) {
    if (rc != EXIT_ERROR) {
        bitask_status st = bitask_sync(db);
        if (st != BITASK_OK)
            rc = fail("sync", st);
    }
    bitask_close(db);
    return rc;
}

/* An argument as bytes: as given, or decoded with -e (in place). */
static int arg_bytes(char *arg, int escaped, size_t *len) {
    if (!escaped) {
        *len = strlen(arg);
        return 1;
    }
    long n = decode(arg, strlen(arg));
    if (n < 0) {
        fprintf(stderr, "bitask: not a valid encoded string: %s\n", arg);
        return 0;
    }
    *len = (size_t)n;
    return 1;
}

static uint8_t *read_all(FILE *in, size_t *len) {
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, in);
        if (n < cap)
            break;
        uint8_t *bigger = realloc(buf, cap * 2);
        if (!bigger)
            free(buf);
        buf = bigger;
        cap *= 2;
    }
    if (buf && ferror(in)) {
        free(buf);
        buf = NULL;
    }
    *len = n;
    return buf;
}

/* --- commands --------------------------------------------------------------------- */

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

/* --- the command line of bitask 0.1.1 --------------------------------------------- */

/* bitask 0.1.1, the crate this one succeeds, shipped a tool taking "put --key K --value V"
 * and "ask --key K" (options in any order, also as --key=K, and -v/--verbose anywhere), with
 * the store's directory in the environment variable BITASK_PATH. Scripts written for it keep
 * working: put prints what 0.1.1 printed, ask prints the value and a newline, a missing key
 * exits 1 with "Key not found" on standard error. Other errors exit 2 as everywhere in this
 * tool, where 0.1.1 exited 1 on every error: a script that tells success from failure sees
 * no difference. */

static const char legacy_usage_text[] =
    "usage: bitask put --key KEY --value VALUE\n"
    "       bitask ask --key KEY\n"
    "(the command line of bitask 0.1.1: the store's directory is $BITASK_PATH;\n"
    "bitask --help tells the rest)\n";

/* The index in argv of a 0.1.1 command word, or 0 for this tool's own form. In the own form
 * the word after DIR is a command, never an option, so "put" or "ask" followed by an option
 * or by nothing is the old form, and a store in a directory named put or ask is still
 * reached as "bitask put get KEY". */
static int legacy_command(int argc, char **argv) {
    int i = 1;
    if (argc > 2 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--verbose") == 0))
        i = 2;
    if (i >= argc || (strcmp(argv[i], "put") != 0 && strcmp(argv[i], "ask") != 0))
        return 0;
    return i == 2 || i + 1 == argc || argv[i + 1][0] == '-' ? i : 0;
}

static int legacy_usage_error(const char *cmd, const char *msg) {
    fprintf(stderr, "bitask: %s: %s\n%s", cmd, msg, legacy_usage_text);
    return EXIT_ERROR;
}

/* argv[0] is put or ask. */
static int legacy_main(int argc, char **argv) {
    const char *cmd = argv[0];
    int put = strcmp(cmd, "put") == 0;
    const char *key = NULL, *value = NULL;
    char msg[512];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *name;
        const char **slot;
        size_t len;
        if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
            continue; /* 0.1.1's debug logging: this tool has nothing to log */
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(legacy_usage_text, stdout);
            return EXIT_OK;
        }
        if (strncmp(a, "--key", 5) == 0 && (a[5] == '\0' || a[5] == '=')) {
            name = "--key";
            slot = &key;
            len = 5;
        } else if (put && strncmp(a, "--value", 7) == 0 && (a[7] == '\0' || a[7] == '=')) {
            name = "--value";
            slot = &value;
            len = 7;
        } else {
            snprintf(msg, sizeof msg, "unexpected argument '%.300s' (%s takes %s)", a, cmd,
                     put ? "--key KEY and --value VALUE" : "only --key KEY");
            return legacy_usage_error(cmd, msg);
        }
        if (*slot) {
            snprintf(msg, sizeof msg, "%s is given twice", name);
            return legacy_usage_error(cmd, msg);
        }
        if (a[len] == '=') {
            *slot = a + len + 1;
        } else if (i + 1 < argc) {
            *slot = argv[++i];
        } else {
            snprintf(msg, sizeof msg, "%s is given without its %s", name,
                     slot == &key ? "KEY" : "VALUE");
            return legacy_usage_error(cmd, msg);
        }
    }
    if (!key)
        return legacy_usage_error(cmd, "--key KEY is missing");
    if (put && !value)
        return legacy_usage_error(cmd, "--value VALUE is missing");
    const char *path = getenv("BITASK_PATH");
    if (!path || !*path) {
        fprintf(stderr,
                "bitask: %s: BITASK_PATH is %s: \"bitask %s --key ...\" takes the store's "
                "directory from it (set BITASK_PATH=DIR, or run \"bitask DIR %s\")\n",
                cmd, path ? "empty" : "not set", cmd, put ? "put KEY VALUE" : "get KEY");
        return EXIT_ERROR;
    }
    dir = path;
    dir_origin = " (BITASK_PATH)";
    const uint8_t *k = (const uint8_t *)key;
    size_t klen = strlen(key);
    if (put) {
        int rc = store_pair(k, klen, (const uint8_t *)value, strlen(value), cmd);
        if (rc == EXIT_OK)
            puts("Value stored successfully");
        return rc;
    }
    int rc = print_value(k, klen, 0, cmd);
    if (rc == EXIT_NOT_FOUND) {
        fprintf(stderr, "bitask: %s: Key not found: ", cmd);
        encode(stderr, k, klen, 1);
        fputc('\n', stderr);
    }
    return rc;
}

/* --- main ------------------------------------------------------------------------- */

/* Standard output is checked once, at the end: a full disk or a closed pipe must not pass
 * for success. */
static int flushed(int rc) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("bitask: writing standard output");
        return EXIT_ERROR;
    }
    return rc;
}

int main(int argc, char **argv) {
    int i = 1, escaped = 0;
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("bitask %s (library %s)\n", BITASK_VERSION_STRING, bitask_version());
        return EXIT_OK;
    }
    int legacy = legacy_command(argc, argv);
    if (legacy)
        return flushed(legacy_main(argc - legacy, argv + legacy));
    if (i < argc && strcmp(argv[i], "-e") == 0) {
        escaped = 1;
        i++;
    }
    if (argc - i < 2)
        return usage_error("expected a directory and a command");
    dir = argv[i];
    const char *cmd = argv[i + 1];
    char **args = argv + i + 2;
    int nargs = argc - i - 2;
    int rc;
    if (strcmp(cmd, "put") == 0 && nargs == 2)
        rc = cmd_put(args[0], args[1], escaped);
    else if (strcmp(cmd, "get") == 0 && nargs == 1)
        rc = cmd_get(args[0], escaped);
    else if (strcmp(cmd, "del") == 0 && nargs == 1)
        rc = cmd_del(args[0], escaped);
    else if (strcmp(cmd, "list") == 0 && nargs <= 1)
        rc = cmd_iterate(nargs ? args[0] : NULL, escaped, 0);
    else if (strcmp(cmd, "dump") == 0 && nargs == 0)
        rc = cmd_iterate(NULL, escaped, 1);
    else if (strcmp(cmd, "load") == 0 && nargs == 0)
        rc = cmd_load();
    else if (strcmp(cmd, "stats") == 0 && nargs == 0)
        rc = cmd_stats();
    else if (strcmp(cmd, "compact") == 0 && nargs == 0)
        rc = cmd_compact();
    else if (strcmp(cmd, "upgrade") == 0 && nargs == 0 && !escaped)
        rc = cmd_upgrade();
    else if (strcmp(dir, "upgrade") == 0 && nargs == 0)
        return usage_error("the directory comes first: bitask DIR upgrade");
    else
        return usage_error("unknown command or wrong number of arguments");
    return flushed(rc);
}
