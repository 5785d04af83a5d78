// Helpers for the cgo preambles of this package (included by bitask.go and
// iter.go). Not part of the package's API.
#ifndef BITASK_GO_H
#define BITASK_GO_H
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <bitask.h>

// The library's detailed message is kept per OS thread, and a goroutine may
// run on another thread in its next cgo call. So each call that can fail goes
// through a helper below, which reads the message in the same cgo call as the
// failing function and hands it back with the status.
typedef struct {
	int status;
	char *detail;      // malloc'd copy of the detailed message, or NULL
	size_t detail_len;
} bitask_go_result;

static inline bitask_go_result bitask_go_done(int status) {
	bitask_go_result r;
	r.status = status;
	r.detail = NULL;
	r.detail_len = 0;
	if (status == BITASK_OK || status == BITASK_NOT_FOUND || status == BITASK_BUFFER_TOO_SMALL ||
			status == BITASK_KEY_EXISTS || status == BITASK_MISMATCH) {
		return r;
	}
	char small[256];
	size_t n = bitask_last_error_message(small, sizeof small);
	if (n == 0) {
		return r;
	}
	char *out = malloc(n + 1);
	if (out == NULL) {
		return r;
	}
	if (n < sizeof small) {
		memcpy(out, small, n);
	} else {
		size_t m = bitask_last_error_message(out, n + 1);
		if (m < n) {
			n = m;
		}
	}
	out[n] = 0;
	r.detail = out;
	r.detail_len = strlen(out);
	return r;
}

// Opens with options built in the same call, so that a rejected option reports
// its message too.
static inline bitask_go_result bitask_go_open(const char *path, int use_opts,
		uint64_t max_file_size, int sync_mode, uint32_t sync_interval_ms,
		int read_only, int create_if_missing, int error_if_exists, int no_auto_merge,
		bitask **db_out) {
	*db_out = NULL;
	if (!use_opts) {
		return bitask_go_done(bitask_open(path, NULL, db_out));
	}
	bitask_options *o = bitask_options_new();
	if (o == NULL) {
		// Out of memory: no library message (the thread's last one is stale).
		bitask_go_result r = {BITASK_ERR_INTERNAL, NULL, 0};
		return r;
	}
	int st = BITASK_OK;
	if (st == BITASK_OK && max_file_size != 0) {
		st = bitask_options_set_max_file_size(o, max_file_size);
	}
	if (st == BITASK_OK && sync_mode >= 0) {
		st = bitask_options_set_sync(o, sync_mode);
	}
	if (st == BITASK_OK && sync_interval_ms != 0) {
		st = bitask_options_set_sync_interval_ms(o, sync_interval_ms);
	}
	if (st == BITASK_OK) {
		st = bitask_options_set_read_only(o, read_only != 0);
	}
	if (st == BITASK_OK) {
		st = bitask_options_set_create_if_missing(o, create_if_missing != 0);
	}
	if (st == BITASK_OK) {
		st = bitask_options_set_error_if_exists(o, error_if_exists != 0);
	}
	if (st == BITASK_OK && no_auto_merge) {
		st = bitask_options_set_auto_merge(o, false);
	}
	if (st == BITASK_OK) {
		st = bitask_open(path, o, db_out);
	}
	bitask_go_result r = bitask_go_done(st);
	bitask_options_free(o);
	return r;
}

static inline bitask_go_result bitask_go_put(bitask *db, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
	return bitask_go_done(bitask_put(db, k, kl, v, vl));
}

static inline bitask_go_result bitask_go_get(bitask *db, const uint8_t *k, size_t kl, uint8_t **v, size_t *vl) {
	return bitask_go_done(bitask_get(db, k, kl, v, vl));
}

static inline bitask_go_result bitask_go_get_into(bitask *db, const uint8_t *k, size_t kl, uint8_t *buf, size_t cap, size_t *vl) {
	return bitask_go_done(bitask_get_into(db, k, kl, buf, cap, vl));
}

static inline bitask_go_result bitask_go_contains(bitask *db, const uint8_t *k, size_t kl) {
	return bitask_go_done(bitask_contains(db, k, kl));
}

static inline bitask_go_result bitask_go_remove(bitask *db, const uint8_t *k, size_t kl) {
	return bitask_go_done(bitask_remove(db, k, kl));
}

static inline bitask_go_result bitask_go_put_ttl(bitask *db, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, uint64_t ttl_ms) {
	return bitask_go_done(bitask_put_ttl(db, k, kl, v, vl, ttl_ms));
}

static inline bitask_go_result bitask_go_put_expiring_at(bitask *db, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, uint64_t at_ms) {
	return bitask_go_done(bitask_put_expiring_at(db, k, kl, v, vl, at_ms));
}

static inline bitask_go_result bitask_go_expire(bitask *db, const uint8_t *k, size_t kl, uint64_t ttl_ms) {
	return bitask_go_done(bitask_expire(db, k, kl, ttl_ms));
}

static inline bitask_go_result bitask_go_expire_at(bitask *db, const uint8_t *k, size_t kl, uint64_t at_ms) {
	return bitask_go_done(bitask_expire_at(db, k, kl, at_ms));
}

static inline bitask_go_result bitask_go_persist(bitask *db, const uint8_t *k, size_t kl, int32_t *removed) {
	return bitask_go_done(bitask_persist(db, k, kl, removed));
}

static inline bitask_go_result bitask_go_ttl(bitask *db, const uint8_t *k, size_t kl, int64_t *ttl_ms) {
	return bitask_go_done(bitask_ttl(db, k, kl, ttl_ms));
}

static inline bitask_go_result bitask_go_expiry(bitask *db, const uint8_t *k, size_t kl, uint64_t *at_ms) {
	return bitask_go_done(bitask_expiry(db, k, kl, at_ms));
}

static inline bitask_go_result bitask_go_compact(bitask *db) { return bitask_go_done(bitask_compact(db)); }
static inline bitask_go_result bitask_go_sync(bitask *db) { return bitask_go_done(bitask_sync(db)); }
static inline bitask_go_result bitask_go_refresh(bitask *db) { return bitask_go_done(bitask_refresh(db)); }
static inline bitask_go_result bitask_go_stat(bitask *db, bitask_stats *out) { return bitask_go_done(bitask_stat(db, out)); }
static inline bitask_go_result bitask_go_needs_merge(bitask *db, bitask_merge_report *out) { return bitask_go_done(bitask_needs_merge(db, out)); }
static inline bitask_go_result bitask_go_checkpoint(bitask *db, const char *dest, bitask_checkpoint_report *out) { return bitask_go_done(bitask_checkpoint(db, dest, out)); }
static inline bitask_go_result bitask_go_verify(bitask *db, bitask_verify_report *out) { return bitask_go_done(bitask_verify(db, out)); }
static inline bitask_go_result bitask_go_verify_path(const char *path, bitask_verify_report *out) { return bitask_go_done(bitask_verify_path(path, out)); }
static inline bitask_go_result bitask_go_repair(const char *path, bitask_repair_report *out) { return bitask_go_done(bitask_repair(path, out)); }

static inline bitask_go_result bitask_go_iter_new_range(bitask *db, const uint8_t *p, size_t pl,
		const uint8_t *lo, size_t lol, const uint8_t *up, size_t upl, int flags, bitask_iter **out) {
	return bitask_go_done(bitask_iter_new_range(db, p, pl, lo, lol, up, upl, flags, out));
}

static inline bitask_go_result bitask_go_iter_seek(bitask_iter *it, const uint8_t *k, size_t kl) {
	return bitask_go_done(bitask_iter_seek(it, k, kl));
}

static inline bitask_go_result bitask_go_iter_next(bitask_iter *it, const uint8_t **k, size_t *kl, const uint8_t **v, size_t *vl) {
	return bitask_go_done(bitask_iter_next(it, k, kl, v, vl));
}

// Builds a batch of n operations and writes it, in one cgo call. Operation i is
// a put (dels[i] == 0) or a removal of the key of klens[i] bytes at buf + at,
// its value the vlens[i] bytes after it (at: the sum of the lengths before). A
// put expires at expiries[i] (milliseconds since the Unix epoch) when expiries
// is not NULL and expiries[i] is not 0.
static inline bitask_go_result bitask_go_write(bitask *db, size_t n, const uint8_t *buf,
		const size_t *klens, const size_t *vlens, const uint8_t *dels, const uint64_t *expiries,
		unsigned int flags) {
	bitask_batch *b = bitask_batch_new();
	if (b == NULL) {
		bitask_go_result r = {BITASK_ERR_INTERNAL, NULL, 0};
		return r;
	}
	int st = BITASK_OK;
	size_t at = 0;
	for (size_t i = 0; i < n && st == BITASK_OK; i++) {
		const uint8_t *k = buf + at;
		if (dels[i]) {
			st = bitask_batch_remove(b, k, klens[i]);
		} else if (expiries != NULL && expiries[i] != 0) {
			st = bitask_batch_put_expiring_at(b, k, klens[i], k + klens[i], vlens[i], expiries[i]);
		} else {
			st = bitask_batch_put(b, k, klens[i], k + klens[i], vlens[i]);
		}
		at += klens[i] + vlens[i];
	}
	if (st == BITASK_OK) {
		st = bitask_write(db, b, flags);
	}
	bitask_go_result r = bitask_go_done(st);
	bitask_batch_free(b);
	return r;
}

static inline bitask_go_result bitask_go_put_if_absent(bitask *db, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
	return bitask_go_done(bitask_put_if_absent(db, k, kl, v, vl));
}

static inline bitask_go_result bitask_go_compare_and_set(bitask *db, const uint8_t *k, size_t kl,
		const uint8_t *e, size_t el, const uint8_t *v, size_t vl) {
	return bitask_go_done(bitask_compare_and_set(db, k, kl, e, el, v, vl));
}

static inline bitask_go_result bitask_go_multi_get(bitask *db, size_t n, const uint8_t *keys,
		const size_t *klens, uint8_t *buf, size_t cap, size_t *offs, size_t *lens, bitask_status *sts) {
	return bitask_go_done(bitask_multi_get(db, n, keys, klens, buf, cap, offs, lens, sts));
}

#endif
