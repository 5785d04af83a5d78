// Package bitask is the Go binding of bitask, a crash-safe Bitcask key-value
// store. It links the installed C library (libbitask.so) through pkg-config.
//
// A *DB is safe for concurrent use by many goroutines. Keys are non-empty byte
// slices; values are byte slices, and an empty value is a value (Get returns a
// non-nil empty slice for it, and ErrNotFound for an absent key).
//
// Close every DB and Iterator explicitly. A finalizer releases a forgotten one
// when the garbage collector finds it, but that is a leak backstop: until then
// the store's writer lock stays held.
package bitask

/*
#cgo pkg-config: bitask
#include "bitask_go.h"
*/
import "C"

import (
	"math"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// SyncMode says when acknowledged writes reach stable storage.
type SyncMode int

const (
	// SyncDefault keeps the library's default (SyncNone).
	SyncDefault SyncMode = iota
	// SyncNone: the operating system flushes when it likes. A write survives
	// a crash of the process but not a power cut.
	SyncNone
	// SyncAlways: every Put and Delete is on stable storage before it returns.
	SyncAlways
	// SyncInterval: a background thread flushes every Options.SyncInterval.
	SyncInterval
)

// Options tunes Open. The zero value (or a nil *Options) means the library's
// defaults.
type Options struct {
	// MaxFileSize is the size at which the active data file is sealed and a
	// new one started; 0 keeps the default (4 MiB).
	MaxFileSize uint64
	// Sync is the durability of writes.
	Sync SyncMode
	// SyncInterval is the flush period of SyncInterval (rounded up to whole
	// milliseconds); 0 keeps the library's default period.
	SyncInterval time.Duration
	// ReadOnly opens without the writer lock: any number of read-only
	// handles may read while one writer works; writes fail with ErrReadOnly.
	// Refresh loads what the writer wrote since. A read-only Open never
	// creates anything: a missing directory is ErrNoSuchPath.
	ReadOnly bool
	// NoCreate makes a writer's Open of a missing directory fail with
	// ErrNoSuchPath instead of creating it. It is the library's
	// create_if_missing negated, so that the zero Options, like a nil one,
	// keeps the library's default of creating.
	NoCreate bool
	// ErrorIfExists makes Open fail with ErrExists, changing nothing, when
	// the directory already holds a store: for a program that must start
	// from an empty one.
	ErrorIfExists bool
	// NoAutoMerge turns off the automatic merge, which a writer's handle runs
	// by default on a background thread once overwritten and deleted records
	// pass its triggers (see NeedsMerge); space then comes back only through
	// Compact. It is the library's auto_merge negated, so that the zero
	// Options keeps the default.
	NoAutoMerge bool
}

// MergeFile is one data file an automatic merge would take.
type MergeFile struct {
	ID        uint64 // the number in the file's name, <ID>.log
	FileBytes uint64 // bytes of the file and its hint file
	LiveBytes uint64 // bytes of live records (copied)
	DeadBytes uint64 // bytes of dead records (dropped)
	// Reason is why it is taken: "fragmented", "dead-bytes", "small" or
	// "older" (older than a file worth merging: a merge takes the oldest files).
	Reason string
}

// MergeReport says whether an automatic merge is due and what it would take.
type MergeReport struct {
	Due bool
	// WhyNot is empty when Due, else "no-sealed-files", "below-triggers",
	// "nothing-worth-merging", "outside-window", "no-space" or "read-only".
	WhyNot                              string
	ReadBytes, WriteBytes, ReclaimBytes uint64
	StoreRecordBytes, StoreDeadBytes    uint64
	FilesTotal                          uint64      // files it would take
	Files                               []MergeFile // the first 16 of them, oldest first
}

// Stats are figures about a store.
type Stats struct {
	KeyCount  uint64 // live keys
	LiveBytes uint64 // bytes of records that are the current value of a key
	DeadBytes uint64 // bytes of overwritten or deleted records, reclaimed by Compact
	DataFiles uint64 // number of data files
	DiskBytes uint64 // bytes the store takes on disk
	TornBytes uint64 // bytes of torn writes found and cut off at open
}

// DB is an open store. It is safe for concurrent use by many goroutines.
type DB struct {
	h *handle
}

// handle owns the C handle. It is kept apart from DB so that the finalizer on
// DB is not caught in a reference cycle through the iterator registry.
type handle struct {
	// mu is held shared by every call into the library and exclusively by
	// Close, so that Close waits for calls in flight and no call sees a freed
	// handle.
	mu    sync.RWMutex
	c     *C.bitask
	iters map[*iterState]struct{} // open iterators, freed by Close; guarded by itersMu
	// itersMu guards iters (callers hold mu shared, so mu alone does not).
	itersMu sync.Mutex
}

// The Status numbers are the header's: an "invalid array index" compile
// error here means one of them differs from bitask.h.
func _() {
	var x [1]struct{}
	_ = x[StatusOK-C.BITASK_OK]
	_ = x[StatusNotFound-C.BITASK_NOT_FOUND]
	_ = x[StatusBufferTooSmall-C.BITASK_BUFFER_TOO_SMALL]
	_ = x[StatusInvalidArgument-C.BITASK_ERR_INVALID_ARGUMENT]
	_ = x[StatusWriterLock-C.BITASK_ERR_WRITER_LOCK]
	_ = x[StatusReadOnly-C.BITASK_ERR_READ_ONLY]
	_ = x[StatusIO-C.BITASK_ERR_IO]
	_ = x[StatusCorruption-C.BITASK_ERR_CORRUPTION]
	_ = x[StatusTooLarge-C.BITASK_ERR_TOO_LARGE]
	_ = x[StatusInternal-C.BITASK_ERR_INTERNAL]
	_ = x[StatusIncompatible-C.BITASK_ERR_INCOMPATIBLE]
	_ = x[StatusNoSuchPath-C.BITASK_ERR_NO_SUCH_PATH]
	_ = x[StatusPermission-C.BITASK_ERR_PERMISSION]
	_ = x[StatusNotADirectory-C.BITASK_ERR_NOT_A_DIRECTORY]
	_ = x[StatusNoSpace-C.BITASK_ERR_NO_SPACE]
	_ = x[StatusExists-C.BITASK_ERR_EXISTS]
}

// Version returns the version of the linked C library.
func Version() string {
	return C.GoString(C.bitask_version())
}

func strerror(s Status) string {
	p := C.bitask_strerror(C.int(s))
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

// result converts a helper's result into an error, freeing the detail.
func result(op string, r C.bitask_go_result) error {
	st := Status(r.status)
	switch st {
	case StatusOK:
		return nil
	case StatusNotFound:
		return ErrNotFound
	case StatusBufferTooSmall:
		return ErrBufferTooSmall
	}
	detail := ""
	if r.detail != nil {
		detail = C.GoStringN(r.detail, C.int(r.detail_len))
		C.free(unsafe.Pointer(r.detail))
	}
	return newError(op, st, detail)
}

// ptr returns a pointer to the first byte of b, or nil for an empty slice. The
// slice is passed to C without copying; the caller keeps b alive with
// runtime.KeepAlive until the call returns.
func ptr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// Open opens the store in directory path. A nil opts means the defaults.
//
// A writer's Open creates the directory when it is missing (unless
// Options.NoCreate), but only its last component: a missing parent is
// ErrNoSuchPath, so that a mistyped path does not grow a tree of directories.
// A path naming a regular file is ErrNotADirectory. A directory that is not
// provably a store (files of another program, or of another store, under a
// store's file names) is ErrIncompatible, and is left as it was.
func Open(path string, opts *Options) (*DB, error) {
	if strings.IndexByte(path, 0) >= 0 {
		return nil, &Error{Op: "open", Status: StatusInvalidArgument, Detail: "path contains a NUL byte"}
	}
	var (
		useOpts     C.int
		maxFileSize C.uint64_t
		syncMode    C.int = -1
		intervalMS  C.uint32_t
		readOnly    C.int
		create      C.int = 1
		errIfExists C.int
		noAutoMerge C.int
	)
	if opts != nil {
		useOpts = 1
		maxFileSize = C.uint64_t(opts.MaxFileSize)
		switch opts.Sync {
		case SyncDefault:
		case SyncNone:
			syncMode = C.BITASK_SYNC_NONE
		case SyncAlways:
			syncMode = C.BITASK_SYNC_ALWAYS
		case SyncInterval:
			syncMode = C.BITASK_SYNC_INTERVAL
		default:
			return nil, &Error{Op: "open", Status: StatusInvalidArgument, Detail: "unknown sync mode"}
		}
		if d := opts.SyncInterval; d != 0 {
			if d < 0 {
				return nil, &Error{Op: "open", Status: StatusInvalidArgument, Detail: "negative sync interval"}
			}
			ms := (d + time.Millisecond - 1) / time.Millisecond
			if ms > math.MaxUint32 {
				return nil, &Error{Op: "open", Status: StatusInvalidArgument, Detail: "sync interval too long"}
			}
			intervalMS = C.uint32_t(ms)
		}
		if opts.ReadOnly {
			readOnly = 1
		}
		if opts.NoCreate {
			create = 0
		}
		if opts.ErrorIfExists {
			errIfExists = 1
		}
		if opts.NoAutoMerge {
			noAutoMerge = 1
		}
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var c *C.bitask
	r := C.bitask_go_open(cpath, useOpts, maxFileSize, syncMode, intervalMS, readOnly, create, errIfExists, noAutoMerge, &c)
	if err := result("open", r); err != nil {
		return nil, err
	}
	db := &DB{h: &handle{c: c, iters: make(map[*iterState]struct{})}}
	runtime.SetFinalizer(db, func(db *DB) { db.h.close() })
	return db, nil
}

// Close closes the store, releasing its writer lock and any Iterator still
// open on it. It waits for calls in flight on other goroutines. Closing again
// does nothing; any other method returns ErrClosed after Close.
//
// The library cannot report a failure while closing, so Close returns nil;
// call Sync first when the outcome matters.
func (db *DB) Close() error {
	db.h.close()
	runtime.SetFinalizer(db, nil)
	runtime.KeepAlive(db)
	return nil
}

func (h *handle) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.c == nil {
		return
	}
	h.itersMu.Lock()
	for st := range h.iters {
		C.bitask_iter_free(st.c)
		st.c = nil
	}
	h.iters = nil
	h.itersMu.Unlock()
	C.bitask_close(h.c)
	h.c = nil
}

// acquire takes the handle shared; the caller must release it with
// db.h.mu.RUnlock.
func (db *DB) acquire() (*C.bitask, error) {
	db.h.mu.RLock()
	if db.h.c == nil {
		db.h.mu.RUnlock()
		return nil, ErrClosed
	}
	return db.h.c, nil
}

func (db *DB) release() {
	db.h.mu.RUnlock()
	runtime.KeepAlive(db)
}

// Put stores value under key, replacing any earlier value. key must not be
// empty; value may be.
func (db *DB) Put(key, value []byte) error {
	c, err := db.acquire()
	if err != nil {
		return err
	}
	defer db.release()
	r := C.bitask_go_put(c, ptr(key), C.size_t(len(key)), ptr(value), C.size_t(len(value)))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	return result("put", r)
}

// Get returns a copy of the value of key, owned by the caller. It returns
// ErrNotFound when the key is absent, and a non-nil empty slice for an empty
// value.
func (db *DB) Get(key []byte) ([]byte, error) {
	c, err := db.acquire()
	if err != nil {
		return nil, err
	}
	defer db.release()
	var (
		v  *C.uint8_t
		vl C.size_t
	)
	r := C.bitask_go_get(c, ptr(key), C.size_t(len(key)), &v, &vl)
	runtime.KeepAlive(key)
	if err := result("get", r); err != nil {
		return nil, err
	}
	out := make([]byte, int(vl))
	if v != nil {
		copy(out, unsafe.Slice((*byte)(unsafe.Pointer(v)), int(vl)))
		C.bitask_free(unsafe.Pointer(v))
	}
	return out, nil
}

// GetInto copies the value of key into buf and returns its length. When the
// value is longer than buf, nothing is copied and it returns the value's
// length with ErrBufferTooSmall. It allocates nothing.
func (db *DB) GetInto(key, buf []byte) (int, error) {
	c, err := db.acquire()
	if err != nil {
		return 0, err
	}
	defer db.release()
	var vl C.size_t
	r := C.bitask_go_get_into(c, ptr(key), C.size_t(len(key)), ptr(buf), C.size_t(len(buf)), &vl)
	runtime.KeepAlive(key)
	runtime.KeepAlive(buf)
	if err := result("get", r); err != nil {
		if err == ErrBufferTooSmall {
			return int(vl), err
		}
		return 0, err
	}
	return int(vl), nil
}

// Has reports whether key has a value.
func (db *DB) Has(key []byte) (bool, error) {
	c, err := db.acquire()
	if err != nil {
		return false, err
	}
	defer db.release()
	r := C.bitask_go_contains(c, ptr(key), C.size_t(len(key)))
	runtime.KeepAlive(key)
	switch err := result("has", r); err {
	case nil:
		return true, nil
	case ErrNotFound:
		return false, nil
	default:
		return false, err
	}
}

// Delete removes key. It returns ErrNotFound (and writes nothing) when the key
// is absent.
func (db *DB) Delete(key []byte) error {
	c, err := db.acquire()
	if err != nil {
		return err
	}
	defer db.release()
	r := C.bitask_go_remove(c, ptr(key), C.size_t(len(key)))
	runtime.KeepAlive(key)
	return result("delete", r)
}

// Compact merges the sealed data files into new ones holding only live
// records, and deletes the old files.
func (db *DB) Compact() error {
	c, err := db.acquire()
	if err != nil {
		return err
	}
	defer db.release()
	return result("compact", C.bitask_go_compact(c))
}

// Sync makes every write so far durable.
func (db *DB) Sync() error {
	c, err := db.acquire()
	if err != nil {
		return err
	}
	defer db.release()
	return result("sync", C.bitask_go_sync(c))
}

// Refresh loads, on a read-only handle, what the writer wrote since Open or
// the last Refresh. On a writer handle it does nothing.
func (db *DB) Refresh() error {
	c, err := db.acquire()
	if err != nil {
		return err
	}
	defer db.release()
	return result("refresh", C.bitask_go_refresh(c))
}

// Stats returns figures about the store.
func (db *DB) Stats() (Stats, error) {
	c, err := db.acquire()
	if err != nil {
		return Stats{}, err
	}
	defer db.release()
	var s C.bitask_stats
	if err := result("stats", C.bitask_go_stat(c, &s)); err != nil {
		return Stats{}, err
	}
	return Stats{
		KeyCount:  uint64(s.key_count),
		LiveBytes: uint64(s.live_bytes),
		DeadBytes: uint64(s.dead_bytes),
		DataFiles: uint64(s.data_files),
		DiskBytes: uint64(s.disk_bytes),
		TornBytes: uint64(s.torn_bytes),
	}, nil
}

var mergeReasons = map[C.uint32_t]string{
	C.BITASK_MERGE_FRAGMENTED: "fragmented",
	C.BITASK_MERGE_DEAD_BYTES: "dead-bytes",
	C.BITASK_MERGE_SMALL:      "small",
	C.BITASK_MERGE_OLDER:      "older",
}

var mergeWhyNot = map[C.uint32_t]string{
	C.BITASK_MERGE_DUE:                   "",
	C.BITASK_MERGE_NO_SEALED_FILES:       "no-sealed-files",
	C.BITASK_MERGE_BELOW_TRIGGERS:        "below-triggers",
	C.BITASK_MERGE_NOTHING_WORTH_MERGING: "nothing-worth-merging",
	C.BITASK_MERGE_OUTSIDE_WINDOW:        "outside-window",
	C.BITASK_MERGE_NO_SPACE:              "no-space",
	C.BITASK_MERGE_READ_ONLY:             "read-only",
}

// NeedsMerge reports whether an automatic merge is due, which files it would
// take and why, and the bytes it would read, write and give back. It changes
// nothing on disk.
func (db *DB) NeedsMerge() (MergeReport, error) {
	c, err := db.acquire()
	if err != nil {
		return MergeReport{}, err
	}
	defer db.release()
	var r C.bitask_merge_report
	if err := result("needs merge", C.bitask_go_needs_merge(c, &r)); err != nil {
		return MergeReport{}, err
	}
	out := MergeReport{
		Due:              bool(r.due),
		WhyNot:           mergeWhyNot[r.why_not],
		ReadBytes:        uint64(r.read_bytes),
		WriteBytes:       uint64(r.write_bytes),
		ReclaimBytes:     uint64(r.reclaim_bytes),
		StoreRecordBytes: uint64(r.store_record_bytes),
		StoreDeadBytes:   uint64(r.store_dead_bytes),
		FilesTotal:       uint64(r.files_total),
	}
	for i := 0; i < int(r.files_listed) && i < len(r.files); i++ {
		f := r.files[i]
		out.Files = append(out.Files, MergeFile{
			ID:        uint64(f.file_id),
			FileBytes: uint64(f.file_bytes),
			LiveBytes: uint64(f.live_bytes),
			DeadBytes: uint64(f.dead_bytes),
			Reason:    mergeReasons[f.reason],
		})
	}
	return out, nil
}
