// The header from C++: it must compile cleanly (-Wall -Wextra -Werror -pedantic), its
// declarations must have C linkage, and the API must be usable with RAII.
#include "bitask.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

struct Close {
    void operator()(bitask *db) const { bitask_close(db); }
};
struct FreeIter {
    void operator()(bitask_iter *it) const { bitask_iter_free(it); }
};
struct FreeOptions {
    void operator()(bitask_options *o) const { bitask_options_free(o); }
};
struct FreeValue {
    void operator()(uint8_t *v) const { bitask_free(v); }
};

int failures = 0;

void check(bool ok, const char *what) {
    if (!ok) {
        std::fprintf(stderr, "FAIL: %s\n", what);
        failures++;
    }
}

std::string last_error() {
    std::string msg(bitask_last_error_message(nullptr, 0), '\0');
    std::vector<char> buf(msg.size() + 1);
    bitask_last_error_message(buf.data(), buf.size());
    return std::string(buf.data());
}

const uint8_t *bytes(const std::string &s) { return reinterpret_cast<const uint8_t *>(s.data()); }

}  // namespace

int main() {
    char dir[] = "/tmp/bitask-cpp-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    std::string path = std::string(dir) + "/store";
    {
        std::unique_ptr<bitask_options, FreeOptions> opts(bitask_options_new());
        check(bitask_options_set_sync(opts.get(), BITASK_SYNC_ALWAYS) == BITASK_OK, "set_sync");
        bitask *raw = nullptr;
        check(bitask_open(path.c_str(), opts.get(), &raw) == BITASK_OK, "open");
        std::unique_ptr<bitask, Close> db(raw);
        if (!db)
            return 1;
        for (std::string k : {"cherry", "apple", "banana"}) {
            std::string v = "fruit:" + k;
            check(bitask_put(db.get(), bytes(k), k.size(), bytes(v), v.size()) == BITASK_OK,
                  "put");
        }
        uint8_t *v = nullptr;
        size_t n = 0;
        check(bitask_get(db.get(), bytes("apple"), 5, &v, &n) == BITASK_OK, "get");
        std::unique_ptr<uint8_t, FreeValue> owned(v);
        check(std::string(reinterpret_cast<char *>(owned.get()), n) == "fruit:apple", "value");

        bitask_status st = bitask_get(db.get(), bytes("durian"), 6, &v, &n);
        check(st == BITASK_NOT_FOUND && v == nullptr, "not found");
        st = bitask_put(db.get(), nullptr, 1, nullptr, 0);
        check(st == BITASK_ERR_INVALID_ARGUMENT, "invalid");
        check(last_error().find("NULL") != std::string::npos, "message");

        bitask_iter *it_raw = nullptr;
        check(bitask_iter_new(db.get(), nullptr, 0, &it_raw) == BITASK_OK, "iter_new");
        std::unique_ptr<bitask_iter, FreeIter> it(it_raw);
        std::vector<std::string> keys;
        const uint8_t *k = nullptr, *val = nullptr;
        size_t kl = 0, vl = 0;
        while (bitask_iter_next(it.get(), &k, &kl, &val, &vl) == BITASK_OK)
            keys.emplace_back(reinterpret_cast<const char *>(k), kl);
        check((keys == std::vector<std::string>{"apple", "banana", "cherry"}), "order");
        it.reset();

        bitask_stats s{};
        check(bitask_stat(db.get(), &s) == BITASK_OK && s.key_count == 3, "stat");
        check(std::string(bitask_version()) == BITASK_VERSION_STRING, "version");
    }
    std::string cleanup = "rm -rf '" + std::string(dir) + "'";
    if (std::system(cleanup.c_str()) != 0)
        failures++;
    std::printf("test_cpp: %d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
    return failures ? 1 : 0;
}
