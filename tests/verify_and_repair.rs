//! Verify and repair after every damage of the corruption suite (`tests/corruption.rs`): each
//! byte of a small store's data and hint files flipped, and each file cut at every offset, one
//! damage at a time on a fresh copy. Verify must report each damage (the active file's tail
//! as the torn write a crash leaves), change nothing, and report nothing on the intact store.
//! Repair must leave a store that opens, in which every key reads as its last value, an older
//! value of its own (rolled back, and then reported), or absent (reported), never wrong bytes.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bitask::{Bitask, Options, SyncMode};
use common::{key, value, Content};

fn opts() -> Options {
    Options::default().max_file_size(600).sync(SyncMode::Always)
}

/// Every value each key ever had, and the final content.
struct Store {
    dir: PathBuf,
    model: Content,
    history: BTreeMap<Vec<u8>, Vec<Vec<u8>>>,
}

fn build(dir: &Path) -> Store {
    let db = Bitask::open_with(dir, opts()).unwrap();
    let mut s = Store {
        dir: dir.to_path_buf(),
        model: Content::new(),
        history: BTreeMap::new(),
    };
    let put = |db: &Bitask, s: &mut Store, k: u64, ver: u64| {
        let v = value(&key(k), ver, 14);
        db.put(key(k), &v).unwrap();
        s.history.entry(key(k)).or_default().push(v.clone());
        s.model.insert(key(k), v);
    };
    for k in 0..9 {
        put(&db, &mut s, k, 1);
    }
    put(&db, &mut s, 1, 2);
    db.remove(key(3)).unwrap();
    s.model.remove(&key(3));
    db.compact().unwrap();
    let mut ver = 10;
    for k in (9..20).chain([2, 4, 9]) {
        ver += 1;
        put(&db, &mut s, k, ver);
    }
    db.remove(key(5)).unwrap();
    s.model.remove(&key(5));
    db.close().unwrap();
    s
}

fn files(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let kind = if name.ends_with(".active.log") {
            "active"
        } else if name.ends_with(".hint") {
            "hint"
        } else if name.ends_with(".log") {
            "sealed"
        } else {
            continue;
        };
        out.push((p, kind));
    }
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Every file's bytes, to prove a call changed nothing.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_file())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    Xor(usize, u8),
    Cut(usize),
}

/// Runs `check` on a fresh damaged copy for every damage of every file.
fn each_damage(
    what: &str,
    check: impl Fn(&Store, &Path, &str, &str, Damage) -> Result<&'static str, String>,
) {
    let root = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let store = build(&root.path().join("pristine"));
    let scratch = root.path().join("scratch");
    let mut failures = Vec::new();
    let mut cases = 0;
    let mut outcomes: BTreeMap<&'static str, u64> = BTreeMap::new();
    for (path, kind) in files(&store.dir) {
        let pristine = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let damages = (0..pristine.len())
            .flat_map(|i| [Damage::Xor(i, 0xff), Damage::Xor(i, 0x01), Damage::Cut(i)]);
        for d in damages {
            copy_dir(&store.dir, &scratch);
            let mut bytes = pristine.clone();
            match d {
                Damage::Xor(i, m) => bytes[i] ^= m,
                Damage::Cut(n) => bytes.truncate(n),
            }
            std::fs::write(scratch.join(&name), &bytes).unwrap();
            cases += 1;
            match check(&store, &scratch, &name, kind, d) {
                Ok(label) => *outcomes.entry(label).or_default() += 1,
                Err(e) => failures.push(format!("{name} ({kind}) {d:?}: {e}")),
            }
        }
    }
    let tally: Vec<String> = outcomes.iter().map(|(k, n)| format!("{k} {n}")).collect();
    common::report(&format!(
        "{what}: {cases} damaged copies; {}; failures {}",
        tally.join(", "),
        failures.len()
    ));
    failures.truncate(10);
    common::assert_no_failures(&failures);
}

#[test]
fn verify_reports_nothing_on_an_intact_store() {
    let root = tempfile::tempdir().unwrap();
    let store = build(&root.path().join("db"));
    let before = snapshot(&store.dir);
    let report = bitask::verify(&store.dir).unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.torn_bytes, 0);
    assert!(report.records >= 20 && report.data_files >= 3 && report.hint_files >= 1);
    assert_eq!(snapshot(&store.dir), before, "verify changed the store");
}

#[test]
fn verify_reports_every_damage() {
    each_damage("verify", |_, dir, name, kind, d| {
        let before = snapshot(dir);
        let report = bitask::verify(dir).map_err(|e| e.to_string())?;
        if snapshot(dir) != before {
            return Err("verify changed the store".into());
        }
        if report.problems.iter().any(|p| p.file == name) {
            return Ok("reported");
        }
        if !report.is_clean() {
            return Err(format!("problems name other files: {:?}", report.problems));
        }
        // The active file may end as a crash leaves it: a torn last record, or a cut
        // between records (which nothing on disk tells from a crash before the write).
        match (kind, d) {
            ("active", _) if report.torn_bytes > 0 => Ok("torn tail of the active file"),
            ("active", Damage::Cut(_)) => Ok("active file cut at a record boundary"),
            _ => Err(format!("not reported: {report:?}")),
        }
    });
}

/// After a repair: the store opens; every key reads as its last value, or (only when the
/// report owns up to a loss) as an older value of its own or absent; no key the model lacks
/// is there unless it is an older value of a key the report says was rolled back.
fn judge_repair(store: &Store, dir: &Path, name: &str, kind: &str) -> Result<&'static str, String> {
    let report = bitask::repair(dir).map_err(|e| format!("repair: {e}"))?;
    if !report.remaining.is_empty() {
        return Err(format!("repair left problems: {:?}", report.remaining));
    }
    let clean = bitask::verify(dir).map_err(|e| e.to_string())?;
    if !clean.is_clean() {
        return Err(format!("verify after repair: {:?}", clean.problems));
    }
    let db = Bitask::open_with(dir, opts()).map_err(|e| format!("open after repair: {e}"))?;
    let got = common::read_all(&db).map_err(|e| format!("read after repair: {e}"))?;
    let owned_up = report.records_lost > 0 || report.unreadable_bytes > 0 || kind == "active";
    for (k, v) in &got {
        let ever = store.history.get(k).is_some_and(|h| h.contains(v));
        if !ever {
            return Err(format!(
                "{}: a value it never had",
                String::from_utf8_lossy(k)
            ));
        }
        if store.model.get(k) != Some(v) && !owned_up {
            return Err(format!(
                "{}: an older value, unreported: {report:?}",
                String::from_utf8_lossy(k)
            ));
        }
    }
    let missing = store.model.keys().filter(|k| !got.contains_key(*k)).count();
    let data_file_set_aside = kind != "hint" && report.quarantined.iter().any(|q| q.contains(name));
    if missing > 0 && !owned_up && !data_file_set_aside {
        return Err(format!("{missing} keys lost, unreported: {report:?}"));
    }
    if report.quarantined.iter().any(|q| !dir.join(q).exists()) {
        return Err(format!(
            "a quarantined file is not in quarantine: {report:?}"
        ));
    }
    Ok(if got == store.model {
        "every key as it was"
    } else if missing > 0 {
        "keys lost (reported)"
    } else {
        "keys rolled back (reported)"
    })
}

#[test]
fn repair_leaves_a_store_that_opens_and_holds_no_wrong_value() {
    each_damage("repair", |store, dir, name, kind, _| {
        judge_repair(store, dir, name, kind)
    });
}

#[test]
fn repair_keeps_every_intact_record_around_a_damaged_one() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let db = Bitask::open_with(&dir, Options::default()).unwrap();
    for k in 0..10 {
        db.put(key(k), value(&key(k), 1, 20)).unwrap();
    }
    db.close().unwrap();
    let active = files(&dir)
        .into_iter()
        .find(|(_, k)| *k == "active")
        .unwrap()
        .0;
    let mut bytes = std::fs::read(&active).unwrap();
    // The value of the fourth record: 52-byte file header, records of 29 + 6 + 20 bytes.
    bytes[52 + 3 * 55 + 40] ^= 0xff;
    std::fs::write(&active, &bytes).unwrap();
    assert!(
        Bitask::open_with(&dir, Options::default()).is_err(),
        "damage in the middle of the log"
    );
    let report = bitask::repair(&dir).unwrap();
    assert_eq!(
        (
            report.records_kept,
            report.records_lost,
            report.files_rewritten
        ),
        (9, 1, 1),
        "{report:?}"
    );
    assert_eq!(report.unreadable_bytes, 55);
    assert_eq!(report.quarantined.len(), 1, "{report:?}");
    let db = Bitask::open_with(&dir, Options::default()).unwrap();
    for k in 0..10 {
        let want = (k != 3).then(|| value(&key(k), 1, 20));
        assert_eq!(db.get(key(k)).unwrap(), want, "key {k}");
    }
    drop(db);
    let kept = std::fs::read(dir.join(&report.quarantined[0])).unwrap();
    assert_eq!(
        kept, bytes,
        "the original is kept in quarantine byte for byte"
    );
}

#[test]
fn repair_refuses_a_directory_without_a_store_unchanged() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("notes.txt"), b"hello").unwrap();
    let before = snapshot(root.path());
    assert!(matches!(
        bitask::repair(root.path()),
        Err(bitask::Error::Incompatible { .. })
    ));
    assert_eq!(snapshot(root.path()), before);
}

/// Where a batch lies in the first data file `batch_store` writes: after the 52-byte file
/// header and five records of 29 + 6 + 20 bytes, its members (a put of key 10, a deletion
/// of key 2, a put of key 11: 55, 35 and 55 bytes), then its commit (29 + 16 bytes).
const BATCH_AT: usize = 52 + 5 * 55;
const DELETION_AT: usize = BATCH_AT + 55;
const COMMIT_AT: usize = BATCH_AT + 55 + 35 + 55;

/// Five puts (keys 0 to 4), a batch (put 10, remove 2, put 11), five puts (keys 12 to 16);
/// with `sealed`, 40 more puts (keys 20 to 59), so the first file is sealed and hinted.
/// Returns the content without the batch, and the first data file.
fn batch_store(dir: &Path, sealed: bool) -> (Content, PathBuf) {
    let db = Bitask::open_with(dir, Options::default().max_file_size(2000)).unwrap();
    let mut model = Content::new();
    let mut put = |db: &Bitask, k: u64| {
        let v = value(&key(k), 1, 20);
        db.put(key(k), &v).unwrap();
        model.insert(key(k), v);
    };
    (0..5).for_each(|k| put(&db, k));
    let mut batch = bitask::WriteBatch::new();
    batch.put(key(10), value(&key(10), 1, 20)).unwrap();
    batch.remove(key(2)).unwrap();
    batch.put(key(11), value(&key(11), 1, 20)).unwrap();
    db.write(&batch).unwrap();
    (12..17).for_each(|k| put(&db, k));
    if sealed {
        (20..60).for_each(|k| put(&db, k));
    }
    db.close().unwrap();
    let first = files(dir).into_iter().find(|(_, k)| *k != "hint").unwrap();
    assert_eq!(first.1, if sealed { "sealed" } else { "active" });
    (model, first.0)
}

/// Damages the byte at `at` of `file`, checks that verify reports the batch, repairs, and
/// checks the repaired store: it opens, holds `model` exactly (nothing of the batch), and the
/// report counts the batch's three operations lost.
fn repair_drops_the_batch(dir: &Path, model: &Content, file: &Path, at: usize) {
    let mut bytes = std::fs::read(file).unwrap();
    bytes[at] ^= 0xff;
    std::fs::write(file, &bytes).unwrap();
    let found = bitask::verify(dir).unwrap();
    assert!(
        found.problems.iter().any(|p| p.reason.contains("batch")),
        "{:?}",
        found.problems
    );
    let hinted = std::fs::read_dir(dir)
        .unwrap()
        .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".hint"));
    let report = bitask::repair(dir).unwrap();
    assert!(report.records_lost >= 3, "{report:?}");
    if hinted {
        // Keys 10 and 11 had no other record; key 2 reads as before the batch.
        assert!(report.keys_lost >= 2, "{report:?}");
    }
    assert!(report.remaining.is_empty(), "{report:?}");
    let db = Bitask::open_with(dir, Options::default().max_file_size(2000)).unwrap();
    let content = common::read_all(&db).unwrap();
    assert_eq!(content, *model, "{report:?}");
    drop(db);
    assert!(bitask::verify(dir).unwrap().is_clean());
}

#[test]
fn repair_drops_a_batch_whose_commit_is_damaged_in_a_sealed_file() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let (model, first) = batch_store(&dir, true);
    repair_drops_the_batch(&dir, &model, &first, COMMIT_AT + 35);
}

#[test]
fn repair_drops_a_batch_whose_commit_is_damaged_in_the_active_file() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let (model, first) = batch_store(&dir, false);
    repair_drops_the_batch(&dir, &model, &first, COMMIT_AT + 35);
}

#[test]
fn repair_drops_a_batch_with_a_damaged_member_and_writes_none_of_its_deletions_again() {
    // In a sealed file whose hint names the batch's deletion: written again from the hint
    // alone, it would apply one operation of the batch without the others.
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let (model, first) = batch_store(&dir, true);
    repair_drops_the_batch(&dir, &model, &first, DELETION_AT + 30);
}

#[test]
fn repair_drops_a_batch_whose_first_member_is_damaged() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let (model, first) = batch_store(&dir, false);
    repair_drops_the_batch(&dir, &model, &first, BATCH_AT + 40);
}

#[test]
fn verify_and_repair_leave_a_store_with_whole_batches_alone() {
    for sealed in [false, true] {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("db");
        batch_store(&dir, sealed);
        let found = bitask::verify(&dir).unwrap();
        assert!(found.is_clean(), "{:?}", found.problems);
        let before = snapshot(&dir);
        let report = bitask::repair(&dir).unwrap();
        assert_eq!(report.files_rewritten, 0, "{report:?}");
        assert_eq!(snapshot(&dir), before);
    }
}

#[test]
fn a_batch_cut_short_at_the_end_of_the_active_file_is_a_torn_tail() {
    // What a crash in the batch's write leaves: its members, part of its commit, nothing
    // after. Not a problem: the next open cuts the file where the batch starts.
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let db = Bitask::open_with(&dir, Options::default()).unwrap();
    let mut model = Content::new();
    for k in 0..5 {
        db.put(key(k), value(&key(k), 1, 20)).unwrap();
        model.insert(key(k), value(&key(k), 1, 20));
    }
    let mut batch = bitask::WriteBatch::new();
    batch.put(key(10), value(&key(10), 1, 20)).unwrap();
    batch.remove(key(2)).unwrap();
    batch.put(key(11), value(&key(11), 1, 20)).unwrap();
    db.write(&batch).unwrap();
    db.close().unwrap();
    let (active, _) = files(&dir)
        .into_iter()
        .find(|(_, k)| *k == "active")
        .unwrap();
    let bytes = std::fs::read(&active).unwrap();
    std::fs::write(&active, &bytes[..COMMIT_AT + 20]).unwrap();
    let found = bitask::verify(&dir).unwrap();
    assert!(found.is_clean(), "{:?}", found.problems);
    // The members count as the tail, not as records.
    assert_eq!(found.records, 5, "{found:?}");
    assert!(found.torn_bytes > 0, "{found:?}");
    let report = bitask::repair(&dir).unwrap();
    assert_eq!(report.files_rewritten, 0, "{report:?}");
    let db = Bitask::open_with(&dir, Options::default()).unwrap();
    assert_eq!(common::read_all(&db).unwrap(), model);
}
