//! Atomic write batches, conditional writes and multi-get: every operation of a batch or
//! none (after a cut at every byte of a batch, after a failed write at every step, after
//! compaction), readers never seeing half a batch, compare-and-set and put-if-absent against
//! racing writers, and multi-get agreeing with single gets.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bitask::vfs::fault::{Fault, FaultVfs, Plan};
use bitask::vfs::sim::SimVfs;
use bitask::vfs::Vfs;
use bitask::{Bitask, Options, SyncMode, WriteBatch};

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

fn batch_of(ops: &[(&str, Option<&str>)]) -> WriteBatch {
    let mut b = WriteBatch::new();
    for (k, v) in ops {
        match v {
            Some(v) => b.put(k, v).unwrap(),
            None => b.remove(k).unwrap(),
        }
    }
    b
}

#[test]
fn a_batch_applies_in_order_and_survives_a_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Bitask::open(tmp.path()).unwrap();
    db.put("gone", "x").unwrap();
    db.put("kept", "old").unwrap();
    let b = batch_of(&[
        ("a", Some("1")),
        ("gone", None),
        ("a", Some("2")),
        ("never", None),
        ("kept", Some("new")),
    ]);
    db.write(&b).unwrap();
    db.write(&WriteBatch::new()).unwrap();
    let check = |db: &Bitask| {
        assert_eq!(db.get("a").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(db.get("gone").unwrap(), None);
        assert_eq!(db.get("never").unwrap(), None);
        assert_eq!(db.get("kept").unwrap().as_deref(), Some(&b"new"[..]));
        assert_eq!(db.stats().key_count, 2);
    };
    check(&db);
    db.close().unwrap();
    let db = Bitask::open(tmp.path()).unwrap();
    check(&db);
    assert_eq!(db.stats().torn_bytes, 0);
}

/// The active file cut at every byte inside a batch (what a crash can leave of an unsynced
/// write, in order): the reopened store holds all of the batch or none of it, and the cut
/// batch is counted as a torn tail and cut away, so later writes survive.
#[test]
fn a_batch_cut_at_any_byte_is_dropped_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Bitask::open(tmp.path()).unwrap();
    db.put("before", "b").unwrap();
    db.close().unwrap();
    let end_before = std::fs::metadata(&files_ending(tmp.path(), ".active.log")[0])
        .unwrap()
        .len();
    let db = Bitask::open(tmp.path()).unwrap();
    let b = batch_of(&[("x", Some("1")), ("before", None), ("y", Some("22"))]);
    db.write(&b).unwrap();
    db.close().unwrap();
    let active = files_ending(tmp.path(), ".active.log")[0].clone();
    let whole = std::fs::read(&active).unwrap();
    assert!(whole.len() as u64 > end_before);
    for cut in end_before..=whole.len() as u64 {
        std::fs::write(&active, &whole[..cut as usize]).unwrap();
        let db = Bitask::open(tmp.path()).unwrap();
        let got: Vec<_> = ["x", "before", "y"]
            .iter()
            .map(|k| db.get(k).unwrap())
            .collect();
        let complete = cut == whole.len() as u64;
        if complete {
            assert_eq!(got, [Some(b"1".to_vec()), None, Some(b"22".to_vec())]);
        } else {
            assert_eq!(got, [None, Some(b"b".to_vec()), None], "cut at {cut}");
            // Counted up to the last byte that is not zero.
            let torn = db.stats().torn_bytes;
            assert!(torn <= cut - end_before, "cut at {cut}: {torn}");
            assert!(
                cut < end_before + 29 || torn > 0,
                "cut at {cut}: nothing torn"
            );
            db.put("after", "a").unwrap();
            db.close().unwrap();
            let db = Bitask::open(tmp.path()).unwrap();
            assert_eq!(db.get("after").unwrap().as_deref(), Some(&b"a"[..]));
            assert_eq!(db.get("x").unwrap(), None, "cut at {cut}");
        }
    }
}

#[test]
fn a_batch_larger_than_a_data_file_is_kept_in_one_file() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = || Options::default().max_file_size(4096);
    let db = Bitask::open_with(tmp.path(), opts()).unwrap();
    db.put("first", "1").unwrap();
    let mut b = WriteBatch::new();
    for i in 0..100 {
        b.put(format!("k{i:03}"), vec![i as u8; 100]).unwrap();
    }
    db.write(&b).unwrap();
    db.put("last", "2").unwrap();
    db.close().unwrap();
    // The batch's file holds all 100 members and its commit: more than max_file_size.
    let big = files_ending(tmp.path(), ".log")
        .into_iter()
        .filter(|p| std::fs::metadata(p).unwrap().len() > 4096)
        .count();
    assert_eq!(big, 1, "the batch was split across files");
    let db = Bitask::open_with(tmp.path(), opts()).unwrap();
    for i in 0..100 {
        let v = db.get(format!("k{i:03}")).unwrap();
        assert_eq!(v, Some(vec![i as u8; 100]));
    }
    assert_eq!(db.stats().key_count, 102);
}

/// Compaction copies members without their commit: in its outputs they count as committed,
/// whether the outputs load from their hints or are scanned.
#[test]
fn batches_survive_compaction_with_and_without_hints() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = || Options::default().max_file_size(512);
    let db = Bitask::open_with(tmp.path(), opts()).unwrap();
    for round in 0..10 {
        let mut b = WriteBatch::new();
        for i in 0..6 {
            b.put(format!("k{i}"), format!("v{round}-{i}")).unwrap();
        }
        b.remove(format!("gone{round}")).unwrap();
        db.write(&b).unwrap();
    }
    db.compact().unwrap();
    db.close().unwrap();
    for hints in [true, false] {
        if !hints {
            for h in files_ending(tmp.path(), ".hint") {
                std::fs::remove_file(h).unwrap();
            }
        }
        let db = Bitask::open_with(tmp.path(), opts()).unwrap();
        for i in 0..6 {
            let v = db.get(format!("k{i}")).unwrap();
            assert_eq!(v, Some(format!("v9-{i}").into_bytes()), "hints {hints}");
        }
        assert_eq!(db.stats().key_count, 6);
    }
}

/// A writer replaces 32 keys' values batch by batch; readers must never mix two batches:
/// a multi-get sees one version throughout, and a get never sees a version older than one
/// an earlier get of the same thread saw.
#[test]
fn readers_never_see_half_a_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Arc::new(Bitask::open(tmp.path()).unwrap());
    let keys: Vec<String> = (0..32).map(|i| format!("key{i:02}")).collect();
    let write = |n: u64| {
        let mut b = WriteBatch::new();
        for k in &keys {
            b.put(k, n.to_le_bytes()).unwrap();
        }
        db.write(&b).unwrap();
    };
    write(0);
    let done = Arc::new(AtomicBool::new(false));
    let checked: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (db, done, keys) = (db.clone(), done.clone(), keys.clone());
            let checked = checked.clone();
            std::thread::spawn(move || {
                let version =
                    |v: Option<Vec<u8>>| u64::from_le_bytes(v.unwrap().try_into().unwrap());
                let mut checks = 0u64;
                while !done.load(Ordering::Acquire) {
                    if r == 0 {
                        let all = db.multi_get(&keys).unwrap();
                        let first = version(all[0].clone());
                        for v in all {
                            assert_eq!(version(v), first, "a multi-get mixed two batches");
                        }
                    } else {
                        let mut seen = 0;
                        for k in keys.iter().rev() {
                            let v = version(db.get(k).unwrap());
                            assert!(v >= seen, "{k}: version {v} after {seen}: half a batch");
                            seen = v;
                        }
                    }
                    checks += 1;
                    checked[r].store(checks, Ordering::Release);
                }
                checks
            })
        })
        .collect();
    // Batches go on until each reader has checked a few times (on a loaded machine a
    // reader may not run at all during the first 2000).
    let mut n = 1;
    while n < 2000 || checked.iter().any(|c| c.load(Ordering::Acquire) < 10) {
        write(n);
        n += 1;
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
}

#[test]
fn multi_get_agrees_with_get() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Bitask::open_with(tmp.path(), Options::default().max_file_size(1024)).unwrap();
    for i in 0..200u32 {
        db.put(format!("k{i}"), vec![i as u8; (i % 50) as usize])
            .unwrap();
    }
    db.remove("k7").unwrap();
    let keys: Vec<String> = (0..210).rev().map(|i| format!("k{i}")).collect();
    let got = db.multi_get(&keys).unwrap();
    assert_eq!(got.len(), keys.len());
    for (k, v) in keys.iter().zip(&got) {
        assert_eq!(v, &db.get(k).unwrap(), "{k}");
    }
    assert!(got.iter().filter(|v| v.is_none()).count() == 11);
    assert!(db.multi_get(&["ok", ""]).is_err());
    assert!(db.multi_get::<&str>(&[]).unwrap().is_empty());
}

#[test]
fn put_if_absent_and_compare_and_set() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Bitask::open(tmp.path()).unwrap();
    assert!(db.put_if_absent("k", "1").unwrap());
    assert!(!db.put_if_absent("k", "2").unwrap());
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"1"[..]));
    assert!(!db.compare_and_set("k", Some(b"0"), Some(b"3")).unwrap());
    assert!(!db.compare_and_set("k", None, Some(b"3")).unwrap());
    assert!(db.compare_and_set("k", Some(b"1"), Some(b"3")).unwrap());
    assert!(db.compare_and_set("k", Some(b"3"), None).unwrap());
    assert_eq!(db.get("k").unwrap(), None);
    assert!(!db.compare_and_set("k", Some(b"3"), None).unwrap());
    assert!(db.compare_and_set("k", None, None).unwrap());
    assert!(db.compare_and_set("k", None, Some(b"")).unwrap());
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b""[..]));
    db.close().unwrap();
    let db = Bitask::open(tmp.path()).unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b""[..]));
}

/// Four threads increment one counter by compare-and-set: no increment is lost.
#[test]
fn compare_and_set_is_atomic_against_other_writers() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Arc::new(Bitask::open(tmp.path()).unwrap());
    db.put("n", 0u64.to_le_bytes()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for _ in 0..300 {
                    loop {
                        let cur = db.get("n").unwrap().unwrap();
                        let n = u64::from_le_bytes(cur.clone().try_into().unwrap());
                        if db
                            .compare_and_set("n", Some(&cur), Some(&(n + 1).to_le_bytes()))
                            .unwrap()
                        {
                            break;
                        }
                    }
                    // Competing plain writes of other keys, and put-if-absent races.
                    db.put(format!("t{t}"), "x").unwrap();
                    let _ = db.put_if_absent("once", format!("{t}")).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let n = u64::from_le_bytes(db.get("n").unwrap().unwrap().try_into().unwrap());
    assert_eq!(n, 1200);
}

/// The I/O-error loop over one batch: the Nth file operation of its write fails (a full
/// disk, EIO, a short write), N = 1, 2, ...: a failed write leaves nothing visible, and after
/// a reopen the store holds all of the batch or none of it.
#[test]
fn a_failed_batch_write_leaves_nothing() {
    for fault in [Fault::Full, Fault::Eio, Fault::ShortWrite, Fault::SyncFail] {
        for sync in [SyncMode::None, SyncMode::Always] {
            let mut at = 1;
            loop {
                let inner: Arc<dyn Vfs> = Arc::new(SimVfs::new());
                let fv = FaultVfs::new(inner.clone());
                let opts =
                    |v: Arc<dyn Vfs>| Options::default().max_file_size(300).sync(sync).vfs(v);
                let db = Bitask::open_with("/db", opts(Arc::new(fv.clone()))).unwrap();
                for i in 0..4 {
                    db.put(format!("k{i}"), "old").unwrap();
                }
                let mut b = WriteBatch::new();
                for i in 0..4 {
                    b.put(format!("k{i}"), vec![b'n'; 60]).unwrap();
                }
                b.remove("k0").unwrap();
                fv.arm(Plan {
                    fault,
                    at,
                    sticky: false,
                });
                let result = db.write(&b);
                fv.disarm();
                let hit = fv.injected() > 0;
                let old: Vec<Option<Vec<u8>>> = (0..4).map(|_| Some(b"old".to_vec())).collect();
                let mut new: Vec<Option<Vec<u8>>> = (0..4).map(|_| Some(vec![b'n'; 60])).collect();
                new[0] = None;
                let read = |db: &Bitask| -> Vec<Option<Vec<u8>>> {
                    (0..4).map(|i| db.get(format!("k{i}")).unwrap()).collect()
                };
                let what = format!("{fault:?} {sync:?} at {at}: {result:?}");
                match &result {
                    Ok(()) => assert_eq!(read(&db), new, "{what}"),
                    // A failed fdatasync leaves the batch visible (as a put's); all of it.
                    Err(e) if fault == Fault::SyncFail || e.to_string().contains("sync") => {
                        let now = read(&db);
                        assert!(now == new || now == old, "{what}: {now:?}");
                    }
                    // Nothing visible, or (a read error confirming a key while the batch
                    // was being published: on disk it is whole) no read at all.
                    Err(_) => match db.get("k1") {
                        Err(bitask::Error::Stopped(_)) => {}
                        _ => assert_eq!(read(&db), old, "{what}"),
                    },
                }
                drop(db);
                let db = Bitask::open_with("/db", opts(inner)).unwrap();
                let after = read(&db);
                assert!(
                    after == old || after == new,
                    "{what}: after reopen {after:?}"
                );
                if result.is_ok() {
                    assert_eq!(after, new, "{what}");
                }
                db.write(&b).unwrap();
                assert_eq!(read(&db), new);
                if !hit {
                    break;
                }
                at += 1;
            }
            // Without sync, the write itself calls no fdatasync: the one sealing the full
            // active file runs on the background seal thread, perhaps after the disarm.
            let may_miss = fault == Fault::SyncFail && sync == SyncMode::None;
            assert!(
                at > 1 || may_miss,
                "{fault:?} {sync:?}: the batch's write never met the fault"
            );
        }
    }
}

#[test]
fn a_read_only_handle_sees_no_batch_or_a_whole_one() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Bitask::open(tmp.path()).unwrap();
    db.put("a", "0").unwrap();
    let ro = Bitask::open_with(tmp.path(), Options::default().read_only(true)).unwrap();
    db.write(&batch_of(&[("a", Some("1")), ("b", Some("1"))]))
        .unwrap();
    assert!(ro
        .write(&batch_of(&[("a", Some("2")), ("b", None)]))
        .is_err());
    ro.refresh().unwrap();
    assert_eq!(ro.get("a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(ro.get("b").unwrap().as_deref(), Some(&b"1"[..]));
}

/// A batch of more bytes than one write takes (1 MiB) goes to the file in several, and a
/// member larger than that by itself: whole after a reopen, and whole or absent when any of
/// those writes fails.
#[test]
fn a_batch_written_in_several_writes_is_whole_or_absent() {
    let huge = vec![b'h'; 1536 * 1024];
    let mut b = WriteBatch::new();
    for i in 0..1500 {
        b.put(format!("k{i:04}"), vec![i as u8; 1000]).unwrap();
        if i == 700 {
            b.put("huge", &huge).unwrap();
        }
    }
    b.remove("k0000").unwrap();
    let new = |db: &Bitask| {
        assert_eq!(db.get("huge").unwrap().as_deref(), Some(&huge[..]));
        assert_eq!(db.get("k0000").unwrap(), None);
        for i in 1..1500 {
            assert_eq!(
                db.get(format!("k{i:04}")).unwrap(),
                Some(vec![i as u8; 1000])
            );
        }
    };
    let mut at = 1;
    loop {
        let inner: Arc<dyn Vfs> = Arc::new(SimVfs::new());
        let fv = FaultVfs::new(inner.clone());
        let db = Bitask::open_with("/db", Options::default().vfs(Arc::new(fv.clone()))).unwrap();
        db.put("k0000", "old").unwrap();
        fv.arm(Plan {
            fault: Fault::Eio,
            at,
            sticky: false,
        });
        let result = db.write(&b);
        fv.disarm();
        let hit = fv.injected() > 0;
        if result.is_ok() {
            new(&db);
        }
        drop(db);
        let db = Bitask::open_with("/db", Options::default().vfs(inner)).unwrap();
        if db.get("huge").unwrap().is_some() {
            new(&db);
        } else {
            assert!(result.is_err(), "at {at}: a batch that was written is gone");
            assert_eq!(db.get("k0000").unwrap().as_deref(), Some(&b"old"[..]));
            assert_eq!(db.stats().key_count, 1, "at {at}: part of a failed batch");
        }
        if !hit {
            break;
        }
        at += 1;
    }
    assert!(at > 3, "the batch took {} writes", at - 1);
}
