//! A store opened by a relative path stays where it was opened when the process later changes
//! its working directory: new data files are made in the store, and acknowledged writes are
//! not lost. (Its own test binary: the working directory belongs to the whole process.)

use std::fs;

use bitask::db::Bitask;
use bitask::Options;

#[test]
fn a_store_opened_by_a_relative_path_does_not_follow_chdir() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = root.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::env::set_current_dir(root.path()).unwrap();
    let db = Bitask::open_with("store", Options::default().max_file_size(256)).unwrap();
    db.put("before", "chdir").unwrap();
    std::env::set_current_dir(&elsewhere).unwrap();
    // Enough to rotate several times: each rotation creates a file by name.
    for i in 0..100u32 {
        db.put(i.to_le_bytes(), [9u8; 50]).unwrap();
    }
    db.compact().unwrap();
    db.put("after", "compaction").unwrap();
    assert!(db.path().is_absolute());
    db.close().unwrap();
    let stray: Vec<_> = fs::read_dir(&elsewhere).unwrap().collect();
    assert!(
        stray.is_empty(),
        "files made in the new working directory: {stray:?}"
    );
    let db = Bitask::open(root.path().join("store")).unwrap();
    assert_eq!(db.stats().key_count, 102);
    assert_eq!(db.get("before").unwrap().unwrap(), b"chdir");
    assert_eq!(db.get(7u32.to_le_bytes()).unwrap().unwrap(), [9u8; 50]);
}
