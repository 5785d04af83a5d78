package bitask

/*
#include "bitask_go.h"
*/
import "C"

import (
	"runtime"
	"time"
	"unsafe"
)

// Batch holds puts and deletes that DB.Write applies atomically: after any
// crash the store holds all of them or none, and readers never see part of
// them. The zero value is an empty batch; a Batch belongs to one goroutine at a
// time. Operations on one key apply in order (the last one wins).
type Batch struct {
	buf   []byte // keys and values back to back
	klens []C.size_t
	vlens []C.size_t
	dels  []C.uint8_t
	// The expiry of each operation (0: none), from the first put that expires on.
	expiries []C.uint64_t
}

// Put adds a put of value under key. The bytes are copied.
func (b *Batch) Put(key, value []byte) {
	b.buf = append(append(b.buf, key...), value...)
	b.klens = append(b.klens, C.size_t(len(key)))
	b.vlens = append(b.vlens, C.size_t(len(value)))
	b.dels = append(b.dels, 0)
	b.noExpiry()
}

// PutExpiringAt adds a put of value under key that expires at the instant at
// (to the millisecond; see DB.PutExpiringAt). The bytes are copied.
func (b *Batch) PutExpiringAt(key, value []byte, at time.Time) {
	if b.expiries == nil {
		b.expiries = make([]C.uint64_t, len(b.dels), len(b.dels)+1)
	}
	b.Put(key, value)
	ms := unixMillis(at)
	if ms == 0 {
		ms = 1 // long past, as 0 would be; 0 means no expiry here
	}
	b.expiries[len(b.expiries)-1] = ms
}

// noExpiry records that the last operation does not expire, once some does.
func (b *Batch) noExpiry() {
	if b.expiries != nil {
		b.expiries = append(b.expiries, 0)
	}
}

// Delete adds a removal of key; removing an absent key is no error in a batch.
func (b *Batch) Delete(key []byte) {
	b.buf = append(b.buf, key...)
	b.klens = append(b.klens, C.size_t(len(key)))
	b.vlens = append(b.vlens, 0)
	b.dels = append(b.dels, 1)
	b.noExpiry()
}

// Len is the number of operations.
func (b *Batch) Len() int { return len(b.dels) }

// Reset removes every operation, keeping the memory.
func (b *Batch) Reset() {
	b.buf, b.klens, b.vlens, b.dels = b.buf[:0], b.klens[:0], b.vlens[:0], b.dels[:0]
	b.expiries = nil
}

// Write applies every operation of b, or none (see Batch), in one call into
// the library. An empty key or a length over the limits fails the whole batch
// with nothing written. With SyncAlways the batch is durable when Write
// returns, made so by one fdatasync.
func (db *DB) Write(b *Batch) error {
	c, err := db.acquire()
	if err != nil {
		return err
	}
	defer db.release()
	n := len(b.dels)
	if n == 0 {
		return result("write", C.bitask_go_write(c, 0, nil, nil, nil, nil, nil, 0))
	}
	var expiries *C.uint64_t
	if b.expiries != nil {
		expiries = &b.expiries[0]
	}
	r := C.bitask_go_write(c, C.size_t(n), ptr(b.buf), &b.klens[0], &b.vlens[0], &b.dels[0], expiries, 0)
	runtime.KeepAlive(b)
	return result("write", r)
}

// zero gives an empty value a non-nil pointer: a nil pointer means "absent".
var zero [1]byte

// optional is the C form of a value that may be absent (nil).
func optional(v []byte) *C.uint8_t {
	if v == nil {
		return nil
	}
	if len(v) == 0 {
		return (*C.uint8_t)(unsafe.Pointer(&zero[0]))
	}
	return ptr(v)
}

// PutIfAbsent stores value under key only when the key has no value, and
// reports whether it did. The check and the write are one step against every
// other writer of the handle.
func (db *DB) PutIfAbsent(key, value []byte) (bool, error) {
	c, err := db.acquire()
	if err != nil {
		return false, err
	}
	defer db.release()
	r := C.bitask_go_put_if_absent(c, ptr(key), C.size_t(len(key)), ptr(value), C.size_t(len(value)))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	if Status(r.status) == StatusKeyExists {
		return false, nil
	}
	return true, result("put_if_absent", r)
}

// CompareAndSet stores value under key (or, with value nil, deletes it) when
// the key's current value is expected (with expected nil: when the key is
// absent), and reports whether it did. A non-nil empty slice is the empty
// value. The comparison and the write are one step against every other writer
// of the handle.
func (db *DB) CompareAndSet(key, expected, value []byte) (bool, error) {
	c, err := db.acquire()
	if err != nil {
		return false, err
	}
	defer db.release()
	r := C.bitask_go_compare_and_set(c, ptr(key), C.size_t(len(key)),
		optional(expected), C.size_t(len(expected)), optional(value), C.size_t(len(value)))
	runtime.KeepAlive(key)
	runtime.KeepAlive(expected)
	runtime.KeepAlive(value)
	if Status(r.status) == StatusMismatch {
		return false, nil
	}
	return true, result("compare_and_set", r)
}

// MultiGet returns the values of keys, in order (nil for an absent key), read
// as of one moment: a batch written meanwhile is seen whole or not at all. It
// crosses into the library once (twice when a value is longer than it
// guessed), and the values share one backing array. A program that reads many
// batches saves the allocations with a MultiGetter.
func (db *DB) MultiGet(keys [][]byte) ([][]byte, error) {
	var m MultiGetter
	return m.Get(db, keys)
}

// MultiGetter holds the buffers of multi-gets and reuses them from one Get to
// the next, so that reading batch after batch allocates nothing once the
// buffers have grown to the batches' size. Its zero value is ready to use. A
// MultiGetter is not safe for concurrent use: give each goroutine its own.
type MultiGetter struct {
	packed            []byte
	klens, offs, lens []C.size_t
	sts               []C.bitask_status
	buf               []byte
	out               [][]byte
}

// Get is DB.MultiGet through m's buffers: the slice it returns and the values
// in it are m's, valid until the next Get on m (copy what must outlive it).
func (m *MultiGetter) Get(db *DB, keys [][]byte) ([][]byte, error) {
	n := len(keys)
	m.out = resize(m.out, n)
	for i := range m.out {
		m.out[i] = nil
	}
	if n == 0 {
		return m.out, nil
	}
	c, err := db.acquire()
	if err != nil {
		return nil, err
	}
	defer db.release()
	m.packed = m.packed[:0]
	m.klens = resize(m.klens, n)
	for i, k := range keys {
		m.packed = append(m.packed, k...)
		m.klens[i] = C.size_t(len(k))
	}
	m.offs = resize(m.offs, n)
	m.lens = resize(m.lens, n)
	m.sts = resize(m.sts, n)
	if len(m.buf) < 128*n {
		m.buf = make([]byte, 128*n)
	}
	for {
		r := C.bitask_go_multi_get(c, C.size_t(n), ptr(m.packed), &m.klens[0],
			ptr(m.buf), C.size_t(len(m.buf)), &m.offs[0], &m.lens[0], &m.sts[0])
		runtime.KeepAlive(m.packed)
		runtime.KeepAlive(m.buf)
		if err := result("multi_get", r); err != nil {
			return nil, err
		}
		need, short := 0, false
		for i := range m.sts {
			if Status(m.sts[i]) != StatusNotFound {
				need += int(m.lens[i])
			}
			short = short || Status(m.sts[i]) == StatusBufferTooSmall
		}
		if !short {
			break
		}
		m.buf = make([]byte, need+need/4+1)
	}
	for i := range m.sts {
		if Status(m.sts[i]) == StatusOK {
			at, l := int(m.offs[i]), int(m.lens[i])
			m.out[i] = m.buf[at : at+l : at+l]
		}
	}
	return m.out, nil
}

// resize returns s with length n, reusing its array when it is large enough.
func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}
