package bitask

/*
#cgo pkg-config: bitask
#include "bitask_go.h"
*/
import "C"

import "unsafe"

// CheckpointReport says what DB.Checkpoint did.
type CheckpointReport struct {
	Linked      uint64 // files hard-linked into the destination
	Copied      uint64 // files copied (the active file's records; files a link could not reach)
	Kept        uint64 // files an earlier backup there already held
	Removed     uint64 // files of the store removed from the destination
	BytesCopied uint64
}

// Problem is one thing Verify found wrong: a file of the store (its name in
// the store's directory), an offset in it, and why.
type Problem struct {
	File   string
	Offset uint64
	Reason string
}

// VerifyReport says what Verify or VerifyPath found. Problems lists the first
// ones (at most 8); ProblemsTotal counts them all, 0 for an intact store.
type VerifyReport struct {
	DataFiles     uint64
	HintFiles     uint64
	Records       uint64
	TornBytes     uint64 // a last write cut short by a crash: not a problem
	ProblemsTotal uint64
	Problems      []Problem
}

// RepairReport says what Repair did.
type RepairReport struct {
	RecordsKept       uint64
	FilesRewritten    uint64
	UnreadableBytes   uint64
	RecordsLost       uint64 // a lower bound
	KeysLost          uint64 // as far as an intact hint file names them
	KeysRolledBack    uint64 // likewise
	TombstonesRebuilt uint64 // damaged deletions written again from an intact hint file
	FilesQuarantined  uint64 // moved into bitask-quarantine inside the store
	ProblemsRemaining uint64 // what Verify still finds (files Repair leaves alone)
}

// Checkpoint writes a consistent copy of the store as of the call into the
// directory dest while writes go on (a hot backup). dest must be missing,
// empty, or an earlier backup of this store, which is brought up to date;
// anything else is ErrIncompatible, and dest is left as it was. The copy opens
// as the same store. A writer's handle only (ErrReadOnly otherwise).
func (db *DB) Checkpoint(dest string) (CheckpointReport, error) {
	c, err := db.acquire()
	if err != nil {
		return CheckpointReport{}, err
	}
	defer db.release()
	cdest := C.CString(dest)
	defer C.free(unsafe.Pointer(cdest))
	var r C.bitask_checkpoint_report
	if err := result("checkpoint", C.bitask_go_checkpoint(c, cdest, &r)); err != nil {
		return CheckpointReport{}, err
	}
	return CheckpointReport{
		Linked:      uint64(r.linked),
		Copied:      uint64(r.copied),
		Kept:        uint64(r.kept),
		Removed:     uint64(r.removed),
		BytesCopied: uint64(r.bytes_copied),
	}, nil
}

// Verify checks the store of the handle without changing anything: every
// record's checksum, every hint file, the seals, the store tags and the order
// of sequence numbers. What it finds is in the report; the error is for a
// store that cannot be read at all.
func (db *DB) Verify() (VerifyReport, error) {
	c, err := db.acquire()
	if err != nil {
		return VerifyReport{}, err
	}
	defer db.release()
	var r C.bitask_verify_report
	if err := result("verify", C.bitask_go_verify(c, &r)); err != nil {
		return VerifyReport{}, err
	}
	return verifyReport(&r), nil
}

// VerifyPath checks the store in directory path as Verify does, without
// opening it and without changing anything.
func VerifyPath(path string) (VerifyReport, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var r C.bitask_verify_report
	if err := result("verify", C.bitask_go_verify_path(cpath, &r)); err != nil {
		return VerifyReport{}, err
	}
	return verifyReport(&r), nil
}

// Repair keeps every intact record of the damaged store in directory path,
// which no writer may have open (ErrWriterLock): damaged data files are
// rewritten with their intact records, and the originals moved into
// bitask-quarantine inside the directory, never deleted.
func Repair(path string) (RepairReport, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var r C.bitask_repair_report
	if err := result("repair", C.bitask_go_repair(cpath, &r)); err != nil {
		return RepairReport{}, err
	}
	return RepairReport{
		RecordsKept:       uint64(r.records_kept),
		FilesRewritten:    uint64(r.files_rewritten),
		UnreadableBytes:   uint64(r.unreadable_bytes),
		RecordsLost:       uint64(r.records_lost),
		KeysLost:          uint64(r.keys_lost),
		KeysRolledBack:    uint64(r.keys_rolled_back),
		TombstonesRebuilt: uint64(r.tombstones_rebuilt),
		FilesQuarantined:  uint64(r.files_quarantined),
		ProblemsRemaining: uint64(r.problems_remaining),
	}, nil
}

func verifyReport(r *C.bitask_verify_report) VerifyReport {
	out := VerifyReport{
		DataFiles:     uint64(r.data_files),
		HintFiles:     uint64(r.hint_files),
		Records:       uint64(r.records),
		TornBytes:     uint64(r.torn_bytes),
		ProblemsTotal: uint64(r.problems_total),
	}
	for i := 0; i < int(r.problems_listed); i++ {
		p := &r.problems[i]
		out.Problems = append(out.Problems, Problem{
			File:   C.GoString(&p.file[0]),
			Offset: uint64(p.offset),
			Reason: C.GoString(&p.reason[0]),
		})
	}
	return out
}
