//! What an open makes of the files on disk: torn tails, bad records before good ones, seals
//! written but not renamed, sealed files cut short, hints out of order, files it does not
//! own and formats it does not know.

use std::path::{Path, PathBuf};

use bitask::db::{Bitask, Error};
use bitask::Options;

mod common;

fn active_file(dir: &Path) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".active.log"))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.pop().unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn a_torn_last_record_is_cut_at_every_offset() {
    let base = tempfile::tempdir().unwrap();
    let src = base.path().join("src");
    let last_value = vec![0xAB; 40];
    {
        let db = Bitask::open(&src).unwrap();
        for i in 0..20 {
            db.put(format!("k{i}"), format!("v{i}")).unwrap();
        }
        db.put("last", &last_value).unwrap();
    }
    let active = active_file(&src);
    let end = std::fs::metadata(&active).unwrap().len();
    let start = end - (29 + 4 + last_value.len() as u64);
    for cut in start..end {
        let dir = base.path().join(format!("cut{cut}"));
        copy_dir(&src, &dir);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(active_file(&dir))
            .unwrap();
        f.set_len(cut).unwrap();
        drop(f);
        let db = Bitask::open(&dir).unwrap();
        for i in 0..20 {
            assert_eq!(
                db.ask(format!("k{i}")).unwrap(),
                format!("v{i}").into_bytes(),
                "cut {cut}"
            );
        }
        assert_eq!(
            db.get("last").unwrap(),
            None,
            "cut {cut}: torn record returned"
        );
        // Torn bytes count up to the last non-zero byte of the partial record.
        let torn = db.stats().torn_bytes;
        assert!(torn <= cut - start, "cut {cut}: {torn} torn bytes counted");
        if cut - start >= 4 {
            assert!(torn > 0, "cut {cut}: the partial record was not counted");
        }
        db.put("after", "ok").unwrap();
        drop(db);
        let db = Bitask::open(&dir).unwrap();
        assert_eq!(db.ask("after").unwrap(), b"ok", "cut {cut}");
        assert_eq!(
            db.stats().torn_bytes,
            0,
            "cut {cut}: second open finds nothing torn"
        );
        drop(db);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// A fresh store at `dir` holding k0..k9 = "value 0".."value 9", closed.
fn put_ten_keys(dir: &Path) {
    let db = Bitask::open(dir).unwrap();
    for i in 0..10 {
        db.put(format!("k{i}"), format!("value {i}")).unwrap();
    }
}

fn assert_ten_keys(db: &Bitask) {
    for i in 0..10 {
        assert_eq!(
            db.ask(format!("k{i}")).unwrap(),
            format!("value {i}").as_bytes()
        );
    }
}

#[test]
fn a_bad_record_before_good_ones_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    put_ten_keys(dir.path());
    let active = active_file(dir.path());
    let mut bytes = std::fs::read(&active).unwrap();
    let at = 52 + 29 + 1; // inside the first record's key
    bytes[at] ^= 0xFF;
    std::fs::write(&active, &bytes).unwrap();
    match Bitask::open(dir.path()) {
        Err(Error::Corruption { path, offset, .. }) => {
            assert_eq!(path, active);
            assert_eq!(offset, 52);
        }
        other => panic!("expected corruption, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_next_file_left_without_its_header_is_removed_at_open() {
    // The next active file is made in the background, ahead of need. A crash (of the
    // machine) right after can leave its reserved length on disk but not its header: a file
    // of zeros newer than the one in use. It holds no record, so opening removes it and
    // carries on.
    let dir = tempfile::tempdir().unwrap();
    put_ten_keys(dir.path());
    let active = active_file(dir.path());
    let id = file_id(&active);
    let blank = dir.path().join(format!("{}.active.log", id + 1));
    std::fs::write(&blank, vec![0u8; 1 << 20]).unwrap();
    let db = Bitask::open(dir.path()).unwrap();
    assert!(!blank.exists(), "the blank file is removed");
    assert_ten_keys(&db);
    db.put("after", "reopen").unwrap();
    drop(db);
    let db = Bitask::open(dir.path()).unwrap();
    assert_eq!(db.ask("after").unwrap(), b"reopen");
    assert_eq!(db.stats().key_count, 11);
}

#[test]
fn unknown_files_are_left_alone_and_future_formats_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    {
        let db = Bitask::open(dir.path()).unwrap();
        db.put("k", "v").unwrap();
        db.compact().unwrap();
    }
    assert_eq!(
        std::fs::read(dir.path().join("notes.txt")).unwrap(),
        b"mine"
    );
    // A data file from a newer format version.
    let sealed = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.to_string_lossy().ends_with(".log") && !p.to_string_lossy().ends_with("active.log")
        })
        .unwrap();
    let mut bytes = std::fs::read(&sealed).unwrap();
    bytes[8..12].copy_from_slice(&9u32.to_le_bytes());
    let crc = crc32fast::hash(&bytes[0..48]);
    bytes[48..52].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&sealed, &bytes).unwrap();
    match Bitask::open(dir.path()) {
        Err(Error::Incompatible { path, reason }) => {
            assert_eq!(path, sealed);
            assert!(reason.contains("version 9"), "{reason}");
        }
        other => panic!("expected Incompatible, got {:?}", other.map(|_| ())),
    }
}

/// The seal bytes the format defines for file `id` at `offset` (docs/format.md).
fn seal_record(id: u64, offset: u64, last_seq: u64) -> Vec<u8> {
    let mut rec = vec![0u8; 45];
    rec[4..12].copy_from_slice(&last_seq.to_le_bytes());
    rec[20] = 2;
    rec[25..29].copy_from_slice(&16u32.to_le_bytes());
    rec[29..37].copy_from_slice(&id.to_le_bytes());
    rec[37..45].copy_from_slice(&offset.to_le_bytes());
    let crc = crc32fast::hash(&rec[4..]);
    rec[0..4].copy_from_slice(&crc.to_le_bytes());
    rec
}

fn file_id(path: &Path) -> u64 {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    name.split('.').next().unwrap().parse().unwrap()
}

#[test]
fn a_seal_written_but_not_renamed_is_finished_on_open() {
    let dir = tempfile::tempdir().unwrap();
    put_ten_keys(dir.path());
    // A crash after the seal was written and synced, before the rename reached the disk.
    let active = active_file(dir.path());
    let mut bytes = std::fs::read(&active).unwrap();
    let end = bytes.len() as u64;
    bytes.extend(seal_record(file_id(&active), end, 10));
    std::fs::write(&active, &bytes).unwrap();

    let db = Bitask::open(dir.path()).unwrap();
    let sealed = active.with_file_name(format!("{}.log", file_id(&active)));
    assert!(sealed.exists(), "the sealed file was not published");
    assert_eq!(std::fs::read(&sealed).unwrap(), bytes);
    assert_ten_keys(&db);
    assert_eq!(db.stats().torn_bytes, 0);
    // Writes go to a new file after the sealed one: the seal is never followed by records.
    db.put("after", "ok").unwrap();
    drop(db);
    assert_eq!(std::fs::read(&sealed).unwrap(), bytes);
    let db = Bitask::open(dir.path()).unwrap();
    assert_eq!(db.ask("after").unwrap(), b"ok");
    assert_eq!(db.ask("k3").unwrap(), b"value 3");
}

#[test]
fn a_sealed_file_cut_between_records_is_corruption() {
    let base = tempfile::tempdir().unwrap();
    let src = base.path().join("src");
    let rec = 29 + 3 + 100;
    {
        let opts = Options::default().max_file_size(52 + 4 * rec + 45);
        let db = Bitask::open_with(&src, opts).unwrap();
        for i in 0..10 {
            db.put(format!("k{i:02}"), [i as u8; 100]).unwrap();
        }
    }
    let mut sealed: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".log") && !name.ends_with(".active.log")
        })
        .collect();
    sealed.sort();
    assert_eq!(sealed.len(), 2, "{sealed:?}");
    let first = &sealed[0];
    let len = std::fs::metadata(first).unwrap().len();
    assert_eq!(len, 52 + 4 * rec + 45, "four records and the seal");
    // Cut off the seal, then the seal and the last record: both are exact record boundaries.
    for cut in [len - 45, len - 45 - rec] {
        let copy = base.path().join("copy");
        copy_dir(&src, &copy);
        let target = copy.join(first.file_name().unwrap());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&target)
            .unwrap()
            .set_len(cut)
            .unwrap();
        match Bitask::open(&copy) {
            Err(Error::Corruption { path, offset, .. }) => {
                assert_eq!((path, offset), (target.clone(), cut), "cut {cut}");
            }
            other => panic!(
                "cut {cut}: expected corruption, got {:?}",
                other.map(|_| ())
            ),
        }
        std::fs::remove_dir_all(&copy).unwrap();
    }
}

/// The entries of hint file `path` (for data file `id` of `data_len` bytes), owned, in file
/// order.
fn hint_entries(path: &Path, id: u64, data_len: u64) -> Vec<(u64, u64, u32, bool, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let hint = bitask::hint::SortedHint::parse(&bytes, id, data_len).expect("a valid hint");
    let mut entries: Vec<_> = hint
        .iter()
        .map(|e| (e.seq, e.offset, e.value_len, e.tombstone, e.key.to_vec()))
        .collect();
    entries.sort_by_key(|e| e.1);
    entries
}

/// A version 1 hint file (file order) whose sequence numbers do not grow, within the file or
/// from the file loaded before it, makes its data file corrupt, reported at the first record
/// out of order (as a scan in load order would find it), however the hint files are checked.
#[test]
fn hint_records_out_of_order_are_corruption_at_the_first_one() {
    let base = tempfile::tempdir().unwrap();
    let src = base.path().join("src");
    {
        // About seven records per file.
        let db = Bitask::open_with(&src, Options::default().max_file_size(1024)).unwrap();
        for i in 0..40 {
            db.put(format!("k{i:02}"), [i as u8; 100]).unwrap();
        }
        db.compact().unwrap();
    }
    let mut hints: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hint"))
        .collect();
    hints.sort();
    assert!(hints.len() >= 2, "merge outputs with hints: {hints:?}");
    let hint = &hints[1];
    let id: u64 = file_id(hint);
    let data = hint.with_extension("log");
    let data_len = std::fs::metadata(&data).unwrap().len();
    let entries = hint_entries(hint, id, data_len);
    assert!(entries.len() >= 3, "{entries:?}");
    // Disorder inside the file (entries 1 and 2 swap sequence numbers), alone and together
    // with a first record no newer than the file before.
    let mut inside = entries.clone();
    (inside[1].0, inside[2].0) = (entries[2].0, entries[1].0);
    let mut both = inside.clone();
    both[0].0 = 1;
    for (name, changed, at) in [
        ("inside", &inside, entries[2].1),
        ("both", &both, entries[0].1),
    ] {
        let copy = base.path().join(name);
        copy_dir(&src, &copy);
        let mut w = bitask::hint::v1::HintWriter::new(id);
        for (seq, offset, value_len, tombstone, key) in changed {
            w.push(&bitask::hint::HintEntry {
                seq: *seq,
                offset: *offset,
                value_len: *value_len,
                tombstone: *tombstone,
                expiry: None,
                key,
            });
        }
        std::fs::write(copy.join(hint.file_name().unwrap()), w.finish(data_len)).unwrap();
        match Bitask::open(&copy) {
            Err(Error::Corruption {
                path,
                offset,
                reason,
            }) => {
                assert_eq!(path, copy.join(data.file_name().unwrap()), "{name}");
                assert_eq!(offset, at, "{name}: {reason}");
                assert!(reason.contains("out of order"), "{name}: {reason}");
            }
            other => panic!("{name}: expected corruption, got {:?}", other.map(|_| ())),
        }
    }
}
