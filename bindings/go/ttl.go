package bitask

// #include "bitask_go.h"
import "C"

import (
	"runtime"
	"time"
)

// millis is d in whole milliseconds, 0 for a negative d.
func millis(d time.Duration) C.uint64_t {
	if d <= 0 {
		return 0
	}
	return C.uint64_t(d / time.Millisecond)
}

// unixMillis is t in milliseconds since the Unix epoch, 0 for an earlier t.
func unixMillis(t time.Time) C.uint64_t {
	ms := t.UnixMilli()
	if ms < 0 {
		return 0
	}
	return C.uint64_t(ms)
}

// PutTTL stores value under key, as Put does, expiring ttl from now (to the
// millisecond): from then on the key is absent to every read, iteration and
// Stats included, and the next Compact drops its record. A ttl of 0 or less
// stores a key that is absent at once.
func (db *DB) PutTTL(key, value []byte, ttl time.Duration) error {
	c, err := db.acquire()
	if err != nil {
		return err
	}
	defer db.release()
	r := C.bitask_go_put_ttl(c, ptr(key), C.size_t(len(key)), ptr(value), C.size_t(len(value)), millis(ttl))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	return result("put", r)
}

// PutExpiringAt stores value under key, as Put does, expiring at the instant at
// (to the millisecond).
func (db *DB) PutExpiringAt(key, value []byte, at time.Time) error {
	c, err := db.acquire()
	if err != nil {
		return err
	}
	defer db.release()
	r := C.bitask_go_put_expiring_at(c, ptr(key), C.size_t(len(key)), ptr(value), C.size_t(len(value)), unixMillis(at))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	return result("put", r)
}

// Expire makes key expire ttl from now, keeping its value (its record is
// written again, as durable as a Put). It returns ErrNotFound, writing nothing,
// when the key is absent.
func (db *DB) Expire(key []byte, ttl time.Duration) error {
	c, err := db.acquire()
	if err != nil {
		return err
	}
	defer db.release()
	r := C.bitask_go_expire(c, ptr(key), C.size_t(len(key)), millis(ttl))
	runtime.KeepAlive(key)
	return result("expire", r)
}

// ExpireAt makes key expire at the instant at, keeping its value; ErrNotFound
// when the key is absent.
func (db *DB) ExpireAt(key []byte, at time.Time) error {
	c, err := db.acquire()
	if err != nil {
		return err
	}
	defer db.release()
	r := C.bitask_go_expire_at(c, ptr(key), C.size_t(len(key)), unixMillis(at))
	runtime.KeepAlive(key)
	return result("expire", r)
}

// Persist removes key's expiry, keeping its value. It reports whether the key
// had one (when not, nothing is written), and returns ErrNotFound when the key
// is absent.
func (db *DB) Persist(key []byte) (bool, error) {
	c, err := db.acquire()
	if err != nil {
		return false, err
	}
	defer db.release()
	var removed C.int32_t
	r := C.bitask_go_persist(c, ptr(key), C.size_t(len(key)), &removed)
	runtime.KeepAlive(key)
	if err := result("persist", r); err != nil {
		return false, err
	}
	return removed != 0, nil
}

// TTL returns the time key has left before it expires (to the millisecond),
// and false when it does not expire. It returns ErrNotFound when the key is
// absent or has expired.
func (db *DB) TTL(key []byte) (time.Duration, bool, error) {
	c, err := db.acquire()
	if err != nil {
		return 0, false, err
	}
	defer db.release()
	var left C.int64_t
	r := C.bitask_go_ttl(c, ptr(key), C.size_t(len(key)), &left)
	runtime.KeepAlive(key)
	if err := result("ttl", r); err != nil {
		return 0, false, err
	}
	if left < 0 {
		return 0, false, nil
	}
	return time.Duration(left) * time.Millisecond, true, nil
}

// Expiry returns the instant key expires, and false when it does not expire.
// It returns ErrNotFound when the key is absent or has expired.
func (db *DB) Expiry(key []byte) (time.Time, bool, error) {
	c, err := db.acquire()
	if err != nil {
		return time.Time{}, false, err
	}
	defer db.release()
	var at C.uint64_t
	r := C.bitask_go_expiry(c, ptr(key), C.size_t(len(key)), &at)
	runtime.KeepAlive(key)
	if err := result("expiry", r); err != nil {
		return time.Time{}, false, err
	}
	if at == 0 {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(int64(at)), true, nil
}
