//! A store of more data files than the process may hold descriptors (`ulimit -n`) or memory
//! mappings (`vm.max_map_count`, 65,530 by default) opens, serves every read, takes writes
//! and compacts. The store is 100,000 sealed files of one record each, written by the test in
//! this format; a child process opens it under a soft descriptor limit of 1,024.

use std::fs;
use std::path::Path;
use std::process::Command;

use bitask::datafile::FileHeader;
use bitask::db::Bitask;
use bitask::record;
use bitask::Options;

const FILES: u64 = 100_000;
const DESCRIPTORS: u32 = 1024;

fn key(i: u64) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

fn value(i: u64) -> Vec<u8> {
    format!("value of {i}").into_bytes()
}

/// Sealed file `id` holding the record of key `i` (sequence number `i + 1`), as a writer that
/// rotated after every put would have left it.
fn write_sealed_file(dir: &Path, i: u64) {
    let id = i + 1;
    let seq = i + 1;
    let header = FileHeader {
        id,
        seq_base: seq,
        ..FileHeader::default()
    };
    let mut bytes = header.encode().to_vec();
    let (k, v) = (key(i), value(i));
    let mut rec = vec![0u8; record::record_len(k.len(), v.len()) as usize];
    record::encode_contiguous(&mut rec, seq, 0, false, &k, &v);
    bytes.extend_from_slice(&rec);
    let seal_at = bytes.len() as u64;
    bytes.extend_from_slice(&record::encode_seal(id, seal_at, seq));
    fs::write(dir.join(format!("{id}.log")), bytes).unwrap();
}

/// Runs in the child, under the descriptor limit.
fn open_read_write_compact(dir: &Path) {
    let db = Bitask::open(dir).unwrap();
    assert_eq!(db.stats().key_count, FILES);
    assert_eq!(db.stats().data_files, FILES);
    for i in 0..FILES {
        assert_eq!(db.get(key(i)).unwrap().unwrap(), value(i), "key {i}");
    }
    let reader = Bitask::open_with(dir, Options::default().read_only(true)).unwrap();
    assert_eq!(
        reader.get(key(FILES / 2)).unwrap().unwrap(),
        value(FILES / 2)
    );
    // Scans hold their files: a scan of every key at once.
    assert_eq!(reader.iter().count() as u64, FILES);
    drop(reader);
    for i in FILES..FILES + 2000 {
        db.put(key(i), value(i)).unwrap();
    }
    db.compact().unwrap();
    assert!(db.stats().data_files < 10, "{:?}", db.stats());
    for i in (0..FILES + 2000).step_by(997) {
        assert_eq!(db.get(key(i)).unwrap().unwrap(), value(i), "key {i}");
    }
    db.close().unwrap();
    let db = Bitask::open(dir).unwrap();
    assert_eq!(db.stats().key_count, FILES + 2000);
    drop(db);
    // A writer that seals more files than it may hold descriptors keeps writing.
    let db = Bitask::open_with(dir, Options::default().max_file_size(128)).unwrap();
    let sealed_before = db.stats().data_files;
    for i in 0..u64::from(DESCRIPTORS) + 500 {
        db.put(key(i), value(i + 1)).unwrap();
    }
    assert!(db.stats().data_files > sealed_before + u64::from(DESCRIPTORS));
    assert_eq!(db.get(key(3)).unwrap().unwrap(), value(4));
    db.close().unwrap();
}

#[test]
fn a_store_of_100000_files_opens_reads_and_compacts_under_a_soft_limit_of_1024_descriptors() {
    if let Ok(dir) = std::env::var("BITASK_FD_LIMIT_DIR") {
        open_read_write_compact(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for i in 0..FILES {
        write_sealed_file(dir.path(), i);
    }
    let exe = std::env::current_exe().unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -S -n {DESCRIPTORS} && exec \"$0\" --exact --nocapture --test-threads 1 \
             a_store_of_100000_files_opens_reads_and_compacts_under_a_soft_limit_of_1024_descriptors"
        ))
        .arg(exe)
        .env("BITASK_FD_LIMIT_DIR", dir.path())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the child under `ulimit -n {DESCRIPTORS}` failed"
    );
}
