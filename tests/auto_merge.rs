//! The automatic merge on a real directory: the merge thread gives space back without a
//! call to `compact`, against a model (a `BTreeMap`) with reopens, no write is lost and no
//! removed key comes back while it runs continuously; closing stops a slow merge at once;
//! `needs_merge` says what a merge would take.
//!
//! Time here is never measured: the merge thread looks every millisecond, and the tests wait
//! for what it must eventually do (with a generous limit against a hang).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use bitask::{Bitask, MergeOptions, MergeReason, NotDue, Options};
use common::{key, value, Rng};

const FILE: u64 = 4096;

fn eager() -> MergeOptions {
    MergeOptions {
        check_every: Duration::from_millis(1),
        ..common::eager_merge(FILE)
    }
}

fn opts(merge: MergeOptions) -> Options {
    Options::default().max_file_size(FILE).merge(merge)
}

fn check(db: &Bitask, model: &BTreeMap<Vec<u8>, Vec<u8>>, what: &str) {
    let content = common::read_all(db).unwrap();
    assert_eq!(&content, model, "{what}");
}

/// Waits (up to a minute, a hang otherwise) for `done`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < give_up, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn overwrite(db: &Bitask, model: &mut BTreeMap<Vec<u8>, Vec<u8>>, keys: u64, rounds: u64) {
    for round in 0..rounds {
        for k in 0..keys {
            let k = key(k);
            let v = value(&k, round, 60);
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
    }
}

#[test]
fn the_merge_thread_gives_space_back_without_compact() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Bitask::open_with(&dir, opts(eager())).unwrap();
    let mut model = BTreeMap::new();
    overwrite(&db, &mut model, 200, 5);
    eventually("dead bytes at most the live bytes", || {
        let s = db.stats();
        s.dead_bytes <= s.live_bytes
    });
    check(&db, &model, "after merging");
    db.close().unwrap();
    let db = Bitask::open_with(&dir, opts(eager())).unwrap();
    check(&db, &model, "after a reopen");
}

#[test]
fn a_model_with_merges_running_all_along_and_reopens_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let mut rng = Rng::new(common::seed(11));
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut db = Bitask::open_with(&dir, opts(eager())).unwrap();
    let mut merged_files = 0;
    for round in 0..if common::soak() { 200 } else { 30 } {
        for i in 0..300 {
            let k = key(rng.below(60));
            if model.contains_key(&k) && rng.pct(25) {
                db.remove(&k).unwrap();
                model.remove(&k);
            } else {
                let v = value(&k, round * 1000 + i, rng.below(80) as usize);
                db.put(&k, &v).unwrap();
                model.insert(k, v);
            }
        }
        for (k, v) in &model {
            assert_eq!(db.get(k).unwrap().as_ref(), Some(v), "round {round}");
        }
        merged_files += db.stats().data_files;
        if round % 3 == 2 {
            drop(db);
            db = Bitask::open_with(&dir, opts(eager())).unwrap();
            check(&db, &model, &format!("reopen after round {round}"));
        }
    }
    assert!(merged_files > 0);
    // The thread did merge: the store holds at most twice its live data, give or take
    // what the last round wrote since.
    eventually("the thread merges the last round", || {
        let s = db.stats();
        s.dead_bytes <= s.live_bytes + 8 * FILE
    });
    check(&db, &model, "at the end");
}

#[test]
fn closing_stops_a_slow_merge_and_leaves_the_store_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let slow = MergeOptions {
        // A byte a second: the merge would take days.
        bytes_per_sec: 1,
        ..eager()
    };
    let db = Bitask::open_with(&dir, opts(slow)).unwrap();
    let mut model = BTreeMap::new();
    overwrite(&db, &mut model, 100, 4);
    eventually("a merge is due", || db.needs_merge().due);
    // Give the thread its look, so the close meets a merge under way.
    std::thread::sleep(Duration::from_millis(50));
    common::within(Duration::from_secs(30), "close".into(), move || {
        db.close().unwrap()
    });
    let db = Bitask::open_with(&dir, opts(MergeOptions::default())).unwrap();
    check(&db, &model, "after the close");
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn needs_merge_lists_the_prefix_and_merge_if_due_takes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let manual = Options::default()
        .max_file_size(FILE)
        .auto_merge(false)
        .merge(common::eager_merge(FILE));
    let db = Bitask::open_with(&dir, manual.clone()).unwrap();
    let mut model = BTreeMap::new();
    overwrite(&db, &mut model, 100, 4);
    // Files sealed in the background are candidates once sealed: sync waits for that.
    db.sync().unwrap();
    let r = db.needs_merge();
    assert!(r.due, "{r:?}");
    assert!(!r.files.is_empty());
    assert!(r.files.iter().any(|f| f.reason != MergeReason::Older));
    assert!(r.read_bytes >= r.write_bytes + r.reclaim_bytes - 1);
    let before = db.stats();
    let done = db.merge_if_due().unwrap();
    assert_eq!(done.files, r.files, "it merges what it reported");
    let after = db.stats();
    assert!(
        after.dead_bytes < before.dead_bytes,
        "{before:?} -> {after:?}"
    );
    assert_eq!(after.live_bytes, before.live_bytes);
    check(&db, &model, "after merge_if_due");
    // With the default triggers, a store this small is never due.
    drop(db);
    let db = Bitask::open_with(&dir, Options::default().auto_merge(false)).unwrap();
    let r = db.needs_merge();
    assert!(!r.due);
    assert_eq!(r.why_not, Some(NotDue::BelowTriggers));
    // Outside the window, it waits.
    drop(db);
    fn three_am() -> u8 {
        3
    }
    let night = MergeOptions {
        window: Some((22, 2)),
        hour_now: three_am,
        ..common::eager_merge(FILE)
    };
    let db = Bitask::open_with(&dir, manual.merge(night)).unwrap();
    overwrite(&db, &mut model, 100, 4);
    db.sync().unwrap();
    let r = db.needs_merge();
    assert_eq!(r.why_not, Some(NotDue::OutsideWindow), "{r:?}");
    assert!(!db.merge_if_due().unwrap().due);
    check(&db, &model, "nothing merged outside the window");
}
