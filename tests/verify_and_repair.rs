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
fn each_damage(check: impl Fn(&Store, &Path, &str, &str, Damage) -> Result<(), String>) {
    let root = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let store = build(&root.path().join("pristine"));
    let scratch = root.path().join("scratch");
    let mut failures = Vec::new();
    let mut cases = 0;
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
            if let Err(e) = check(&store, &scratch, &name, kind, d) {
                failures.push(format!("{name} ({kind}) {d:?}: {e}"));
            }
        }
    }
    common::report(&format!(
        "{cases} damaged copies, {} failures",
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
    each_damage(|_, dir, name, kind, d| {
        let before = snapshot(dir);
        let report = bitask::verify(dir).map_err(|e| e.to_string())?;
        if snapshot(dir) != before {
            return Err("verify changed the store".into());
        }
        if report.problems.iter().any(|p| p.file == name) {
            return Ok(());
        }
        if !report.is_clean() {
            return Err(format!("problems name other files: {:?}", report.problems));
        }
        // The active file may end as a crash leaves it: a torn last record, or a cut
        // between records (which nothing on disk tells from a crash before the write).
        match (kind, d) {
            ("active", _) if report.torn_bytes > 0 => Ok(()),
            ("active", Damage::Cut(_)) => Ok(()),
            _ => Err(format!("not reported: {report:?}")),
        }
    });
}
