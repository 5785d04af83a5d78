//! Automatic merges of a window of the load order, files older than it left in place: the
//! older files and their records survive the merge and a reopen; a key deleted, or expired,
//! inside the window stays absent even though an older file still holds a put of it; and
//! the tombstones such a merge must keep are not taken for dead bytes worth merging again.
//!
//! The merges are started by `merge_if_due` (no merge thread), so each test knows what ran.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bitask::{Bitask, ManualClock, MergeOptions, Options};

const FILE: u64 = 4096;
const T0: u64 = 1_900_000_000_000;

fn opts(clock: &Arc<ManualClock>) -> Options {
    opts_with_outputs_of(clock, 2 * FILE)
}

fn opts_with_outputs_of(clock: &Arc<ManualClock>, output_file_size: u64) -> Options {
    let merge = MergeOptions {
        min_dead_bytes: 0,
        store_fragmentation: 0.1,
        file_fragmentation: 0.5,
        small_file_bytes: 0,
        max_merge_bytes: 64 * FILE,
        output_file_size,
        bytes_per_sec: 0,
        ..MergeOptions::default()
    };
    Options::default()
        .max_file_size(FILE)
        .auto_merge(false)
        .merge(merge)
        .clock(clock.clone())
}

/// Ids of the sealed data files, oldest first.
fn sealed_ids(dir: &Path) -> Vec<u64> {
    let mut ids: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let id = name.strip_suffix(".log")?;
            if id.contains('.') {
                return None;
            }
            id.parse().ok()
        })
        .collect();
    ids.sort_unstable();
    ids
}

fn old_key(i: u64) -> Vec<u8> {
    format!("old{i:03}").into_bytes()
}

/// Writes `doomed` and `fading`, then keys that stay live (several files of them); then, in
/// newer files, overwrites a few hot keys until those files are mostly dead, and amid them
/// removes `doomed` and puts `fading` again to expire.
fn old_files_then_churn(db: &Bitask, clock: &ManualClock) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut model = BTreeMap::new();
    db.put("doomed", "from an old file").unwrap();
    db.put("fading", "from an old file").unwrap();
    for i in 0..120 {
        let v = common::value(&old_key(i), i, 60);
        db.put(old_key(i), &v).unwrap();
        model.insert(old_key(i), v);
    }
    for round in 0..40 {
        if round == 20 {
            // Amid the hot keys' overwrites, in a file that ends up mostly dead.
            db.remove("doomed").unwrap();
            db.put_with_ttl("fading", "brief", Duration::from_millis(10))
                .unwrap();
        }
        for h in 0..10u64 {
            let k = format!("hot{h}").into_bytes();
            let v = common::value(&k, round, 60);
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
    }
    clock.advance(1000);
    // Files sealed in the background are candidates once sealed: sync waits for that.
    db.sync().unwrap();
    model
}

#[test]
fn a_window_merge_keeps_older_files_and_no_deleted_or_expired_key_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let clock = Arc::new(ManualClock::new(T0));
    let db = Bitask::open_with(&dir, opts(&clock)).unwrap();
    let model = old_files_then_churn(&db, &clock);
    let before = sealed_ids(&dir);
    let report = db.merge_if_due().unwrap();
    assert!(report.due, "{report:?}");
    let taken: Vec<u64> = report.files.iter().map(|f| f.id).collect();
    assert!(
        taken[0] > before[0] && !taken.contains(&before[0]),
        "the window starts after the oldest, live, files: took {taken:?} of {before:?}"
    );
    let after = sealed_ids(&dir);
    let untouched: Vec<u64> = before.iter().copied().filter(|id| *id < taken[0]).collect();
    assert!(untouched.iter().all(|id| after.contains(id)), "{after:?}");
    assert_eq!(common::read_all(&db).unwrap(), model, "after the merge");
    db.close().unwrap();

    let db = Bitask::open_with(&dir, opts(&clock)).unwrap();
    assert_eq!(db.get("doomed").unwrap(), None, "a removed key came back");
    assert_eq!(
        db.get("fading").unwrap(),
        None,
        "an expired key's old value came back"
    );
    assert_eq!(common::read_all(&db).unwrap(), model, "after a reopen");
    assert!(bitask::verify(&dir).unwrap().is_clean());
    // A merge of everything, oldest files included, drops what the window had to keep.
    db.compact().unwrap();
    db.close().unwrap();
    let db = Bitask::open_with(&dir, opts(&clock)).unwrap();
    assert_eq!(
        common::read_all(&db).unwrap(),
        model,
        "after compact and a reopen"
    );
}

#[test]
fn tombstones_a_window_keeps_do_not_make_the_store_merge_again_and_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let clock = Arc::new(ManualClock::new(T0));
    // One output holds what the merge keeps, so that nothing but the tombstones' bytes
    // could make it look worth merging.
    let one_output = opts_with_outputs_of(&clock, 16 * FILE);
    let db = Bitask::open_with(&dir, one_output.clone()).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..120 {
        let v = common::value(&old_key(i), i, 60);
        db.put(old_key(i), &v).unwrap();
        model.insert(old_key(i), v);
    }
    // Keys written and then all removed: their files are dead but for the tombstones,
    // which must stay, since the oldest files are not merged.
    for i in 0..200u64 {
        db.put(format!("gone{i:03}"), common::value(b"g", i, 60))
            .unwrap();
    }
    for i in 0..200u64 {
        db.remove(format!("gone{i:03}")).unwrap();
    }
    // Live keys after them, so that the tombstones' files are sealed too.
    for i in 0..120u64 {
        let k = format!("new{i:03}").into_bytes();
        let v = common::value(&k, i, 60);
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    db.sync().unwrap();
    let mut merges = 0;
    while db.merge_if_due().unwrap().due {
        merges += 1;
        assert!(
            merges < 10,
            "the store merges again and again: {:?}",
            db.needs_merge()
        );
    }
    assert!(merges >= 1);
    assert_eq!(common::read_all(&db).unwrap(), model);
    db.close().unwrap();
    let db = Bitask::open_with(&dir, one_output.clone()).unwrap();
    // The tombstones kept are counted from the outputs' hints after a reopen.
    let r = db.merge_if_due().unwrap();
    assert!(!r.due, "merging again after a reopen: {r:?}");
    assert_eq!(db.get("gone007").unwrap(), None);
    assert_eq!(common::read_all(&db).unwrap(), model, "after a reopen");
}
