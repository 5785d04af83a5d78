//! Per-key expiry: keys put with a time to live vanish from every read at the clock tick of
//! their expiry, keep it across reopens (from scans and from hints) and compactions, and
//! compaction drops them without any older value coming back. The clock is a `ManualClock`:
//! no test sleeps.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bitask::db::{Bitask, Error};
use bitask::{ManualClock, Options};

mod common;

const T0: u64 = 1_800_000_000_000;

fn opts(clock: &Arc<ManualClock>) -> Options {
    Options::default().max_file_size(256).clock(clock.clone())
}

fn open(dir: &Path, clock: &Arc<ManualClock>) -> Bitask {
    Bitask::open_with(dir, opts(clock)).unwrap()
}

fn keys(db: &Bitask) -> Vec<Vec<u8>> {
    db.iter().map(|r| r.unwrap().0).collect()
}

fn sealed_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log") && !n.ends_with(".active.log"))
        .collect();
    v.sort();
    v
}

#[test]
fn an_expired_key_is_absent_to_every_read_at_the_tick_of_its_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let db = open(dir.path(), &clock);
    db.put("plain", "p").unwrap();
    db.put_with_ttl("brief", "b", Duration::from_millis(10))
        .unwrap();
    db.put_expiring_at("later", "l", T0 + 20).unwrap();
    let before = db.stats();
    assert_eq!(before.key_count, 3);

    clock.set(T0 + 9);
    assert_eq!(db.get("brief").unwrap().as_deref(), Some(&b"b"[..]));
    assert!(db.contains("brief").unwrap());
    assert_eq!(db.ttl("brief").unwrap(), Some(Duration::from_millis(1)));

    clock.set(T0 + 10);
    assert_eq!(db.get("brief").unwrap(), None);
    assert!(!db.contains("brief").unwrap());
    let mut buf = [0u8; 8];
    assert_eq!(db.get_into("brief", &mut buf).unwrap(), None);
    assert_eq!(db.multi_get(&["brief", "plain"]).unwrap()[0], None);
    assert!(matches!(db.ttl("brief"), Err(Error::KeyNotFound)));
    assert_eq!(keys(&db), vec![b"later".to_vec(), b"plain".to_vec()]);
    let after = db.stats();
    assert_eq!(after.key_count, 2);
    assert!(after.live_bytes < before.live_bytes);
    assert_eq!(
        after.live_bytes + after.dead_bytes,
        before.live_bytes + before.dead_bytes
    );
    // Removing or conditionally writing an expired key treats it as absent.
    assert!(matches!(db.remove("brief"), Err(Error::KeyNotFound)));
    assert!(db.put_if_absent("brief", "again").unwrap());
    assert_eq!(db.get("brief").unwrap().as_deref(), Some(&b"again"[..]));
    assert_eq!(db.ttl("brief").unwrap(), None);

    clock.set(T0 + 20);
    assert_eq!(db.get("later").unwrap(), None);
    assert!(db.compare_and_set("later", None, Some(b"x")).unwrap());
    assert_eq!(db.stats().key_count, 3);
}

#[test]
fn expire_persist_and_ttl_rewrite_only_the_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let db = open(dir.path(), &clock);
    db.put("k", "v").unwrap();
    assert_eq!(db.ttl("k").unwrap(), None);
    assert!(!db.persist("k").unwrap(), "no expiry to remove");
    db.expire("k", Duration::from_secs(5)).unwrap();
    assert_eq!(db.ttl("k").unwrap(), Some(Duration::from_secs(5)));
    assert_eq!(db.expiry("k").unwrap(), Some(T0 + 5000));
    clock.advance(2000);
    assert_eq!(db.ttl("k").unwrap(), Some(Duration::from_secs(3)));
    assert!(db.persist("k").unwrap());
    assert_eq!(db.ttl("k").unwrap(), None);
    clock.advance(10_000);
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    db.expire_at("k", T0).unwrap();
    assert_eq!(db.get("k").unwrap(), None);
    for r in [
        db.expire("k", Duration::from_secs(1)),
        db.persist("k").map(drop),
    ] {
        assert!(matches!(r, Err(Error::KeyNotFound)), "{r:?}");
    }
    assert!(matches!(db.ttl("nothing"), Err(Error::KeyNotFound)));
    assert!(matches!(db.persist("nothing"), Err(Error::KeyNotFound)));
    // A later plain put replaces the expiring value, expiry and all.
    db.put_with_ttl("j", "1", Duration::from_secs(1)).unwrap();
    db.put("j", "2").unwrap();
    clock.advance(5000);
    assert_eq!(db.get("j").unwrap().as_deref(), Some(&b"2"[..]));
}

/// Puts a mix of keys that expire at different times, enough to fill several small files.
fn fill(db: &Bitask) {
    for i in 0..40u64 {
        let key = format!("key{i:02}");
        match i % 4 {
            0 => db.put(&key, "forever").unwrap(),
            1 => db.put_expiring_at(&key, "soon", T0 + 100).unwrap(),
            2 => db.put_expiring_at(&key, "late", T0 + 10_000).unwrap(),
            _ => db.put_expiring_at(&key, "gone", T0 + 100).unwrap(),
        }
    }
}

fn expect_at(db: &Bitask, now_soon_gone: bool, ctx: &str) {
    for i in 0..40u64 {
        let key = format!("key{i:02}");
        let present = match i % 4 {
            0 | 2 => true,
            _ => !now_soon_gone,
        };
        assert_eq!(db.contains(&key).unwrap(), present, "{ctx}: {key}");
    }
    let expected = if now_soon_gone { 20 } else { 40 };
    assert_eq!(keys(db).len(), expected, "{ctx}");
    assert_eq!(db.stats().key_count, expected as u64, "{ctx}");
}

#[test]
fn a_reopen_keeps_each_expiry_from_scans_and_from_hints() {
    for with_hints in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let db = open(dir.path(), &clock);
        fill(&db);
        db.close().unwrap();
        // Wait for nothing: a hint written in the background may or may not be there; to
        // test the scan, take them all away.
        let db = open(dir.path(), &clock);
        db.close().unwrap();
        if !with_hints {
            for e in std::fs::read_dir(dir.path()).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "hint") {
                    std::fs::remove_file(p).unwrap();
                }
            }
        }
        let ctx = if with_hints { "hints" } else { "scans" };
        let db = open(dir.path(), &clock);
        expect_at(&db, false, ctx);
        clock.set(T0 + 100);
        expect_at(&db, true, ctx);
        assert_eq!(db.ttl("key02").unwrap(), Some(Duration::from_millis(9900)));
        let ro = Bitask::open_with(dir.path(), opts(&clock).read_only(true)).unwrap();
        expect_at(&ro, true, ctx);
    }
}

#[test]
fn compaction_drops_expired_records_and_no_older_value_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let db = open(dir.path(), &clock);
    // Older values under the keys that will expire, and a deleted key, in earlier files.
    for i in 0..40u64 {
        db.put(format!("key{i:02}"), "an older value").unwrap();
    }
    db.put("deleted", "x").unwrap();
    db.remove("deleted").unwrap();
    fill(&db);
    clock.set(T0 + 100);
    let before = db.stats();
    db.compact().unwrap();
    let after = db.stats();
    expect_at(&db, true, "after compaction");
    assert_eq!(after.dead_bytes, 0, "{after:?}");
    assert_eq!(after.live_bytes, before.live_bytes);
    // The dropped keys stay gone even when the clock goes back: their records are gone.
    clock.set(T0);
    assert_eq!(keys(&db).len(), 20);
    db.close().unwrap();
    for with_hints in [true, false] {
        if !with_hints {
            for e in std::fs::read_dir(dir.path()).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "hint") {
                    std::fs::remove_file(p).unwrap();
                }
            }
        }
        let db = open(dir.path(), &clock);
        assert_eq!(keys(&db).len(), 20, "hints {with_hints}");
        assert!(!db.contains("deleted").unwrap());
        assert!(!db.contains("key01").unwrap());
        assert_eq!(db.get("key02").unwrap().as_deref(), Some(&b"late"[..]));
        assert_eq!(db.expiry("key02").unwrap(), Some(T0 + 10_000));
        db.close().unwrap();
    }
}

#[test]
fn a_compaction_of_files_whose_records_all_expired_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let db = open(dir.path(), &clock);
    for i in 0..30u64 {
        db.put_expiring_at(format!("key{i:02}"), "short-lived", T0 + 1)
            .unwrap();
    }
    assert!(db.stats().data_files > 2);
    clock.set(T0 + 1);
    db.compact().unwrap();
    // What is left is the merge's one output, holding no record: its file header and seal
    // (it commits the merge: the inputs' ids are at most its merge base).
    let left = sealed_files(dir.path());
    assert_eq!(left.len(), 1, "{left:?}");
    let len = std::fs::metadata(dir.path().join(&left[0])).unwrap().len();
    assert_eq!(len, 52 + 45);
    let s = db.stats();
    assert_eq!(
        (s.key_count, s.live_bytes, s.dead_bytes),
        (0, 0, 0),
        "{s:?}"
    );
    db.put("after", "v").unwrap();
    db.close().unwrap();
    let db = open(dir.path(), &clock);
    clock.set(T0);
    assert_eq!(keys(&db), vec![b"after".to_vec()]);
}

#[test]
fn a_backup_keeps_the_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let db = open(dir.path(), &clock);
    fill(&db);
    db.checkpoint(dest.path().join("copy")).unwrap();
    let copy = open(&dest.path().join("copy"), &clock);
    expect_at(&copy, false, "backup");
    clock.set(T0 + 100);
    expect_at(&copy, true, "backup");
    assert!(copy.verify().unwrap().is_clean());
}

#[test]
fn batch_members_carry_their_expiry_through_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let db = open(dir.path(), &clock);
    let mut batch = bitask::WriteBatch::new();
    batch.put_expiring_at("a", "1", T0 + 10).unwrap();
    batch.put("b", "2").unwrap();
    batch.put_expiring_at("c", "3", T0 + 20).unwrap();
    db.write(&batch).unwrap();
    let mut one = bitask::WriteBatch::new();
    one.put_expiring_at("d", "4", T0 + 10).unwrap();
    db.write(&one).unwrap();
    assert_eq!(db.expiry("a").unwrap(), Some(T0 + 10));
    assert_eq!(db.expiry("b").unwrap(), None);
    assert_eq!(db.expiry("d").unwrap(), Some(T0 + 10));
    db.close().unwrap();
    let db = open(dir.path(), &clock);
    clock.set(T0 + 10);
    assert_eq!(keys(&db), vec![b"b".to_vec(), b"c".to_vec()]);
    clock.set(T0 + 20);
    assert_eq!(keys(&db), vec![b"b".to_vec()]);
}

#[test]
fn the_automatic_merge_counts_expired_bytes_as_dead() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let file = 4096;
    let manual = Options::default()
        .max_file_size(file)
        .clock(clock.clone())
        .auto_merge(false)
        .merge(common::eager_merge(file));
    let db = Bitask::open_with(dir.path(), manual.clone()).unwrap();
    for i in 0..150u64 {
        db.put_expiring_at(format!("key{i:03}"), [b'v'; 60], T0 + 100)
            .unwrap();
    }
    db.sync().unwrap();
    let r = db.needs_merge();
    assert!(
        !r.due && r.store_dead_bytes == 0,
        "nothing has expired yet: {r:?}"
    );
    clock.set(T0 + 100);
    let r = db.needs_merge();
    assert!(r.due, "{r:?}");
    assert_eq!(r.store_dead_bytes, r.store_record_bytes, "{r:?}");
    assert_eq!(r.write_bytes, 0, "{r:?}");
    let before = db.stats();
    let done = db.merge_if_due().unwrap();
    assert_eq!(done.files, r.files);
    let after = db.stats();
    assert!(
        after.dead_bytes < before.dead_bytes,
        "{before:?} -> {after:?}"
    );
    assert_eq!((after.key_count, after.live_bytes), (0, 0), "{after:?}");
    // What the merge took is gone for good: with the clock back, only the keys of files it
    // did not take can show again.
    drop(db);
    clock.set(T0);
    let db = Bitask::open_with(dir.path(), manual).unwrap();
    let left = keys(&db).len() as u64;
    assert!(left < 150, "{left} keys");
    assert_eq!(db.stats().key_count, left);
}

/// The expiry of every entry of the sorted hints in `dir`, by key.
fn hinted_expiries(dir: &Path) -> std::collections::BTreeMap<Vec<u8>, Option<u64>> {
    let mut out = std::collections::BTreeMap::new();
    for name in sealed_files(dir) {
        let data = dir.join(&name);
        let Ok(bytes) = std::fs::read(data.with_extension("hint")) else {
            continue;
        };
        let id: u64 = name.trim_end_matches(".log").parse().unwrap();
        let len = std::fs::metadata(&data).unwrap().len();
        let hint = bitask::hint::SortedHint::parse(&bytes, id, len).expect("a valid hint");
        for e in hint.iter() {
            out.insert(e.key.to_vec(), e.expiry);
        }
    }
    out
}

#[test]
fn hints_carry_each_expiry_and_verify_checks_them() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let db = open(dir.path(), &clock);
    fill(&db);
    db.compact().unwrap();
    let hinted = hinted_expiries(dir.path());
    assert_eq!(hinted.len(), 40, "{hinted:?}");
    assert_eq!(hinted[&b"key00"[..]], None);
    assert_eq!(hinted[&b"key01"[..]], Some(T0 + 100));
    assert_eq!(hinted[&b"key02"[..]], Some(T0 + 10_000));
    assert!(db.verify().unwrap().is_clean());
    db.close().unwrap();
    // A hint whose entry says another expiry than its record is a problem verify reports.
    let name = sealed_files(dir.path())[0].clone();
    let hint_path = dir.path().join(&name).with_extension("hint");
    let mut bytes = std::fs::read(&hint_path).unwrap();
    let at = (T0 + 100).to_le_bytes();
    let pos = bytes
        .windows(8)
        .position(|w| w == at)
        .expect("an expiry in the hint");
    bytes[pos] ^= 1;
    let crc_at = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..crc_at]);
    bytes[crc_at..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&hint_path, &bytes).unwrap();
    let report = bitask::verify(dir.path()).unwrap();
    assert!(!report.is_clean(), "{report:?}");
}

#[test]
fn a_repair_keeps_each_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let db = open(dir.path(), &clock);
    fill(&db);
    db.close().unwrap();
    // Damage one record in the middle of a sealed file, so the repair rewrites the file.
    let name = sealed_files(dir.path())[1].clone();
    let path = dir.path().join(&name);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = 52 + 40;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let report = bitask::repair(dir.path()).unwrap();
    assert!(
        report.records_lost > 0 || report.files_rewritten > 0,
        "{report:?}"
    );
    let db = open(dir.path(), &clock);
    let before: Vec<_> = keys(&db);
    let expiring: Vec<_> = before
        .iter()
        .filter(|k| db.expiry(k).unwrap().is_some())
        .cloned()
        .collect();
    assert!(!expiring.is_empty());
    clock.set(T0 + 100);
    for k in &expiring {
        let n: u64 = std::str::from_utf8(&k[3..]).unwrap().parse().unwrap();
        assert_eq!(db.contains(k).unwrap(), n % 4 == 2, "{k:?}");
    }
}

/// A key's value and expiry in the model.
type Model = std::collections::BTreeMap<Vec<u8>, (Vec<u8>, Option<u64>)>;

fn live(model: &Model, now: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    model
        .iter()
        .filter(|(_, (_, at))| at.is_none_or(|at| at > now))
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect()
}

/// Random puts (with and without expiry), removes, expire, persist, clock steps, compactions
/// and reopens over 50 keys in tiny files, against a model; the clock only goes forward, so a
/// record a compaction dropped was absent already.
#[test]
fn random_operations_with_expiry_match_a_model() {
    for seed in 1..=4u64 {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let mut rng = common::Rng::new(common::seed(seed));
        let mut model = Model::new();
        let mut db = open(dir.path(), &clock);
        for step in 0..1500 {
            let ctx = format!("seed {seed} step {step}");
            let now = bitask::Clock::now_millis(&*clock);
            let key = format!("key{:02}", rng.below(50)).into_bytes();
            let alive = |m: &Model| {
                m.get(&key)
                    .is_some_and(|(_, at)| at.is_none_or(|at| at > now))
            };
            match rng.below(100) {
                0..=29 => {
                    let len = rng.below(20) as usize;
                    let v = rng.bytes(len);
                    db.put(&key, &v).unwrap();
                    model.insert(key, (v, None));
                }
                30..=54 => {
                    let len = rng.below(20) as usize;
                    let v = rng.bytes(len);
                    let at = now + rng.below(40);
                    db.put_expiring_at(&key, &v, at).unwrap();
                    model.insert(key, (v, Some(at)));
                }
                55..=64 => {
                    let r = db.remove(&key);
                    assert_eq!(r.is_ok(), alive(&model), "{ctx}: remove {r:?}");
                    model.remove(&key);
                }
                65..=72 => {
                    let at = now + rng.below(40);
                    let r = db.expire_at(&key, at);
                    assert_eq!(r.is_ok(), alive(&model), "{ctx}: expire {r:?}");
                    if r.is_ok() {
                        model.get_mut(&key).unwrap().1 = Some(at);
                    }
                }
                73..=78 => {
                    let r = db.persist(&key);
                    assert_eq!(r.is_ok(), alive(&model), "{ctx}: persist {r:?}");
                    if let Ok(had) = r {
                        let e = model.get_mut(&key).unwrap();
                        assert_eq!(had, e.1.is_some(), "{ctx}");
                        e.1 = None;
                    }
                }
                79..=90 => clock.advance(rng.below(15)),
                91..=95 => db.compact().unwrap(),
                _ => {
                    db.close().unwrap();
                    db = open(dir.path(), &clock);
                }
            }
            let now = bitask::Clock::now_millis(&*clock);
            let expected = live(&model, now);
            for (k, v) in &expected {
                assert_eq!(db.get(k).unwrap().as_ref(), Some(v), "{ctx}: {k:?}");
            }
            if step % 25 == 0 {
                let listed: Vec<_> = db.iter().map(|r| r.unwrap()).collect();
                assert_eq!(listed, expected, "{ctx}: iteration");
                assert_eq!(db.stats().key_count, expected.len() as u64, "{ctx}");
            }
        }
    }
}

/// The merge thread notices records that expire with no write at all: between writes it
/// looks only at figures that need no record read, and those do not change as keys expire,
/// so it evaluates a store with expiring keys every so many looks anyway.
#[test]
fn the_merge_thread_merges_files_whose_records_expired_without_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let file = 4096;
    let opts = Options::default()
        .max_file_size(file)
        .clock(clock.clone())
        .merge(bitask::MergeOptions {
            check_every: Duration::from_millis(1),
            ..common::eager_merge(file)
        });
    let db = Bitask::open_with(dir.path(), opts).unwrap();
    for i in 0..150u64 {
        db.put_expiring_at(format!("key{i:03}"), [b'v'; 60], T0 + 100)
            .unwrap();
    }
    db.sync().unwrap();
    let sealed = sealed_files(dir.path()).len();
    assert!(sealed > 2, "{sealed} sealed files");
    // Nothing is dead yet: the thread has nothing to merge, however often it looks.
    for _ in 0..200 {
        std::thread::yield_now();
    }
    assert_eq!(db.stats().dead_bytes, 0);
    clock.set(T0 + 100);
    // The thread's own pace: polled, with a bound far beyond the 60 looks it takes.
    let merged = (0..20_000).any(|_| {
        std::thread::sleep(Duration::from_millis(1));
        sealed_files(dir.path()).len() < sealed
    });
    assert!(
        merged,
        "no merge after the records expired: {:?}",
        db.stats()
    );
}
