//! The public Rust API: a model-based random test, large multi-file stores, limits, locking
//! across threads, statistics, concurrent use, durability modes.

use std::collections::BTreeMap;
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
