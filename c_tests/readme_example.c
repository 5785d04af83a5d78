/* example.c: build with  cc example.c $(pkg-config --cflags --libs bitask) -o example */
#include <bitask.h>
#include <stdio.h>
#include <string.h>

/* Prints what failed: the status's name and the detailed message of this thread. */
static void report(const char *what, bitask_status st) {
    char msg[512];
    bitask_last_error_message(msg, sizeof msg);
    fprintf(stderr, "%s: %s: %s\n", what, bitask_strerror(st), msg);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "example-db";

    bitask_options *opts = bitask_options_new();
    bitask_options_set_sync(opts, BITASK_SYNC_ALWAYS); /* durable before put returns */
    bitask *db = NULL;
    bitask_status st = bitask_open(path, opts, &db);
    bitask_options_free(opts); /* the handle keeps a copy */
    if (st != BITASK_OK) {
        report("open", st);
        return 1;
    }

    const char *names[] = {"fruit:apple", "fruit:banana", "veg:carrot"};
    const char *colors[] = {"red", "yellow", "orange"};
    for (int i = 0; i < 3; i++) {
        st = bitask_put(db, (const uint8_t *)names[i], strlen(names[i]),
                        (const uint8_t *)colors[i], strlen(colors[i]));
        if (st != BITASK_OK) {
            report("put", st);
            bitask_close(db);
            return 1;
        }
    }

    /* bitask_get allocates the value; the caller frees it with bitask_free. */
    uint8_t *value = NULL;
    size_t len = 0;
    st = bitask_get(db, (const uint8_t *)"fruit:apple", 11, &value, &len);
    if (st == BITASK_OK) {
        printf("fruit:apple = %.*s\n", (int)len, (const char *)value);
        bitask_free(value);
    } else if (st == BITASK_NOT_FOUND) {
        printf("fruit:apple is absent\n");
    } else {
        report("get", st);
    }

    /* Keys in byte order; the pointers are valid until the next call on the iterator. */
    bitask_iter *it = NULL;
    if (bitask_iter_new(db, (const uint8_t *)"fruit:", 6, &it) == BITASK_OK) {
        const uint8_t *k, *v;
        size_t klen, vlen;
        while ((st = bitask_iter_next(it, &k, &klen, &v, &vlen)) == BITASK_OK)
            printf("%.*s -> %.*s\n", (int)klen, (const char *)k, (int)vlen, (const char *)v);
        if (st != BITASK_NOT_FOUND) /* NOT_FOUND marks the end */
            report("iterate", st);
        bitask_iter_free(it);
    }

    st = bitask_remove(db, (const uint8_t *)"veg:carrot", 10);
    printf("remove veg:carrot: %s\n", bitask_strerror(st));
    st = bitask_remove(db, (const uint8_t *)"veg:carrot", 10);
    printf("remove it again: %s\n", bitask_strerror(st)); /* "not found", nothing written */

    bitask_stats stats;
    if (bitask_stat(db, &stats) == BITASK_OK)
        printf("%llu keys, %llu data files\n", (unsigned long long)stats.key_count,
               (unsigned long long)stats.data_files);
    bitask_close(db);
    return 0;
}
