package bitask

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestBatchWriteIsAtomicAndOrdered(t *testing.T) {
	db, _ := openT(t, nil)
	must(t, db.Put([]byte("gone"), []byte("x")))
	var b Batch
	b.Put([]byte("a"), []byte("1"))
	b.Delete([]byte("gone"))
	b.Put([]byte("a"), []byte("2"))
	b.Put([]byte("e"), []byte{})
	b.Delete([]byte("never"))
	must(t, db.Write(&b))
	if v, err := db.Get([]byte("a")); err != nil || string(v) != "2" {
		t.Fatalf("a = %q, %v", v, err)
	}
	if _, err := db.Get([]byte("gone")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("gone: %v", err)
	}
	b.Reset()
	must(t, db.Write(&b))
	// A bad operation fails the whole batch, with nothing written.
	b.Put([]byte("z"), []byte("1"))
	b.Put(nil, []byte("1"))
	wantErr(t, db.Write(&b), ErrInvalidArgument)
	if _, err := db.Get([]byte("z")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("z was written by a failed batch: %v", err)
	}
}

func TestConditionalWrites(t *testing.T) {
	db, _ := openT(t, nil)
	ok, err := db.PutIfAbsent([]byte("k"), []byte("1"))
	if !ok || err != nil {
		t.Fatalf("first PutIfAbsent: %v %v", ok, err)
	}
	if ok, err := db.PutIfAbsent([]byte("k"), []byte("2")); ok || err != nil {
		t.Fatalf("second PutIfAbsent: %v %v", ok, err)
	}
	steps := []struct {
		expected, value []byte
		want            bool
	}{
		{[]byte("0"), []byte("3"), false},
		{nil, []byte("3"), false},
		{[]byte("1"), []byte{}, true},
		{nil, nil, false},
		{[]byte{}, nil, true},
		{nil, nil, true},
		{nil, []byte("4"), true},
	}
	for i, s := range steps {
		got, err := db.CompareAndSet([]byte("k"), s.expected, s.value)
		if err != nil || got != s.want {
			t.Fatalf("step %d: %v %v, want %v", i, got, err, s.want)
		}
	}
	if v, err := db.Get([]byte("k")); err != nil || string(v) != "4" {
		t.Fatalf("k = %q, %v", v, err)
	}
}

func TestCompareAndSetLosesNoIncrement(t *testing.T) {
	db, _ := openT(t, nil)
	key := []byte("n")
	must(t, db.Put(key, make([]byte, 8)))
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				for {
					cur, err := db.Get(key)
					if err != nil {
						t.Error(err)
						return
					}
					next := make([]byte, 8)
					binary.LittleEndian.PutUint64(next, binary.LittleEndian.Uint64(cur)+1)
					if ok, err := db.CompareAndSet(key, cur, next); err != nil {
						t.Error(err)
						return
					} else if ok {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	v, _ := db.Get(key)
	if n := binary.LittleEndian.Uint64(v); n != 800 {
		t.Fatalf("counter %d, want 800", n)
	}
}

func TestMultiGet(t *testing.T) {
	db, _ := openT(t, nil)
	var keys [][]byte
	for i := 0; i < 50; i++ {
		k := []byte(fmt.Sprintf("k%02d", i))
		keys = append(keys, k)
		if i%5 != 0 {
			// Values up to 600 bytes: more than the first guess of the buffer.
			must(t, db.Put(k, bytes.Repeat([]byte{byte(i)}, i*12)))
		}
	}
	got, err := db.MultiGet(keys)
	must(t, err)
	for i, k := range keys {
		want, err := db.Get(k)
		if errors.Is(err, ErrNotFound) {
			if got[i] != nil {
				t.Fatalf("%s: %q for an absent key", k, got[i])
			}
			continue
		}
		if !bytes.Equal(got[i], want) || got[i] == nil {
			t.Fatalf("%s: %d bytes, want %d", k, len(got[i]), len(want))
		}
	}
	_, err = db.MultiGet([][]byte{[]byte("ok"), nil})
	wantErr(t, err, ErrInvalidArgument)
	if out, err := db.MultiGet(nil); err != nil || len(out) != 0 {
		t.Fatalf("empty: %v %v", out, err)
	}
}

// The Go-side ratio of the benchmark's target: a multi-get of 32 keys against
// 32 single gets (go test -bench Get -run XXX).
func benchmarkStore(b *testing.B) (*DB, [][]byte) {
	db, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	var keys [][]byte
	for i := 0; i < 100000; i++ {
		k := []byte(fmt.Sprintf("key%012d", i))
		keys = append(keys, k)
		if err := db.Put(k, bytes.Repeat([]byte{'v'}, 100)); err != nil {
			b.Fatal(err)
		}
	}
	return db, keys
}

func BenchmarkGet32(b *testing.B) {
	db, keys := benchmarkStore(b)
	defer db.Close()
	buf := make([]byte, 256)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < 32; j++ {
			if _, err := db.GetInto(keys[(i*7919+j*104729)%len(keys)], buf); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkMultiGet32(b *testing.B) {
	db, keys := benchmarkStore(b)
	defer db.Close()
	batch := make([][]byte, 32)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range batch {
			batch[j] = keys[(i*7919+j*104729)%len(keys)]
		}
		if _, err := db.MultiGet(batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMultiGetter32(b *testing.B) {
	db, keys := benchmarkStore(b)
	defer db.Close()
	batch := make([][]byte, 32)
	var m MultiGetter
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range batch {
			batch[j] = keys[(i*7919+j*104729)%len(keys)]
		}
		if _, err := m.Get(db, batch); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMultiGetterReusesItsBuffers(t *testing.T) {
	db, _ := openT(t, nil)
	must(t, db.Put([]byte("a"), []byte("1")))
	must(t, db.Put([]byte("b"), bytes.Repeat([]byte("2"), 500)))
	var m MultiGetter
	got, err := m.Get(db, [][]byte{[]byte("a"), []byte("x"), []byte("b")})
	must(t, err)
	if string(got[0]) != "1" || got[1] != nil || len(got[2]) != 500 {
		t.Fatalf("first Get = %q", got)
	}
	// A smaller batch after a larger one: no value of the first may show.
	got, err = m.Get(db, [][]byte{[]byte("x"), []byte("a")})
	must(t, err)
	if len(got) != 2 || got[0] != nil || string(got[1]) != "1" {
		t.Fatalf("second Get = %q", got)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := m.Get(db, [][]byte{[]byte("a"), []byte("b")}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("a Get through grown buffers allocates %v times", allocs)
	}
}

func TestBatchPutExpiringAt(t *testing.T) {
	db, _ := openT(t, nil)
	var b Batch
	b.Put([]byte("plain"), []byte("1"))
	b.PutExpiringAt([]byte("past"), []byte("2"), time.UnixMilli(1))
	b.PutExpiringAt([]byte("later"), []byte("3"), time.Now().Add(time.Hour))
	b.Delete([]byte("nothing"))
	must(t, db.Write(&b))
	if has, _ := db.Has([]byte("past")); has {
		t.Fatal("a batch member that expired is present")
	}
	if _, expires, err := db.TTL([]byte("later")); err != nil || !expires {
		t.Fatalf("TTL(later) = %v, %v", expires, err)
	}
	if _, expires, err := db.TTL([]byte("plain")); err != nil || expires {
		t.Fatalf("TTL(plain) = %v, %v; want no expiry", expires, err)
	}
	b.Reset()
	b.Put([]byte("past"), []byte("again"))
	must(t, db.Write(&b))
	if _, expires, err := db.TTL([]byte("past")); err != nil || expires {
		t.Fatalf("after Reset, TTL(past) = %v, %v; want no expiry", expires, err)
	}
}
