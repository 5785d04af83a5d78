// tkrzw HashDBM with its default tuning (memory-mapped file, thread-safe). Reads use
// Get(key, &string) into a string kept per thread (no allocation once it has grown). Durable
// puts are Set followed by Synchronize(hard). Compaction is Rebuild().
#include <tkrzw_dbm_hash.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "bench.h"

namespace {

struct Db {
  tkrzw::HashDBM dbm;
  bool durable = false;
};

struct Ctx {
  Db *db;
  std::string value;
};

int fail(const char *what, const tkrzw::Status &s) {
  std::fprintf(stderr, "tkrzw: %s: %s\n", what, s.GetMessage().c_str());
  return BE_ERR;
}

void *be_open(const char *dir, const struct be_opts *o) {
  Db *d = new Db;
  d->durable = o->durable != 0;
  std::string path = std::string(dir) + "/kv.tkh";
  tkrzw::Status s = d->dbm.Open(path, true);
  if (!s.IsOK()) {
    fail("open", s);
    delete d;
    return nullptr;
  }
  return d;
}

int be_close(void *p) {
  Db *d = static_cast<Db *>(p);
  tkrzw::Status s = d->dbm.Close();
  delete d;
  return s.IsOK() ? 0 : fail("close", s);
}

void *be_ctx_new(void *p) {
  Ctx *c = new Ctx;
  c->db = static_cast<Db *>(p);
  return c;
}

void be_ctx_free(void *p) { delete static_cast<Ctx *>(p); }

int be_put(void *p, const char *k, size_t kl, const char *v, size_t vl) {
  Ctx *c = static_cast<Ctx *>(p);
  tkrzw::Status s = c->db->dbm.Set(std::string_view(k, kl), std::string_view(v, vl));
  if (!s.IsOK()) return fail("set", s);
  if (c->db->durable) {
    s = c->db->dbm.Synchronize(true);
    if (!s.IsOK()) return fail("synchronize", s);
  }
  return BE_OK;
}

int be_get(void *p, const char *k, size_t kl, char *buf, size_t cap, size_t *vl) {
  Ctx *c = static_cast<Ctx *>(p);
  tkrzw::Status s = c->db->dbm.Get(std::string_view(k, kl), &c->value);
  if (s == tkrzw::Status::NOT_FOUND_ERROR) return BE_MISSING;
  if (!s.IsOK()) return fail("get", s);
  size_t len = c->value.size();
  *vl = len;
  std::memcpy(buf, c->value.data(), len < cap ? len : cap);
  return BE_OK;
}

int be_del(void *p, const char *k, size_t kl) {
  Ctx *c = static_cast<Ctx *>(p);
  tkrzw::Status s = c->db->dbm.Remove(std::string_view(k, kl));
  if (s == tkrzw::Status::NOT_FOUND_ERROR) return BE_MISSING;
  return s.IsOK() ? BE_OK : fail("remove", s);
}

int64_t be_scan(void *p, uint64_t *bytes) {
  Ctx *c = static_cast<Ctx *>(p);
  std::unique_ptr<tkrzw::DBM::Iterator> it = c->db->dbm.MakeIterator();
  std::string key;
  int64_t n = 0;
  tkrzw::Status s = it->First();
  while (s.IsOK()) {
    s = it->Get(&key, &c->value);
    if (!s.IsOK()) break;
    *bytes += c->value.size();
    n++;
    s = it->Next();
  }
  if (s != tkrzw::Status::NOT_FOUND_ERROR) return fail("iterate", s);
  return n;
}

int be_compact(void *p, const char *dir) {
  (void)dir;
  Db *d = static_cast<Db *>(p);
  tkrzw::Status s = d->dbm.Rebuild();
  return s.IsOK() ? 0 : fail("rebuild", s);
}

}  // namespace

extern "C" const struct backend bench_backend = {
    "tkrzw",    be_open, be_close, be_ctx_new, be_ctx_free, be_put, be_get, be_del, be_scan,
    be_compact, "readseq in hash order (HashDBM is unordered); compaction = Rebuild()",
    nullptr,    nullptr,  nullptr,  // no batches, no multi-get, no key order
};
