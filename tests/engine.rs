//! Engine behaviour through the public Rust API: a model-based random test, large multi-file
//! stores, torn tails, limits, locking across threads and processes, concurrent use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bitask::db::{Bitask, Error};
use bitask::{Options, SyncMode, MAX_KEY_LEN, MAX_VALUE_LEN};
use common::Rng;

mod common;

fn small_files() -> Options {
    Options::default().max_file_size(256)
}

fn check_against_model(db: &Bitask, model: &BTreeMap<Vec<u8>, Vec<u8>>, ctx: &str) {
    for (k, v) in model {
        assert_eq!(db.get(k).unwrap().as_ref(), Some(v), "{ctx}: key {k:?}");
    }
    let listed: Vec<(Vec<u8>, Vec<u8>)> = db.iter().map(|r| r.unwrap()).collect();
    let expected: Vec<(Vec<u8>, Vec<u8>)> =
        model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(listed, expected, "{ctx}: iteration differs from the model");
    assert_eq!(db.stats().key_count, model.len() as u64, "{ctx}");
}

#[test]
fn random_operations_match_a_btreemap() {
    for seed in 1..=6u64 {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Rng::new(seed);
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut db = Bitask::open_with(dir.path(), small_files()).unwrap();
        for step in 0..2500 {
            let ctx = format!("seed {seed} step {step}");
            let key = format!("key{:02}", rng.below(50)).into_bytes();
            match rng.below(100) {
                0..=49 => {
                    let len = match rng.below(10) {
                        0 => 0,
                        1 => 300 + rng.below(300) as usize, // larger than a file
                        _ => rng.below(40) as usize,
                    };
                    let value = rng.bytes(len);
                    db.put(&key, &value).unwrap();
                    model.insert(key, value);
                }
                50..=69 => {
                    let r = db.remove(&key);
                    match model.remove(&key) {
                        Some(_) => r.unwrap(),
                        None => assert!(matches!(r, Err(Error::KeyNotFound)), "{ctx}: {r:?}"),
                    }
                }
                70..=84 => assert_eq!(db.get(&key).unwrap(), model.get(&key).cloned(), "{ctx}"),
                85..=89 => assert_eq!(
                    db.contains(&key).unwrap(),
                    model.contains_key(&key),
                    "{ctx}"
                ),
                90..=93 => db.compact().unwrap(),
                94..=97 => {
                    drop(db);
                    db = Bitask::open_with(dir.path(), small_files()).unwrap();
                    assert_eq!(db.stats().torn_bytes, 0, "{ctx}");
                }
                _ => check_against_model(&db, &model, &ctx),
            }
        }
        check_against_model(&db, &model, &format!("seed {seed} end"));
        db.compact().unwrap();
        let s = db.stats();
        assert_eq!(
            s.dead_bytes, 0,
            "seed {seed}: compaction leaves only live records: {s:?}"
        );
        drop(db);
        let db = Bitask::open_with(dir.path(), small_files()).unwrap();
        check_against_model(&db, &model, &format!("seed {seed} after final reopen"));
    }
}

#[test]
fn twenty_megabytes_across_many_rotations_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || Options::default().max_file_size(1 << 20);
    let mut rng = Rng::new(99);
    let mut model = BTreeMap::new();
    let mut written = 0usize;
    {
        let db = Bitask::open_with(dir.path(), opts()).unwrap();
        let mut i = 0u32;
        while written < 21 * 1024 * 1024 {
            let len = rng.below(64 * 1024) as usize;
            let value = rng.bytes(len);
            written += value.len();
            let key = format!("key-{:06}", i % 5000).into_bytes();
            db.put(&key, &value).unwrap();
            model.insert(key, value);
            i += 1;
        }
        assert!(db.stats().data_files > 15, "{:?}", db.stats());
    }
    let db = Bitask::open_with(dir.path(), opts()).unwrap();
    for (k, v) in &model {
        assert_eq!(&db.ask(k).unwrap(), v);
    }
    assert_eq!(db.stats().key_count, model.len() as u64);
}

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
fn limits_are_enforced_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitask::open(dir.path()).unwrap();
    let before = db.stats();
    assert!(matches!(db.put(b"", b"v"), Err(Error::InvalidEmptyKey)));
    let long_key = vec![b'k'; MAX_KEY_LEN + 1];
    assert!(matches!(
        db.put(&long_key, b"v"),
        Err(Error::TooLarge { what: "key", .. })
    ));
    let huge = vec![0u8; MAX_VALUE_LEN + 1];
    assert!(matches!(
        db.put(b"k", &huge),
        Err(Error::TooLarge { what: "value", .. })
    ));
    assert!(matches!(db.remove(b"absent"), Err(Error::KeyNotFound)));
    assert_eq!(db.stats(), before, "rejected calls changed the store");
    // The limits themselves are accepted; an empty value is a value, not a deletion.
    let max_key = vec![b'k'; MAX_KEY_LEN];
    db.put(&max_key, b"").unwrap();
    assert_eq!(db.get(&max_key).unwrap(), Some(Vec::new()));
    assert!(db.contains(&max_key).unwrap());
    drop(huge);
    let max_value = vec![7u8; MAX_VALUE_LEN];
    db.put(b"big", &max_value).unwrap();
    drop(db);
    let db = Bitask::open(dir.path()).unwrap();
    assert_eq!(db.get(&max_key).unwrap(), Some(Vec::new()));
    assert!(db.ask(b"big").unwrap() == max_value);
    assert!(matches!(
        Bitask::open_with(dir.path().join("x"), Options::default().max_file_size(1)),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn get_into_reports_the_needed_length() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitask::open(dir.path()).unwrap();
    db.put("k", "hello world").unwrap();
    let mut small = [0u8; 4];
    assert_eq!(db.get_into("k", &mut small).unwrap(), Some(11));
    assert_eq!(small, [0; 4], "nothing copied when too small");
    let mut big = [0u8; 32];
    assert_eq!(db.get_into("k", &mut big).unwrap(), Some(11));
    assert_eq!(&big[..11], b"hello world");
    assert_eq!(db.get_into("absent", &mut big).unwrap(), None);
}

#[test]
fn a_second_writer_in_this_process_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitask::open(dir.path()).unwrap();
    assert!(matches!(Bitask::open(dir.path()), Err(Error::WriterLock)));
    let reader = Bitask::open_with(dir.path(), Options::default().read_only(true)).unwrap();
    assert!(matches!(reader.put("k", "v"), Err(Error::ReadOnly)));
    assert!(matches!(reader.remove("k"), Err(Error::ReadOnly)));
    assert!(matches!(reader.compact(), Err(Error::ReadOnly)));
    drop(db);
    let again = Bitask::open(dir.path()).unwrap();
    drop(again);
    assert!(
        dir.path().join("db.lock").exists(),
        "the lock file is never deleted"
    );
}

#[test]
fn stats_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitask::open_with(dir.path(), Options::default().max_file_size(4096)).unwrap();
    for i in 0..200 {
        db.put(format!("key{i:03}"), vec![1u8; 100]).unwrap();
    }
    let rec = 29 + 6 + 100;
    let s = db.stats();
    assert_eq!(s.key_count, 200);
    assert_eq!(s.live_bytes, 200 * rec);
    assert_eq!(s.dead_bytes, 0);
    for i in 0..100 {
        db.put(format!("key{i:03}"), vec![2u8; 100]).unwrap();
    }
    let s = db.stats();
    assert_eq!(s.live_bytes, 200 * rec);
    assert_eq!(s.dead_bytes, 100 * rec);
    assert!(s.data_files > 1);
    db.compact().unwrap();
    let s = db.stats();
    assert_eq!(s.dead_bytes, 0);
    assert!(s.disk_bytes < s.live_bytes * 2, "{s:?}");
}

#[test]
fn threads_read_write_and_compact_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(
        Bitask::open_with(dir.path(), Options::default().max_file_size(16 * 1024)).unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                for round in 0..300u64 {
                    for i in 0..50u64 {
                        let key = format!("w{w}-k{i}");
                        if round % 10 == 9 && i % 5 == 0 {
                            db.remove(&key).unwrap();
                        } else {
                            db.put(&key, format!("{key}={round}")).unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let db = db.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut seen = std::collections::HashMap::<String, u64>::new();
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for w in 0..2 {
                        for i in 0..50 {
                            let key = format!("w{w}-k{i}");
                            if let Some(v) = db.get(&key).unwrap() {
                                let s = String::from_utf8(v).unwrap();
                                let (k, round) = s.split_once('=').unwrap();
                                assert_eq!(k, key);
                                let round: u64 = round.parse().unwrap();
                                let last = seen.entry(key).or_insert(0);
                                assert!(round >= *last, "a value went back in time");
                                *last = round;
                                reads += 1;
                            }
                        }
                    }
                }
                reads
            })
        })
        .collect();
    let compactor = {
        let db = db.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                db.compact().unwrap();
                n += 1;
            }
            n
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert!(compactor.join().unwrap() > 0);
    let check_final = |db: &Bitask| {
        for w in 0..2 {
            for i in 0..50 {
                let got = db.get(format!("w{w}-k{i}")).unwrap();
                // The last round (299) removes every fifth key.
                let expected = (i % 5 != 0).then(|| format!("w{w}-k{i}=299").into_bytes());
                assert_eq!(got, expected, "w{w}-k{i}");
            }
        }
        assert_eq!(db.stats().key_count, 80);
    };
    check_final(&db);
    let db = Arc::try_unwrap(db).ok().unwrap();
    drop(db);
    check_final(&Bitask::open(dir.path()).unwrap());
}

#[test]
fn durable_writers_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let db =
        Arc::new(Bitask::open_with(dir.path(), Options::default().sync(SyncMode::Always)).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    db.put(format!("t{t}-{i}"), "v").unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(db.stats().key_count, 400);
    db.sync().unwrap();
}

#[test]
fn interval_sync_runs_and_stops_with_the_handle() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitask::open_with(
        dir.path(),
        Options::default().sync(SyncMode::Interval(Duration::from_millis(5))),
    )
    .unwrap();
    db.put("k", "v").unwrap();
    std::thread::sleep(Duration::from_millis(30));
    db.close().unwrap();
    let db = Bitask::open(dir.path()).unwrap();
    assert_eq!(db.ask("k").unwrap(), b"v");
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

/// The entries of hint file `path` (for data file `id` of `data_len` bytes), owned.
fn hint_entries(path: &Path, id: u64, data_len: u64) -> Vec<(u64, u64, u32, bool, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let (_, entries) = bitask::hint::parse(&bytes, id, data_len).expect("a valid hint");
    entries
        .map(|e| (e.seq, e.offset, e.value_len, e.tombstone, e.key.to_vec()))
        .collect()
}

/// A hint file whose sequence numbers do not grow, within the file or from the file loaded
/// before it, makes its data file corrupt, reported at the first record out of order (as a
/// scan in load order would find it), however the hint files are checked.
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
        let mut w = bitask::hint::HintWriter::new(id);
        for (seq, offset, value_len, tombstone, key) in changed {
            w.push(&bitask::hint::HintEntry {
                seq: *seq,
                offset: *offset,
                value_len: *value_len,
                tombstone: *tombstone,
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
