package bitask_test

import (
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"

	"bitask.dev/bitask"
)

func Example() {
	dir, err := os.MkdirTemp("", "bitask-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := bitask.Open(filepath.Join(dir, "store"), &bitask.Options{Sync: bitask.SyncAlways})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if err := db.Put([]byte("user:1"), []byte("ada")); err != nil {
		log.Fatal(err)
	}
	if err := db.Put([]byte("user:2"), []byte("grace")); err != nil {
		log.Fatal(err)
	}

	v, err := db.Get([]byte("user:1"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("user:1 = %s\n", v)

	if _, err := db.Get([]byte("user:3")); errors.Is(err, bitask.ErrNotFound) {
		fmt.Println("user:3 is absent")
	}

	// A second writer on the same directory is refused.
	if _, err := bitask.Open(filepath.Join(dir, "store"), nil); errors.Is(err, bitask.ErrWriterLock) {
		fmt.Println("second writer refused")
	}

	err = db.Scan([]byte("user:"), func(key, value []byte) error {
		fmt.Printf("%s -> %s\n", key, value)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// user:1 = ada
	// user:3 is absent
	// second writer refused
	// user:1 -> ada
	// user:2 -> grace
}

// Opening only a store that exists, or only a new one. The errors match the
// io/fs ones for the same conditions.
func ExampleOpen_newStore() {
	dir, err := os.MkdirTemp("", "bitask-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "store")

	if _, err := bitask.Open(path, &bitask.Options{NoCreate: true}); errors.Is(err, fs.ErrNotExist) {
		fmt.Println("no store yet")
	}

	db, err := bitask.Open(path, &bitask.Options{ErrorIfExists: true})
	if err != nil {
		log.Fatal(err)
	}
	db.Close()

	if _, err := bitask.Open(path, &bitask.Options{ErrorIfExists: true}); errors.Is(err, fs.ErrExist) {
		fmt.Println("the store already exists")
	}
	// Output:
	// no store yet
	// the store already exists
}

func ExampleDB_Iter() {
	dir, err := os.MkdirTemp("", "bitask-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := bitask.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	for _, k := range []string{"b", "a", "c", "ab"} {
		if err := db.Put([]byte(k), []byte(k+k)); err != nil {
			log.Fatal(err)
		}
	}
	it, err := db.Iter([]byte("a"))
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	for it.Next() {
		fmt.Printf("%s=%s\n", it.Key(), it.Value())
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// a=aa
	// ab=abab
}
