//! Ordered scans checked against a `BTreeMap`: random bounds, prefixes, directions and seeks,
//! on a store of few keys and tiny files, so that rotations and compactions happen all the
//! time; between scans the store is written, compacted and reopened. A second scenario has
//! a writer in another process (this test binary, re-run with `BITASK_SCAN_ROLE` set) that
//! is killed with SIGKILL after each round of writes, while this process scans through a
//! read-only handle that it refreshes, or opens afresh, after each round.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::ops::Bound;
use std::process::{Command, Stdio};

use bitask::{Bitask, Options, ScanOptions, SyncMode};
use common::Rng;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Bytes keys are made of: few, so that prefixes and bounds fall between keys and on them,
/// and the extremes, so that bytewise order is tested where signed order would differ.
const ALPHABET: [u8; 4] = [0x00, b'a', b'b', 0xff];

fn random_key(rng: &mut Rng, max_len: u64) -> Vec<u8> {
    let len = 1 + rng.below(max_len);
    (0..len).map(|_| ALPHABET[rng.below(4) as usize]).collect()
}

fn random_bound(rng: &mut Rng) -> Bound<Vec<u8>> {
    match rng.below(3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(random_key(rng, 3)),
        _ => Bound::Excluded(random_key(rng, 3)),
    }
}

/// What the scan should yield, in its order, by the model's own range functions.
fn expected(
    model: &Model,
    lower: &Bound<Vec<u8>>,
    upper: &Bound<Vec<u8>>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let empty = match (lower, upper) {
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
            a > b
                || (a == b
                    && !(matches!(lower, Bound::Included(_))
                        && matches!(upper, Bound::Included(_))))
        }
        _ => false,
    };
    if empty {
        return Vec::new();
    }
    model
        .range::<Vec<u8>, _>((lower.clone(), upper.clone()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Runs one random scan with random seeks on `db` and compares every item with the model.
fn check_scan(db: &Bitask, model: &Model, rng: &mut Rng, ctx: &str) {
    let prefix = if rng.pct(40) {
        random_key(rng, 2)
    } else {
        Vec::new()
    };
    let (lower, upper) = (random_bound(rng), random_bound(rng));
    let (reverse, keys_only) = (rng.pct(50), rng.pct(30));
    let o = ScanOptions::new()
        .prefix(&prefix)
        .lower(lower.as_ref().map(Vec::as_slice))
        .upper(upper.as_ref().map(Vec::as_slice))
        .reverse(reverse)
        .keys_only(keys_only);
    let mut want: Vec<(Vec<u8>, Vec<u8>)> = expected(model, &lower, &upper)
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(k, v)| (k, if keys_only { Vec::new() } else { v }))
        .collect();
    if reverse {
        want.reverse();
    }
    let mut it = db.range(o.clone());
    let mut pos = 0;
    let (mut k, mut v) = (Vec::new(), Vec::new());
    for step in 0..want.len() + 3 {
        if rng.pct(15) {
            let target = random_key(rng, 3);
            it.seek(&target);
            pos = want
                .iter()
                .position(|(k, _)| if reverse { *k <= target } else { *k >= target })
                .unwrap_or(want.len());
        }
        let got = it.next_into(&mut k, &mut v).unwrap();
        let item = got.then(|| (k.clone(), v.clone()));
        assert_eq!(
            item.as_ref(),
            want.get(pos),
            "{ctx}: step {step} of scan {o:?}: expected {:?}",
            want.get(pos)
        );
        pos = (pos + 1).min(want.len());
    }
}

fn opts() -> Options {
    Options::default().max_file_size(256).sync(SyncMode::None)
}

fn write_random(db: &Bitask, model: &mut Model, rng: &mut Rng, n: u64) {
    for i in 0..n {
        let key = random_key(rng, 3);
        if rng.pct(25) {
            let removed = db.remove(&key);
            assert_eq!(
                removed.is_ok(),
                model.remove(&key).is_some(),
                "remove {key:?}"
            );
        } else {
            let val = format!("{i}:{}", rng.below(1 << 20)).into_bytes();
            db.put(&key, &val).unwrap();
            model.insert(key, val);
        }
    }
}

#[test]
fn scans_agree_with_the_model_across_rotations_compactions_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(common::seed(17));
    let mut model = Model::new();
    let mut db = Bitask::open_with(dir.path(), opts()).unwrap();
    let rounds = if common::soak() { 2000 } else { 150 };
    for round in 0..rounds {
        let writes = 1 + rng.below(30);
        write_random(&db, &mut model, &mut rng, writes);
        match rng.below(10) {
            0 => db.compact().unwrap(),
            1 => {
                db.close().unwrap();
                db = Bitask::open_with(dir.path(), opts()).unwrap();
            }
            _ => {}
        }
        for _ in 0..4 {
            check_scan(&db, &model, &mut rng, &format!("round {round}"));
        }
    }
}

#[test]
fn an_iterator_keeps_its_keys_across_compaction_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitask::open_with(dir.path(), opts()).unwrap();
    let mut rng = Rng::new(common::seed(18));
    let mut model = Model::new();
    write_random(&db, &mut model, &mut rng, 300);
    for reverse in [false, true] {
        let mut it = db.range(ScanOptions::new().reverse(reverse));
        let mut got = Vec::new();
        let (mut k, mut v) = (Vec::new(), Vec::new());
        while it.next_into(&mut k, &mut v).unwrap() {
            got.push((k.clone(), v.clone()));
            if got.len() % 7 == 0 {
                db.compact().unwrap();
                // Rewrites of unchanged values rotate files under the iterator.
                for (key, val) in model.iter().take(10) {
                    db.put(key, val).unwrap();
                }
            }
        }
        let mut want: Vec<_> = model.clone().into_iter().collect();
        if reverse {
            want.reverse();
        }
        assert_eq!(got, want, "reverse {reverse}");
    }
}

// --- a writer in another process, killed after each round ------------------------------

const ROUNDS: u64 = 12;

/// The writes of round `round`, the same in the writer and in the checking process.
fn round_writes(round: u64) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut rng = Rng::new(common::seed(19) ^ round.wrapping_mul(0x9e37_79b9));
    (0..40 + rng.below(40))
        .map(|i| {
            let key = random_key(&mut rng, 3);
            let val = (!rng.pct(25)).then(|| format!("r{round}.{i}").into_bytes());
            (key, val)
        })
        .collect()
}

#[test]
fn scan_writer_child() {
    let (Ok(dir), Ok(round)) = (
        std::env::var("BITASK_SCAN_DIR"),
        std::env::var("BITASK_SCAN_ROLE"),
    ) else {
        return;
    };
    let round: u64 = round.parse().unwrap();
    let db = Bitask::open_with(&dir, opts()).unwrap();
    for (key, val) in round_writes(round) {
        match val {
            Some(v) => db.put(&key, &v).unwrap(),
            None => {
                let _ = db.remove(&key);
            }
        }
    }
    if round % 3 == 2 {
        db.compact().unwrap();
    }
    println!("@@ done");
    // Wait to be killed: the handle is never closed.
    std::thread::sleep(std::time::Duration::from_secs(600));
}

#[test]
fn a_reader_scans_what_a_killed_writer_of_another_process_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    // The store exists before the reader opens it.
    Bitask::open_with(dir.path(), opts())
        .unwrap()
        .close()
        .unwrap();
    let ro = || Bitask::open_with(dir.path(), opts().read_only(true)).unwrap();
    let mut reader = ro();
    let mut model = Model::new();
    let mut rng = Rng::new(common::seed(20));
    let exe = std::env::current_exe().unwrap();
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "scan_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("BITASK_SCAN_DIR", dir.path())
            .env("BITASK_SCAN_ROLE", round.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let done = out
            .lines()
            .map_while(|l| l.ok())
            .any(|l| l.contains("@@ done"));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(done, "round {round}: the writer did not finish");
        for (key, val) in round_writes(round) {
            match val {
                Some(v) => model.insert(key, v),
                None => model.remove(&key),
            };
        }
        if round % 4 == 3 {
            reader = ro();
        } else {
            reader.refresh().unwrap();
        }
        for _ in 0..8 {
            check_scan(&reader, &model, &mut rng, &format!("round {round}"));
        }
    }
    // The writer's next open recovers what the killed one left, and agrees.
    let db = Bitask::open_with(dir.path(), opts()).unwrap();
    for _ in 0..20 {
        check_scan(&db, &model, &mut rng, "after recovery");
    }
}

#[test]
fn scans_made_during_compactions_see_every_key_live_all_along() {
    let dir = tempfile::tempdir().unwrap();
    let db = std::sync::Arc::new(Bitask::open_with(dir.path(), opts()).unwrap());
    let mut rng = Rng::new(common::seed(21));
    let mut model = Model::new();
    write_random(&db, &mut model, &mut rng, 400);
    db.compact().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let (db, stop, model) = (db.clone(), stop.clone(), model.clone());
        std::thread::spawn(move || {
            let mut rounds = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || rounds < 20 {
                // The same values again: the content never changes, its files do.
                for (key, val) in model.iter().take(15) {
                    db.put(key, val).unwrap();
                }
                db.compact().unwrap();
                rounds += 1;
            }
        })
    };
    let scans = if common::soak() { 2000 } else { 300 };
    for i in 0..scans {
        check_scan(
            &db,
            &model,
            &mut rng,
            &format!("scan {i} beside compactions"),
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    churn.join().unwrap();
}
