//! Hint files for every sealed data file: the seal writes a sorted (version 2) one, an open
//! stands it in for the scan, a writer's open writes the missing ones (stores of earlier
//! versions, version 1 hints, damaged ones) in the background, and a damaged hint of any kind
//! only makes the open scan the data file, losing nothing.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bitask::hint::{HintEntry, SortedHint};
use bitask::{Bitask, Error, Options, SyncMode};
use common::{key, read_all, value, Content};

fn opts(sync: SyncMode) -> Options {
    Options::default().max_file_size(4096).sync(sync)
}

/// A store of several sealed files, with overwrites and removes in each; its content.
fn fill(dir: &Path, sync: SyncMode) -> Content {
    let db = Bitask::open_with(dir, opts(sync)).unwrap();
    let mut model = Content::new();
    for i in 0..600u64 {
        let k = key(i % 40);
        if i % 11 == 5 && model.contains_key(&k) {
            db.remove(&k).unwrap();
            model.remove(&k);
        } else {
            let v = value(&k, i, 20);
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
    }
    db.close().unwrap();
    model
}

fn sealed_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.ends_with(".log") && !n.ends_with(".active.log")
        })
        .collect();
    v.sort();
    v
}

fn id_of(p: &Path) -> u64 {
    let n = p.file_name().unwrap().to_string_lossy().into_owned();
    n.split('.').next().unwrap().parse().unwrap()
}

/// One record of a data file, read independently of the library: (seq, offset, value length,
/// tombstone, key).
type Rec = (u64, u64, u32, bool, Vec<u8>);

fn records(data: &[u8]) -> Vec<Rec> {
    let (u32_at, u64_at) = (
        |i: usize| u32::from_le_bytes(data[i..i + 4].try_into().unwrap()),
        |i: usize| u64::from_le_bytes(data[i..i + 8].try_into().unwrap()),
    );
    let mut out = Vec::new();
    let mut at = 52;
    while at + 29 <= data.len() {
        let (flags, klen, vlen) = (data[at + 20], u32_at(at + 21), u32_at(at + 25));
        if flags & 2 == 0 {
            let k = data[at + 29..at + 29 + klen as usize].to_vec();
            out.push((u64_at(at + 4), at as u64, vlen, flags & 1 != 0, k));
        }
        at += 29 + klen as usize + vlen as usize;
    }
    out
}

/// The newest record of each key, sorted by key: what a sorted hint must hold.
fn newest_by_key(recs: &[Rec]) -> Vec<Rec> {
    let mut m: BTreeMap<Vec<u8>, Rec> = BTreeMap::new();
    for r in recs {
        m.insert(r.4.clone(), r.clone());
    }
    m.into_values().collect()
}

fn hint_path(data: &Path) -> PathBuf {
    data.with_extension("hint")
}

/// The entries of `data`'s hint if it is a valid version 2 hint.
fn sorted_entries(data: &Path) -> Option<Vec<Rec>> {
    let bytes = std::fs::read(hint_path(data)).ok()?;
    let len = std::fs::metadata(data).unwrap().len();
    let h = SortedHint::parse(&bytes, id_of(data), len)?;
    Some(
        h.iter()
            .map(|e| (e.seq, e.offset, e.value_len, e.tombstone, e.key.to_vec()))
            .collect(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn read_only(dir: &Path) -> bitask::Result<Bitask> {
    Bitask::open_with(dir, Options::default().read_only(true))
}

/// Waits (up to a minute: the machine may be busy) until every sealed file of `dir` has a
/// valid version 2 hint holding the newest record of each of its keys.
fn wait_for_valid_hints(dir: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let missing: Vec<PathBuf> = sealed_files(dir)
            .into_iter()
            .filter(|f| {
                sorted_entries(f) != Some(newest_by_key(&records(&std::fs::read(f).unwrap())))
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("no valid hint for {missing:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_sealed_file_gets_a_sorted_hint_of_its_newest_records() {
    for sync in [SyncMode::None, SyncMode::Always] {
        let tmp = tempfile::tempdir().unwrap();
        let model = fill(tmp.path(), sync);
        let sealed = sealed_files(tmp.path());
        assert!(sealed.len() >= 5, "{sealed:?}");
        for f in &sealed {
            let recs = records(&std::fs::read(f).unwrap());
            assert!(
                recs.len() > newest_by_key(&recs).len() || recs.is_empty(),
                "the workload overwrites within files"
            );
            assert_eq!(
                sorted_entries(f),
                Some(newest_by_key(&recs)),
                "{sync:?}: hint of {f:?}"
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        assert_eq!(read_all(&read_only(tmp.path()).unwrap()).unwrap(), model);
    }
}

/// A byte of a dead record's value in sealed file `f`, flipped: a scan of the file reports
/// it, an open from the hint never reads it.
fn damage_a_dead_value(f: &Path, model: &Content) {
    let mut data = std::fs::read(f).unwrap();
    let recs = records(&data);
    let live = newest_by_key(&recs);
    let dead = recs
        .iter()
        .find(|r| !r.3 && r.2 > 0 && !live.contains(r) && !model.is_empty())
        .expect("a dead put in the file");
    let at = dead.1 as usize + 29 + dead.4.len();
    data[at] ^= 0x55;
    std::fs::write(f, data).unwrap();
}

#[test]
fn an_open_after_a_fill_reads_no_record_of_a_sealed_file() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fill(tmp.path(), SyncMode::None);
    let sealed = sealed_files(tmp.path());
    for f in &sealed {
        damage_a_dead_value(f, &model);
    }
    let db = read_only(tmp.path()).expect("an open from hints reads no sealed record");
    assert_eq!(read_all(&db).unwrap(), model);
    drop(db);
    // Without the hints the same store is a scan, which finds the damage.
    for f in &sealed {
        std::fs::remove_file(hint_path(f)).unwrap();
    }
    assert!(matches!(
        read_only(tmp.path()),
        Err(Error::Corruption { .. })
    ));
}

/// A version 1 hint (what compaction wrote before version 2) of sealed file `f`.
fn v1_hint(f: &Path) -> Vec<u8> {
    let recs = records(&std::fs::read(f).unwrap());
    let mut w = bitask::hint::v1::HintWriter::new(id_of(f));
    for (seq, offset, value_len, tombstone, key) in &recs {
        w.push(&HintEntry {
            seq: *seq,
            offset: *offset,
            value_len: *value_len,
            tombstone: *tombstone,
            expiry: None,
            key,
        });
    }
    w.finish(std::fs::metadata(f).unwrap().len())
}

#[test]
fn a_writer_open_writes_missing_and_version_1_hints_in_the_background() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fill(tmp.path(), SyncMode::None);
    let sealed = sealed_files(tmp.path());
    for f in &sealed {
        std::fs::remove_file(hint_path(f)).unwrap();
    }
    // One file with a version 1 hint: used for the open as before, then replaced.
    std::fs::write(hint_path(&sealed[1]), v1_hint(&sealed[1])).unwrap();
    let db = Bitask::open_with(tmp.path(), opts(SyncMode::None)).unwrap();
    assert_eq!(read_all(&db).unwrap(), model);
    wait_for_valid_hints(tmp.path()).unwrap();
    drop(db);
    assert_eq!(read_all(&read_only(tmp.path()).unwrap()).unwrap(), model);
}

/// The bytes of a version 2 hint with these entries in this order and this header, encoded
/// here from the layout in docs/format.md, independently of the library's writer.
fn encode_v2(id: u64, data_len: u64, seqs: (u64, u64), flags: u32, entries: &[Rec]) -> Vec<u8> {
    let mut b = b"BITASKHI".to_vec();
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&flags.to_le_bytes());
    for w in [id, data_len, entries.len() as u64, seqs.0, seqs.1] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    let mut index = Vec::new();
    for (i, (seq, offset, vlen, tomb, key)) in entries.iter().enumerate() {
        if i % 16 == 0 {
            index.extend_from_slice(&((b.len() - 56) as u32).to_le_bytes());
        }
        b.extend_from_slice(&seq.to_le_bytes());
        b.extend_from_slice(&offset.to_le_bytes());
        b.extend_from_slice(&vlen.to_le_bytes());
        b.extend_from_slice(&(key.len() as u32).to_le_bytes());
        b.push(*tomb as u8);
        b.extend_from_slice(key);
    }
    let index_at = b.len() as u64;
    b.extend_from_slice(&index);
    b.extend_from_slice(&index_at.to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

#[test]
fn the_test_encoder_matches_the_writer() {
    let tmp = tempfile::tempdir().unwrap();
    fill(tmp.path(), SyncMode::None);
    for f in sealed_files(tmp.path()) {
        let recs = records(&std::fs::read(&f).unwrap());
        let seqs = (recs[0].0, recs.iter().map(|r| r.0).max().unwrap());
        let len = std::fs::metadata(&f).unwrap().len();
        let mine = encode_v2(id_of(&f), len, seqs, 0, &newest_by_key(&recs));
        assert_eq!(std::fs::read(hint_path(&f)).unwrap(), mine, "{f:?}");
    }
}

/// Every kind of damage to the hint of sealed file `f`, each a function of the pristine
/// hint's bytes, the file's records and the sequence number of the file before it.
fn damages(f: &Path, before_last_seq: u64) -> Vec<(&'static str, Vec<u8>)> {
    let pristine = std::fs::read(hint_path(f)).unwrap();
    let recs = records(&std::fs::read(f).unwrap());
    let (id, len) = (id_of(f), std::fs::metadata(f).unwrap().len());
    let newest = newest_by_key(&recs);
    let seqs = (recs[0].0, recs.iter().map(|r| r.0).max().unwrap());
    let mut unsorted = newest.clone();
    unsorted.swap(0, 1);
    let mut duplicate = newest.clone();
    duplicate.insert(
        1,
        (
            seqs.0,
            newest[0].1,
            newest[0].2,
            newest[0].3,
            newest[0].4.clone(),
        ),
    );
    let refix = |mut b: Vec<u8>| {
        let n = b.len() - 4;
        let crc = crc32fast::hash(&b[..n]);
        b[n..].copy_from_slice(&crc.to_le_bytes());
        b
    };
    let mut wrong_id = pristine.clone();
    wrong_id[16..24].copy_from_slice(&(id + 1).to_le_bytes());
    let mut wrong_len = pristine.clone();
    wrong_len[24..32].copy_from_slice(&(len + 1).to_le_bytes());
    let mut flipped = pristine.clone();
    flipped[pristine.len() / 2] ^= 0x20;
    vec![
        ("flipped", flipped),
        ("cut", pristine[..pristine.len() - 7].to_vec()),
        ("empty", Vec::new()),
        ("wrong id", wrong_id.clone()),
        ("wrong id, checksum fixed", refix(wrong_id)),
        ("wrong length", wrong_len),
        ("unsorted", encode_v2(id, len, seqs, 0, &unsorted)),
        ("duplicate key", encode_v2(id, len, seqs, 0, &duplicate)),
        (
            "sequence range reaching into the file before",
            encode_v2(id, len, (before_last_seq, seqs.1), 0, &newest),
        ),
        (
            "sequence range past the records",
            encode_v2(id, len, (seqs.0, seqs.1 + 1), 0, &newest),
        ),
        ("unknown flags", encode_v2(id, len, seqs, 4, &newest)),
    ]
}

#[test]
fn a_damaged_hint_of_any_kind_falls_back_to_the_scan_with_no_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = tmp.path().join("pristine");
    let model = fill(&pristine, SyncMode::None);
    let sealed = sealed_files(&pristine);
    let target = &sealed[2];
    let before_last_seq = records(&std::fs::read(&sealed[1]).unwrap())
        .iter()
        .map(|r| r.0)
        .max()
        .unwrap();
    let copy = tmp.path().join("copy");
    let name = hint_path(target).file_name().unwrap().to_owned();
    let mut failures = Vec::new();
    for (what, bytes) in damages(target, before_last_seq) {
        copy_dir(&pristine, &copy);
        std::fs::write(copy.join(&name), &bytes).unwrap();
        let outcome = read_only(&copy).map(|db| read_all(&db));
        match outcome {
            Ok(Ok(got)) if got == model => {}
            other => failures.push(format!("{what}: read-only open: {other:?}")),
        }
        // The writer's open replaces the hint in the background.
        let db = Bitask::open_with(&copy, opts(SyncMode::None)).unwrap();
        if let Err(e) = wait_for_valid_hints(&copy) {
            failures.push(format!("{what}: {e}"));
        }
        assert_eq!(read_all(&db).unwrap(), model, "{what}");
        drop(db);
        // The damaged hint did not stand in for the scan: with a dead record of the data
        // file damaged as well, the open (a scan) reports it; one that took the hint would
        // not have read it.
        copy_dir(&pristine, &copy);
        std::fs::write(copy.join(&name), &bytes).unwrap();
        damage_a_dead_value(&copy.join(target.file_name().unwrap()), &model);
        match read_only(&copy) {
            Err(Error::Corruption { path, .. }) if path.file_name() == target.file_name() => {}
            other => failures.push(format!("{what}: not scanned: {:?}", other.map(|_| ()))),
        }
    }
    common::assert_no_failures(&failures);
    // An intact hint describing another length proves the data file was cut: corruption.
    copy_dir(&pristine, &copy);
    let mut longer = std::fs::read(hint_path(target)).unwrap();
    let len = std::fs::metadata(target).unwrap().len();
    longer[24..32].copy_from_slice(&(len + 1).to_le_bytes());
    let n = longer.len() - 4;
    let crc = crc32fast::hash(&longer[..n]);
    longer[n..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(copy.join(&name), longer).unwrap();
    assert!(matches!(read_only(&copy), Err(Error::Corruption { .. })));
}

#[test]
fn dead_bytes_are_the_same_after_an_open_from_hints() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    fill(&dir, SyncMode::None);
    let scanned = {
        let copy = tmp.path().join("scanned");
        copy_dir(&dir, &copy);
        for f in sealed_files(&copy) {
            std::fs::remove_file(hint_path(&f)).unwrap();
        }
        read_only(&copy).unwrap().stats()
    };
    let hinted = read_only(&dir).unwrap().stats();
    assert!(hinted.dead_bytes > 0);
    assert_eq!(
        (hinted.key_count, hinted.live_bytes, hinted.dead_bytes),
        (scanned.key_count, scanned.live_bytes, scanned.dead_bytes)
    );
}

#[test]
fn a_sealed_file_of_write_batches_gets_a_hint_of_their_members() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Bitask::open_with(tmp.path(), opts(SyncMode::None)).unwrap();
    let mut model = Content::new();
    for round in 0..60u64 {
        let mut batch = bitask::WriteBatch::new();
        for i in 0..5 {
            let k = key(round * 5 + i);
            let v = value(&k, round, 20);
            batch.put(&k, &v).unwrap();
            model.insert(k, v);
        }
        db.write(&batch).unwrap();
    }
    db.close().unwrap();
    let sealed = sealed_files(tmp.path());
    assert!(sealed.len() >= 3, "{sealed:?}");
    for f in &sealed {
        let entries = sorted_entries(f).unwrap_or_else(|| panic!("no valid hint for {f:?}"));
        assert!(!entries.is_empty() && entries.iter().all(|e| !e.4.is_empty()));
    }
    assert_eq!(read_all(&read_only(tmp.path()).unwrap()).unwrap(), model);
}

/// The real file system, except that creating (`CreateNew`) or publishing (renaming) a
/// temporary hint file fails.
struct NoHints {
    fail_rename: bool,
}

fn is_temp_hint(p: &Path) -> bool {
    p.to_string_lossy().ends_with(".hint.tmp")
}

impl bitask::vfs::Vfs for NoHints {
    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        bitask::vfs::PosixVfs.create_dir_all(dir)
    }
    fn create_dir(&self, dir: &Path) -> std::io::Result<()> {
        bitask::vfs::PosixVfs.create_dir(dir)
    }
    fn remove_dir(&self, dir: &Path) -> std::io::Result<()> {
        bitask::vfs::PosixVfs.remove_dir(dir)
    }
    fn is_dir(&self, path: &Path) -> std::io::Result<bool> {
        bitask::vfs::PosixVfs.is_dir(path)
    }
    fn list_dir(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        bitask::vfs::PosixVfs.list_dir(dir)
    }
    fn list_dir_typed(
        &self,
        dir: &Path,
    ) -> std::io::Result<Vec<(String, Option<bitask::vfs::Special>)>> {
        bitask::vfs::PosixVfs.list_dir_typed(dir)
    }
    fn open(
        &self,
        path: &Path,
        mode: bitask::vfs::OpenMode,
    ) -> std::io::Result<Box<dyn bitask::vfs::VFile>> {
        if !self.fail_rename && is_temp_hint(path) && mode == bitask::vfs::OpenMode::CreateNew {
            return Err(std::io::Error::from_raw_os_error(libc_enospc()));
        }
        bitask::vfs::PosixVfs.open(path, mode)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        if self.fail_rename && is_temp_hint(from) {
            return Err(std::io::Error::from_raw_os_error(libc_enospc()));
        }
        bitask::vfs::PosixVfs.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        bitask::vfs::PosixVfs.remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        bitask::vfs::PosixVfs.sync_dir(dir)
    }
    fn lock_exclusive(&self, path: &Path) -> std::io::Result<Box<dyn bitask::vfs::FileLock>> {
        bitask::vfs::PosixVfs.lock_exclusive(path)
    }
}

fn libc_enospc() -> i32 {
    28
}

#[test]
fn a_hint_that_cannot_be_written_fails_no_write_and_leaves_its_file_unhinted() {
    for (sync, fail_rename) in [
        (SyncMode::None, false),
        (SyncMode::Always, false),
        (SyncMode::None, true),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let vfs = std::sync::Arc::new(NoHints { fail_rename });
        let db = Bitask::open_with(tmp.path(), opts(sync).vfs(vfs)).unwrap();
        let mut model = Content::new();
        for i in 0..600u64 {
            let k = key(i % 40);
            let v = value(&k, i, 20);
            db.put(&k, &v).expect("a hint's failure is no write's");
            model.insert(k, v);
        }
        db.sync().unwrap();
        db.close().expect("nor a close's");
        let names: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(sealed_files(tmp.path()).len() >= 5, "{names:?}");
        assert!(
            !names.iter().any(|n| n.contains(".hint")),
            "{sync:?} {fail_rename}: {names:?}"
        );
        assert_eq!(read_all(&read_only(tmp.path()).unwrap()).unwrap(), model);
        // The next writer's open on a working file system hints them.
        let db = Bitask::open_with(tmp.path(), opts(sync)).unwrap();
        wait_for_valid_hints(tmp.path()).unwrap();
        drop(db);
    }
}
