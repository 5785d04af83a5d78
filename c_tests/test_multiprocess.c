/*
 * Two processes on one store: this program as the writer, and copies of itself (started
 * with fork and exec) as read-only readers that catch up with bitask_refresh, as a second
 * writer that must be refused while the first is open, and as a writer once it is closed.
 * The processes take turns through pipes.
 */
#include "harness.h"

#include <sys/wait.h>

static const char *self_exe;

/* --- the child side --------------------------------------------------------------- */

static void send_byte(int fd, char c) {
    if (write(fd, &c, 1) != 1)
        perror("write");
}

static char recv_byte(int fd) {
    char c = 0;
    if (read(fd, &c, 1) != 1)
        return 0;
    return c;
}

/* Checks that key holds "<prefix><key>". */
static void check_value(bitask *db, const char *key, const char *prefix) {
    char want[64];
    snprintf(want, sizeof want, "%s%s", prefix, key);
    uint8_t buf[64];
    size_t n = 0;
    CHECK_ST(bitask_get_into(db, KEY(key), buf, sizeof buf, &n), BITASK_OK);
    CHECK(n == strlen(want) && memcmp(buf, want, n) == 0);
}

static int child_reader(const char *dir, int in, int out) {
    bitask_options *o = bitask_options_new();
    CHECK_ST(bitask_options_set_read_only(o, true), BITASK_OK);
    bitask *db = NULL;
    CHECK_ST(bitask_open(dir, o, &db), BITASK_OK);
    bitask_options_free(o);
    if (!db)
        return 1;
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        check_value(db, key, "v1-");
    }
    CHECK_ST(bitask_put(db, KEY("reader"), KEY("was here")), BITASK_ERR_READ_ONLY);
    CHECK_ST(bitask_remove(db, KEY("k000")), BITASK_ERR_READ_ONLY);
    send_byte(out, 'A');
    CHECK(recv_byte(in) == 'B');
    /* The writer removed k000..k009, rewrote the rest, added k100..k199, compacted. */
    CHECK_ST(bitask_contains(db, KEY("k150")), BITASK_NOT_FOUND);
    CHECK_ST(bitask_refresh(db), BITASK_OK);
    bitask_stats s;
    CHECK_ST(bitask_stat(db, &s), BITASK_OK);
    CHECK(s.key_count == 190);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        if (i < 10)
            CHECK_ST(bitask_contains(db, KEY(key)), BITASK_NOT_FOUND);
        else
            check_value(db, key, i < 100 ? "v2-" : "v1-");
    }
    bitask_close(db);
    send_byte(out, 'C');
    return h_failures ? 1 : 0;
}

static int child_second_writer(const char *dir) {
    bitask *db = (bitask *)1;
    CHECK_ST(bitask_open(dir, NULL, &db), BITASK_ERR_WRITER_LOCK);
    CHECK(db == NULL);
    char msg[256];
    bitask_last_error_message(msg, sizeof msg);
    /* The message names the lock file the other process holds. */
    CHECK(strstr(msg, "db.lock is held by another handle") != NULL);
    return h_failures ? 1 : 0;
}

static int child_writer(const char *dir) {
    bitask *db = NULL;
    CHECK_ST(bitask_open(dir, NULL, &db), BITASK_OK);
    if (!db)
        return 1;
    CHECK_ST(bitask_put(db, KEY("from-child"), KEY("hello")), BITASK_OK);
    CHECK_ST(bitask_sync(db), BITASK_OK);
    bitask_close(db);
    return h_failures ? 1 : 0;
}

/* --- the parent side -------------------------------------------------------------- */

struct child {
    pid_t pid;
    int to;   /* parent writes */
    int from; /* parent reads */
};

static struct child spawn(const char *role, const char *dir) {
    struct child c = {-1, -1, -1};
    int down[2], up[2];
    if (pipe(down) != 0 || pipe(up) != 0) {
        perror("pipe");
        return c;
    }
    fflush(stdout);
    fflush(stderr);
    c.pid = fork();
    if (c.pid == 0) {
        close(down[1]);
        close(up[0]);
        char in[16], out[16];
        snprintf(in, sizeof in, "%d", down[0]);
        snprintf(out, sizeof out, "%d", up[1]);
        char *args[] = {(char *)self_exe, "--child", (char *)role, (char *)dir, in, out, NULL};
        execv(self_exe, args);
        perror("execv");
        _exit(127);
    }
    close(down[0]);
    close(up[1]);
    c.to = down[1];
    c.from = up[0];
    return c;
}

static int wait_ok(struct child c) {
    int status = 0;
    if (c.to >= 0)
        close(c.to);
    if (c.from >= 0)
        close(c.from);
    if (c.pid < 0 || waitpid(c.pid, &status, 0) != c.pid)
        return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_writer_and_readers(void) {
    const char *dir = h_path(0, "two-processes");
    bitask_options *o = bitask_options_new();
    CHECK_ST(bitask_options_set_max_file_size(o, 1024), BITASK_OK);
    bitask *db = NULL;
    CHECK_ST(bitask_open(dir, o, &db), BITASK_OK);
    bitask_options_free(o);
    if (!db)
        return;
    char key[16], val[32];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        snprintf(val, sizeof val, "v1-%s", key);
        CHECK_ST(bitask_put(db, KEY(key), KEY(val)), BITASK_OK);
    }
    /* A second writer in another process is refused while this one is open. */
    CHECK(wait_ok(spawn("second-writer", dir)));

    struct child readers[2];
    for (int r = 0; r < 2; r++)
        readers[r] = spawn("reader", dir);
    for (int r = 0; r < 2; r++)
        CHECK(recv_byte(readers[r].from) == 'A');
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        CHECK_ST(bitask_remove(db, KEY(key)), BITASK_OK);
    }
    for (int i = 10; i < 200; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        snprintf(val, sizeof val, "%s-%s", i < 100 ? "v2" : "v1", key);
        CHECK_ST(bitask_put(db, KEY(key), KEY(val)), BITASK_OK);
    }
    CHECK_ST(bitask_compact(db), BITASK_OK);
    for (int r = 0; r < 2; r++)
        send_byte(readers[r].to, 'B');
    for (int r = 0; r < 2; r++) {
        CHECK(recv_byte(readers[r].from) == 'C');
        CHECK(wait_ok(readers[r]));
    }
    bitask_close(db);

    /* Once the writer is closed, another process may write. */
    CHECK(wait_ok(spawn("writer", dir)));
    CHECK_ST(bitask_open(dir, NULL, &db), BITASK_OK);
    if (!db)
        return;
    uint8_t buf[16];
    size_t n = 0;
    CHECK_ST(bitask_get_into(db, KEY("from-child"), buf, sizeof buf, &n), BITASK_OK);
    CHECK(n == 5 && memcmp(buf, "hello", 5) == 0);
    bitask_close(db);
}

int main(int argc, char **argv) {
    self_exe = argv[0];
    if (!strchr(self_exe, '/'))
        self_exe = "/proc/self/exe";
    if (argc >= 4 && strcmp(argv[1], "--child") == 0) {
        const char *role = argv[2], *dir = argv[3];
        if (strcmp(role, "reader") == 0 && argc == 6)
            return child_reader(dir, atoi(argv[4]), atoi(argv[5]));
        if (strcmp(role, "second-writer") == 0)
            return child_second_writer(dir);
        if (strcmp(role, "writer") == 0)
            return child_writer(dir);
        fprintf(stderr, "unknown role %s\n", role);
        return 2;
    }
    h_setup(argc, argv);
    static const struct h_test tests[] = {
        H_TEST(test_writer_and_readers),
    };
    return h_run("test_multiprocess", tests, sizeof tests / sizeof tests[0]);
}
