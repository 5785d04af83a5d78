package bitask

/*
#include "bitask_go.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Iterator walks the keys that start with a prefix, in byte order, with their
// values. The keys are a snapshot taken by Iter: a key deleted since is
// skipped, and a key overwritten since yields its newest value.
//
// An Iterator belongs to one goroutine at a time. Use it as
//
//	it, err := db.Iter(prefix)
//	if err != nil { ... }
//	defer it.Close()
//	for it.Next() {
//		use(it.Key(), it.Value())
//	}
//	if err := it.Err(); err != nil { ... }
type Iterator struct {
	db         *DB
	st         *iterState
	key, value []byte
	err        error
	done       bool
}

// iterState owns the C iterator. The DB's registry points at it (not at the
// Iterator), so that closing the DB can free it and a forgotten Iterator can
// still be finalized.
type iterState struct {
	c *C.bitask_iter
}

// Iter returns an Iterator over the keys starting with prefix (all keys for
// an empty or nil prefix). Close it when done; it is closed by Close of its DB
// too.
func (db *DB) Iter(prefix []byte) (*Iterator, error) {
	return db.Range(ScanOptions{Prefix: prefix})
}

// ScanOptions say what Range covers. The zero value is every key, ascending,
// with values. A key is in the scan when it has the prefix and lies within
// both bounds.
type ScanOptions struct {
	// Prefix keeps keys that start with it (any key when empty).
	Prefix []byte
	// Lower keeps keys >= Lower (> Lower with LowerExclusive); empty: no bound.
	Lower []byte
	// Upper keeps keys < Upper (<= Upper with UpperInclusive); empty: no bound.
	Upper          []byte
	LowerExclusive bool
	UpperInclusive bool
	// Reverse walks the keys in descending order.
	Reverse bool
	// KeysOnly yields each key with an empty value, and reads no value.
	KeysOnly bool
}

func (o ScanOptions) flags() C.int {
	var f C.int
	if o.Reverse {
		f |= C.BITASK_ITER_REVERSE
	}
	if o.KeysOnly {
		f |= C.BITASK_ITER_KEYS_ONLY
	}
	if o.LowerExclusive {
		f |= C.BITASK_ITER_LOWER_EXCLUSIVE
	}
	if o.UpperInclusive {
		f |= C.BITASK_ITER_UPPER_INCLUSIVE
	}
	return f
}

// Range returns an Iterator over the keys o covers, in its direction. Close
// it when done; it is closed by Close of its DB too.
func (db *DB) Range(o ScanOptions) (*Iterator, error) {
	c, err := db.acquire()
	if err != nil {
		return nil, err
	}
	defer db.release()
	var ci *C.bitask_iter
	r := C.bitask_go_iter_new_range(c, ptr(o.Prefix), C.size_t(len(o.Prefix)),
		ptr(o.Lower), C.size_t(len(o.Lower)), ptr(o.Upper), C.size_t(len(o.Upper)),
		o.flags(), &ci)
	runtime.KeepAlive(o)
	if err := result("iter", r); err != nil {
		return nil, err
	}
	st := &iterState{c: ci}
	db.h.itersMu.Lock()
	db.h.iters[st] = struct{}{}
	db.h.itersMu.Unlock()
	it := &Iterator{db: db, st: st}
	runtime.SetFinalizer(it, func(it *Iterator) { it.free() })
	return it, nil
}

// Seek moves the iterator: the next Next stops at the first key >= key (in a
// reverse scan, the last key <= key) within its range. It may move backwards,
// also from the end; keys already visited are visited again. After Close, or
// an error that ended the iteration, it returns that error.
func (it *Iterator) Seek(key []byte) error {
	if it.err != nil {
		return it.err
	}
	h := it.db.h
	h.mu.RLock()
	defer h.mu.RUnlock()
	if it.st.c == nil {
		return ErrClosed
	}
	r := C.bitask_go_iter_seek(it.st.c, ptr(key), C.size_t(len(key)))
	runtime.KeepAlive(key)
	if err := result("iter seek", r); err != nil {
		return err
	}
	it.done = false
	it.key, it.value = nil, nil
	return nil
}

// Next advances to the next key and reports whether there is one. It returns
// false at the end and on an error (see Err).
func (it *Iterator) Next() bool {
	it.key, it.value = nil, nil
	if it.done || it.err != nil {
		return false
	}
	h := it.db.h
	h.mu.RLock()
	defer h.mu.RUnlock()
	if it.st.c == nil {
		it.err = ErrClosed
		return false
	}
	var (
		k, v   *C.uint8_t
		kl, vl C.size_t
	)
	err := result("iter next", C.bitask_go_iter_next(it.st.c, &k, &kl, &v, &vl))
	switch err {
	case nil:
		// The library's buffers are valid only until the next call: copy.
		it.key = make([]byte, int(kl))
		copy(it.key, unsafe.Slice((*byte)(unsafe.Pointer(k)), int(kl)))
		it.value = make([]byte, int(vl))
		if vl > 0 {
			copy(it.value, unsafe.Slice((*byte)(unsafe.Pointer(v)), int(vl)))
		}
		return true
	case ErrNotFound:
		// Kept until Close: a Seek may move it back.
		it.done = true
		return false
	default:
		it.err = err
		it.freeLocked()
		return false
	}
}

// Key returns the current key: a copy owned by the caller.
func (it *Iterator) Key() []byte { return it.key }

// Value returns the current value: a copy owned by the caller (non-nil, also
// when empty).
func (it *Iterator) Value() []byte { return it.value }

// Err returns the error that ended the iteration, or nil.
func (it *Iterator) Err() error { return it.err }

// Close releases the iterator. Closing again does nothing.
func (it *Iterator) Close() error {
	it.free()
	runtime.SetFinalizer(it, nil)
	it.done = true
	it.key, it.value = nil, nil
	return nil
}

func (it *Iterator) free() {
	h := it.db.h
	h.mu.RLock()
	it.freeLocked()
	h.mu.RUnlock()
}

// freeLocked frees the C iterator; the caller holds h.mu shared (Close of the
// DB, which holds it exclusively, may have freed it already).
func (it *Iterator) freeLocked() {
	if it.st.c == nil {
		return
	}
	h := it.db.h
	h.itersMu.Lock()
	delete(h.iters, it.st)
	h.itersMu.Unlock()
	C.bitask_iter_free(it.st.c)
	it.st.c = nil
}

// Scan calls fn for each key starting with prefix, in byte order, with its
// value (copies owned by fn). It stops at the first error fn returns and
// returns it.
func (db *DB) Scan(prefix []byte, fn func(key, value []byte) error) error {
	it, err := db.Iter(prefix)
	if err != nil {
		return err
	}
	defer it.Close()
	for it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	return it.Err()
}
