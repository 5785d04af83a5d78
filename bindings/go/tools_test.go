package bitask

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func activeFile(t *testing.T, dir string) string {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(dir, "*.active.log"))
	if err != nil || len(found) != 1 {
		t.Fatalf("active file of %s: %v %v", dir, found, err)
	}
	return found[0]
}

func TestCheckpointOpensAsTheStore(t *testing.T) {
	db, _ := openT(t, nil)
	must(t, db.Put([]byte("a"), []byte("1")))
	dest := filepath.Join(t.TempDir(), "backup")
	r, err := db.Checkpoint(dest)
	must(t, err)
	if r.Copied != 1 || r.BytesCopied == 0 {
		t.Fatalf("report %+v", r)
	}
	foreign := t.TempDir()
	must(t, os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o600))
	if _, err := db.Checkpoint(foreign); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("foreign destination: %v", err)
	}
	copyDB, err := Open(dest, nil)
	must(t, err)
	defer copyDB.Close()
	v, err := copyDB.Get([]byte("a"))
	if err != nil || string(v) != "1" {
		t.Fatalf("backup get: %q %v", v, err)
	}
}

func TestVerifyAndRepairADamagedStore(t *testing.T) {
	db, dir := openT(t, nil)
	for _, k := range []string{"one", "two", "three"} {
		must(t, db.Put([]byte(k), []byte(k)))
	}
	r, err := db.Verify()
	must(t, err)
	if r.ProblemsTotal != 0 || r.Records != 3 {
		t.Fatalf("intact store: %+v", r)
	}
	must(t, db.Close())
	file := activeFile(t, dir)
	bytes, err := os.ReadFile(file)
	must(t, err)
	bytes[52+29+3] ^= 0xff // the value of the first record
	must(t, os.WriteFile(file, bytes, 0o600))
	r, err = VerifyPath(dir)
	must(t, err)
	if r.ProblemsTotal != 1 || r.Problems[0].File != filepath.Base(file) || r.Problems[0].Offset != 52 ||
		!strings.Contains(r.Problems[0].Reason, "checksum") {
		t.Fatalf("damaged store: %+v", r)
	}
	rr, err := Repair(dir)
	must(t, err)
	if rr.RecordsKept != 2 || rr.RecordsLost != 1 || rr.FilesQuarantined != 1 {
		t.Fatalf("repair: %+v", rr)
	}
	again, err := Open(dir, nil)
	must(t, err)
	defer again.Close()
	if v, err := again.Get([]byte("three")); err != nil || string(v) != "three" {
		t.Fatalf("after repair: %q %v", v, err)
	}
	if _, err := Repair(dir); !errors.Is(err, ErrWriterLock) {
		t.Fatalf("repair of an open store: %v", err)
	}
}
