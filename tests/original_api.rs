//! The usage of the original `bitask` 0.1.1 crate, unchanged, keeps compiling and working.
// The original API took owned vectors and a `mut` handle; both still work.
#![allow(clippy::unnecessary_to_owned, unused_mut)]

use bitask::db::{Bitask, Error};
use bitask::{Options, SyncMode};

fn original_readme_example(path: &std::path::Path) -> Result<(), bitask::db::Error> {
    // Open database with exclusive write access
    let mut db = Bitask::open(path)?;

    // Store a value
    db.put(b"key".to_vec(), b"value".to_vec())?;

    // Retrieve a value
    let value = db.ask(b"key")?;
    assert_eq!(value, b"value");

    // Remove a value
    db.remove(b"key".to_vec())?;

    // Manual compaction
    db.compact()?;

    // Process safety demonstration
    let another_db = Bitask::open(path);
    assert!(matches!(
        another_db.err().unwrap(),
        bitask::db::Error::WriterLock
    ));
    Ok(())
}

#[test]
fn original_usage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    original_readme_example(&path).unwrap();
    let db = Bitask::open(&path).unwrap();
    assert!(matches!(db.ask(b"key"), Err(Error::KeyNotFound)));
}

#[test]
fn reopen_after_many_rotations() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Bitask::open_with(dir.path(), Options::default().max_file_size(4096)).unwrap();
        for i in 0..5000u32 {
            db.put(format!("k{i}"), format!("value-{i}").repeat(3))
                .unwrap();
        }
        for i in (0..5000u32).step_by(3) {
            db.remove(format!("k{i}")).unwrap();
        }
    }
    let db = Bitask::open_with(
        dir.path(),
        Options::default()
            .max_file_size(4096)
            .sync(SyncMode::Always),
    )
    .unwrap();
    for i in 0..5000u32 {
        let got = db.get(format!("k{i}")).unwrap();
        if i % 3 == 0 {
            assert_eq!(got, None, "k{i}");
        } else {
            assert_eq!(got.unwrap(), format!("value-{i}").repeat(3).into_bytes());
        }
    }
    db.compact().unwrap();
    let s = db.stats();
    assert_eq!(s.key_count, 5000 - 1667);
    assert_eq!(s.dead_bytes, 0, "{s:?}");
    drop(db);
    let db = Bitask::open(dir.path()).unwrap();
    assert_eq!(db.stats().key_count, 5000 - 1667);
    assert_eq!(db.ask("k1").unwrap(), b"value-1value-1value-1");
    let keys: Vec<Vec<u8>> = db.iter_prefix("k10").map(|r| r.unwrap().0).collect();
    let mut expected: Vec<Vec<u8>> = (0..5000u32)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("k{i}").into_bytes())
        .filter(|k| k.starts_with(b"k10"))
        .collect();
    expected.sort();
    assert_eq!(keys, expected);
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
}
