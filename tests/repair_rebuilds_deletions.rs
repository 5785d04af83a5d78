//! A deletion whose record is damaged must not let the deleted key come back after a repair
//! when an intact hint file still describes it: a deletion is all key and sequence number,
//! both in the hint entry, so repair writes the record again instead of losing it.

use std::path::{Path, PathBuf};

use bitask::datafile::{DataFile, Found};
use bitask::hint::{HintEntry, HintWriter};
use bitask::vfs::{OpenMode, PosixVfs};
use bitask::{Bitask, Options, SyncMode};

/// (path, id) of each sealed data file.
fn sealed(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out: Vec<(PathBuf, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let id = name.strip_suffix(".log")?.parse().ok()?;
            Some((p, id))
        })
        .collect();
    out.sort();
    out
}

/// Writes the hint file of sealed file `path` (every record but the seal); returns the
/// offset of its deletion of `key`, if it holds one.
fn write_hint(path: &Path, id: u64, key: &[u8]) -> Option<u64> {
    let f = DataFile::open(&PosixVfs, path, OpenMode::ReadSealed, id).unwrap();
    let mut w = HintWriter::new(id);
    let mut deletion = None;
    let mut scan = f.scan().unwrap();
    while let Found::Record(r) = scan.next_record().unwrap() {
        if r.header.is_seal() {
            continue;
        }
        if r.header.is_tombstone() && r.key == key {
            deletion = Some(r.offset);
        }
        w.push(&HintEntry {
            seq: r.header.seq,
            offset: r.offset,
            value_len: r.header.value_len,
            tombstone: r.header.is_tombstone(),
            expiry: None,
            key: r.key,
        });
    }
    let len = f.len().unwrap();
    std::fs::write(path.with_extension("hint"), w.finish(len)).unwrap();
    deletion
}

#[test]
fn a_damaged_deletion_described_by_a_hint_is_written_again() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let opts = Options::default().max_file_size(300).sync(SyncMode::Always);
    let db = Bitask::open_with(&dir, opts.clone()).unwrap();
    db.put("gone", "its old value").unwrap();
    for i in 0..8 {
        db.put(format!("filler{i}"), "some value").unwrap();
    }
    db.remove("gone").unwrap();
    for i in 8..16 {
        db.put(format!("filler{i}"), "some value").unwrap();
    }
    db.close().unwrap();
    let files = sealed(&dir);
    let (path, deletion) = files
        .iter()
        .find_map(|(p, id)| write_hint(p, *id, b"gone").map(|at| (p.clone(), at)))
        .expect("the deletion is in a sealed file");
    assert!(
        files.iter().position(|(p, _)| *p == path).unwrap() > 0,
        "an older file holds the value"
    );
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[deletion as usize + 29] ^= 0xff; // the key's first byte
    std::fs::write(&path, &bytes).unwrap();
    assert!(
        Bitask::open_with(&dir, opts.clone()).is_err(),
        "the damage stops the open"
    );

    let report = bitask::repair(&dir).unwrap();
    assert_eq!(report.tombstones_rebuilt, 1, "{report:?}");
    assert_eq!(
        (report.records_lost, report.keys_rolled_back),
        (0, 0),
        "{report:?}"
    );
    assert!(report.remaining.is_empty(), "{report:?}");
    let db = Bitask::open_with(&dir, opts).unwrap();
    assert_eq!(db.get("gone").unwrap(), None, "the deleted key came back");
    for i in 0..16 {
        assert!(db.get(format!("filler{i}")).unwrap().is_some(), "filler{i}");
    }
}
