package bitask

import (
	"errors"
	"io/fs"
	"strconv"
)

// Sentinel errors. Every error returned by this package that comes from the
// library matches exactly one of them with errors.Is; most are an *Error that
// also carries the library's detailed message (which file, which offset, what
// the operating system said). ErrNoSuchPath, ErrPermission and ErrExists also
// match fs.ErrNotExist, fs.ErrPermission and fs.ErrExist.
var (
	// ErrNotFound: the key is not in the store (Get, Delete, GetInto).
	ErrNotFound = errors.New("bitask: key not found")
	// ErrKeyExists: the key already has a value (the status of
	// bitask_put_if_absent; PutIfAbsent reports it as false).
	ErrKeyExists = errors.New("bitask: the key already has a value")
	// ErrMismatch: the value is not the one expected (the status of
	// bitask_compare_and_set; CompareAndSet reports it as false).
	ErrMismatch = errors.New("bitask: the value is not the one expected")
	// ErrBufferTooSmall: GetInto's buffer is shorter than the value.
	ErrBufferTooSmall = errors.New("bitask: buffer too small")
	// ErrInvalidArgument: an argument was rejected (an empty key, an option
	// out of range, a path containing a NUL byte); nothing was written.
	ErrInvalidArgument = errors.New("bitask: invalid argument")
	// ErrWriterLock: another handle, in this process or another, holds the
	// store's writer lock. Open read-only, or close the other handle.
	ErrWriterLock = errors.New("bitask: store is locked by another writer")
	// ErrReadOnly: a write on a handle opened with Options.ReadOnly.
	ErrReadOnly = errors.New("bitask: handle is read-only")
	// ErrIO: the operating system failed an operation, or the handle stopped
	// accepting writes after a failure it cannot undo (a failed fsync): close
	// it and open the store again.
	ErrIO = errors.New("bitask: I/O error")
	// ErrCorruption: stored data failed its checksum or is malformed.
	ErrCorruption = errors.New("bitask: corruption")
	// ErrTooLarge: a key or value is longer than the library's limit.
	ErrTooLarge = errors.New("bitask: key or value too large")
	// ErrInternal: a bug inside the library (a caught panic), or a status
	// code this package does not know.
	ErrInternal = errors.New("bitask: internal error")
	// ErrIncompatible: a file in the directory is not one the library can
	// prove it wrote: a newer format version, a file of another program or of
	// bitask 0.1.1 under a store's file name, a file of another store. Nothing
	// was changed on disk.
	ErrIncompatible = errors.New("bitask: incompatible file")
	// ErrNoSuchPath: a file or directory the call needs does not exist: a
	// read-only Open of a missing directory, a missing parent directory, a
	// missing directory with Options.NoCreate. It also matches fs.ErrNotExist.
	ErrNoSuchPath error = &fsError{"bitask: no such file or directory", fs.ErrNotExist}
	// ErrPermission: the operating system refused access (EACCES, EPERM,
	// EROFS). It also matches fs.ErrPermission.
	ErrPermission error = &fsError{"bitask: permission denied", fs.ErrPermission}
	// ErrNotADirectory: the store's path, or a component of it, is not a
	// directory.
	ErrNotADirectory = errors.New("bitask: not a directory")
	// ErrNoSpace: the file system is full or over quota (ENOSPC, EDQUOT).
	// Nothing was written; the handle keeps working, and writes succeed again
	// once space is freed.
	ErrNoSpace = errors.New("bitask: no space left on device")
	// ErrExists: the directory already holds a store, and Open was asked for
	// a new one (Options.ErrorIfExists). Nothing was changed. It also matches
	// fs.ErrExist.
	ErrExists error = &fsError{"bitask: store already exists", fs.ErrExist}
	// ErrClosed: the DB or Iterator was used after Close. It does not come
	// from the library.
	ErrClosed = errors.New("bitask: use of closed handle")
)

// fsError is a sentinel that also matches, with errors.Is, the io/fs error for
// the same condition, so that a program checks a store's path the way it
// checks any other: errors.Is(err, fs.ErrNotExist) holds for a missing store
// directory as for a missing file. It is a value of its own, so
// errors.Is(err, ErrNoSuchPath) still tells a failure of bitask from one of
// os. It matches through an Is method rather than Unwrap, as syscall.Errno
// does: the condition is the same one, fs.ErrNotExist is not its cause.
//
// ErrNotADirectory and ErrNoSpace match nothing else: io/fs has no sentinel
// for them, and no sentinel matches a syscall.Errno, because the library
// passes on the class of a failure, not the operating system's number
// (ErrNoSpace is ENOSPC or EDQUOT). ErrNotFound, a missing key, is not
// fs.ErrNotExist: no file is missing.
type fsError struct {
	msg string
	fs  error
}

func (e *fsError) Error() string { return e.msg }

// Is reports whether target is the io/fs error of the same condition.
func (e *fsError) Is(target error) bool { return target == e.fs }

// Status is a status code of the C library (the bitask_status enum).
type Status int

// The status codes of the C library.
const (
	StatusOK              Status = 0
	StatusNotFound        Status = 1
	StatusBufferTooSmall  Status = 2
	StatusInvalidArgument Status = 3
	StatusWriterLock      Status = 4
	StatusReadOnly        Status = 5
	StatusIO              Status = 6
	StatusCorruption      Status = 7
	StatusTooLarge        Status = 8
	StatusInternal        Status = 9
	StatusIncompatible    Status = 10
	StatusNoSuchPath      Status = 11
	StatusPermission      Status = 12
	StatusNotADirectory   Status = 13
	StatusNoSpace         Status = 14
	StatusExists          Status = 15
	StatusKeyExists       Status = 16
	StatusMismatch        Status = 17
	numberOfKnownStatuses        = 18
)

var sentinels = [numberOfKnownStatuses]error{
	StatusOK:              nil,
	StatusNotFound:        ErrNotFound,
	StatusBufferTooSmall:  ErrBufferTooSmall,
	StatusInvalidArgument: ErrInvalidArgument,
	StatusWriterLock:      ErrWriterLock,
	StatusReadOnly:        ErrReadOnly,
	StatusIO:              ErrIO,
	StatusCorruption:      ErrCorruption,
	StatusTooLarge:        ErrTooLarge,
	StatusInternal:        ErrInternal,
	StatusIncompatible:    ErrIncompatible,
	StatusNoSuchPath:      ErrNoSuchPath,
	StatusPermission:      ErrPermission,
	StatusNotADirectory:   ErrNotADirectory,
	StatusNoSpace:         ErrNoSpace,
	StatusExists:          ErrExists,
	StatusKeyExists:       ErrKeyExists,
	StatusMismatch:        ErrMismatch,
}

// Sentinel returns the sentinel error of a status (nil for StatusOK, and
// ErrInternal for a code this package does not know).
func (s Status) Sentinel() error {
	if s >= 0 && int(s) < len(sentinels) {
		return sentinels[s]
	}
	return ErrInternal
}

// Error is a failure reported by the library.
type Error struct {
	Op     string // the operation that failed: "open", "put", "get", ...
	Status Status // the library's status code
	// Detail is the library's message for this failure (bitask_last_error_message),
	// or its generic text for the status (bitask_strerror) when it gave none.
	Detail string
}

func (e *Error) Error() string {
	return "bitask: " + e.Op + ": " + e.Detail
}

// Unwrap returns the sentinel of the status, so that errors.Is(err, ErrWriterLock)
// and the like work (and, through the sentinel, errors.Is(err, fs.ErrNotExist)).
func (e *Error) Unwrap() error { return e.Status.Sentinel() }

func newError(op string, st Status, detail string) error {
	if st == StatusOK {
		return nil
	}
	if detail == "" {
		detail = st.String()
	}
	return &Error{Op: op, Status: st, Detail: detail}
}

func (s Status) String() string {
	if msg := strerror(s); msg != "" {
		return msg
	}
	return "status " + strconv.Itoa(int(s))
}
