//! Hot backups (`Bitask::checkpoint`): taken while a writer puts and removes and another
//! thread compacts, each backup must open as a store holding exactly the writer's history up
//! to some point between the last write acknowledged before the call and the first one begun
//! after it returned. A second backup into the same place brings it up to date, linking or
//! copying only what is new; a destination holding anything else is refused unchanged.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bitask::{Bitask, Error, Options};
use common::{key, value, Content};

fn opts() -> Options {
    Options::default().max_file_size(4096)
}

fn content_after(log: &[(Vec<u8>, Option<Vec<u8>>)], n: usize) -> Content {
    let mut c = Content::new();
    for (k, v) in &log[..n] {
        match v {
            Some(v) => c.insert(k.clone(), v.clone()),
            None => c.remove(k),
        };
    }
    c
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap_or_default())
        })
        .collect()
}

#[test]
fn backups_during_writes_and_compactions_hold_the_history_up_to_their_point() {
    let root = tempfile::tempdir().unwrap();
    let db = Arc::new(Bitask::open_with(root.path().join("db"), opts()).unwrap());
    // Writes in order: `started` counts writes begun, `log` those acknowledged.
    let started = Arc::new(AtomicUsize::new(0));
    let log = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, started, log, stop) = (db.clone(), started.clone(), log.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rng = common::Rng::new(7);
            for n in 0..3000u64 {
                if n % 10 == 0 {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
                let k = key(rng.below(60));
                started.fetch_add(1, Ordering::SeqCst);
                let v = if rng.pct(15) {
                    // Removing an absent key writes nothing and reports it.
                    match db.remove(&k) {
                        Ok(()) | Err(Error::KeyNotFound) => None,
                        Err(e) => panic!("remove: {e}"),
                    }
                } else {
                    let v = value(&k, n, 40);
                    db.put(&k, &v).unwrap();
                    Some(v)
                };
                log.lock().unwrap().push((k, v));
            }
            stop.store(true, Ordering::Relaxed);
        })
    };
    let compactor = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut merges = 0;
            while !stop.load(Ordering::Relaxed) {
                db.compact().unwrap();
                merges += 1;
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
            merges
        })
    };
    let mut taken = Vec::new();
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        let dest = root.path().join(format!("backup{i}"));
        let acked = log.lock().unwrap().len();
        db.checkpoint(&dest).unwrap();
        let begun = started.load(Ordering::SeqCst);
        taken.push((dest, acked, begun));
    }
    writer.join().unwrap();
    assert!(taken.len() >= 3, "{} backups taken", taken.len());
    common::report(&format!(
        "{} backups taken during {merges_note} writes",
        taken.len(),
        merges_note = 3000
    ));
    let merges = compactor.join().unwrap();
    assert!(merges > 0);
    let log = log.lock().unwrap();
    for (dest, acked, begun) in taken {
        assert!(
            bitask::verify(&dest).unwrap().is_clean(),
            "{}",
            dest.display()
        );
        let copy = Bitask::open_with(&dest, opts()).unwrap();
        let got = common::read_all(&copy).unwrap();
        let point = (acked..=begun.min(log.len())).find(|&n| content_after(&log, n) == got);
        assert!(
            point.is_some(),
            "{}: no point in {acked}..={begun} matches",
            dest.display()
        );
    }
}

#[test]
fn a_second_backup_into_the_same_place_places_only_what_is_new() {
    let root = tempfile::tempdir().unwrap();
    let db = Bitask::open_with(root.path().join("db"), opts()).unwrap();
    let dest = root.path().join("backup");
    let mut model = Content::new();
    for k in 0..200 {
        model.insert(key(k), value(&key(k), 1, 100));
        db.put(key(k), value(&key(k), 1, 100)).unwrap();
    }
    let first = db.checkpoint(&dest).unwrap();
    assert!(first.linked > 2 && first.kept == 0, "{first:?}");
    for k in 0..20 {
        model.insert(key(k), value(&key(k), 2, 100));
        db.put(key(k), value(&key(k), 2, 100)).unwrap();
    }
    let names = |d: &std::path::Path| -> std::collections::BTreeSet<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "db.lock")
            .collect()
    };
    let before = names(&dest);
    let second = db.checkpoint(&dest).unwrap();
    assert!(second.kept >= first.linked - 1, "{first:?} then {second:?}");
    // Only files the first backup did not have are placed: newly sealed files, their hints,
    // hints written since for files sealed before (hints are written in the background), the
    // active file's new copy. Everything else is kept.
    let after = names(&dest);
    let placed = after.difference(&before).count() as u64;
    let active_again = after
        .iter()
        .any(|n| n.ends_with(".active.log") && before.contains(n));
    assert_eq!(
        second.linked + second.copied,
        placed + active_again as u64,
        "{before:?} then {after:?}: {second:?}"
    );
    assert_eq!(
        second.kept + second.removed + active_again as u64,
        before.len() as u64 - 1,
        "everything else of the first backup is kept or removed (db.id aside): {second:?}"
    );
    db.compact().unwrap();
    db.put(key(0), value(&key(0), 3, 100)).unwrap();
    model.insert(key(0), value(&key(0), 3, 100));
    let third = db.checkpoint(&dest).unwrap();
    assert!(
        third.removed > 2,
        "the compacted files leave the backup: {third:?}"
    );
    drop(db);
    let copy = Bitask::open_with(&dest, opts()).unwrap();
    assert_eq!(common::read_all(&copy).unwrap(), model);
}

#[test]
fn a_destination_with_foreign_files_is_refused_unchanged() {
    let root = tempfile::tempdir().unwrap();
    let db = Bitask::open_with(root.path().join("db"), opts()).unwrap();
    db.put("k", "v").unwrap();
    let other = Bitask::open_with(root.path().join("other"), opts()).unwrap();
    other.put("k", "w").unwrap();
    let theirs = root.path().join("theirs");
    other.checkpoint(&theirs).unwrap();
    let notes = root.path().join("notes");
    std::fs::create_dir(&notes).unwrap();
    std::fs::write(notes.join("notes.txt"), b"mine").unwrap();
    let loose = root.path().join("loose");
    std::fs::create_dir(&loose).unwrap();
    std::fs::write(loose.join("123.log"), b"not a data file").unwrap();
    for dest in [&theirs, &notes, &loose] {
        let before = snapshot(dest);
        let err = db.checkpoint(dest).unwrap_err();
        assert!(
            matches!(err, Error::Incompatible { .. }),
            "{}: {err}",
            dest.display()
        );
        assert_eq!(snapshot(dest), before, "{} changed", dest.display());
    }
    let own = db.checkpoint(root.path().join("db")).unwrap_err();
    assert!(matches!(own, Error::InvalidArgument(_)), "{own}");
    let reader = Bitask::open_with(root.path().join("db"), opts().read_only(true)).unwrap();
    assert!(matches!(
        reader.checkpoint(root.path().join("r")),
        Err(Error::ReadOnly)
    ));
}

#[test]
fn verify_on_a_handle_beside_its_writes_and_compactions_finds_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let db = Arc::new(Bitask::open_with(&dir, opts()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                // Two values fill a 4 KiB file: the writer rotates every other put, often
                // faster than the next file is prepared, and makes it then and there (its
                // name visible before its header is written).
                db.put(key(n % 50), value(&key(n % 50), n, 1500)).unwrap();
                if n % 200 == 0 {
                    db.compact().unwrap();
                }
            }
        })
    };
    for _ in 0..1000 {
        let on_handle = db.verify().unwrap();
        assert!(on_handle.is_clean(), "{:?}", on_handle.problems);
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let of_dir = bitask::verify(&dir).unwrap();
    assert!(of_dir.is_clean(), "{:?}", of_dir.problems);
}
