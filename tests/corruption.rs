//! Corruption: every byte of a small store's files flipped (XOR 0xff, and XOR 0x01), and each
//! file cut at every offset, one damage at a time on a fresh copy. The store is opened for
//! writing and every key read; each outcome must be one of:
//! - the correct data;
//! - `Error::Corruption` naming the damaged file and an offset inside it (at open, or when the
//!   damaged record is read);
//! - for the active file only, what a crash could leave: a damaged or cut last record is a
//!   torn tail (counted in `Stats::torn_bytes`), a cut at a record boundary loses the records
//!   after it, and the content is the model before those records.
//!
//! Never wrong data, a missing key, a key back from the dead, a panic or a hang. A sealed
//! file cut exactly at a record boundary is caught too: every sealed file ends with its seal
//! record.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bitask::{Bitask, Error, Options, SyncMode};
use common::{key, value, Content};

fn opts() -> Options {
    Options::default().max_file_size(600).sync(SyncMode::Always)
}

/// The pristine store: its directory, the model, and the model before each record of the
/// active file (for torn tails), plus the record boundaries of each data file.
struct Store {
    dir: PathBuf,
    model: Content,
    /// Content before the last `n` records of the active file, for n = 0, 1, ...
    active_prefixes: Vec<Content>,
}

fn build(dir: &Path) -> Store {
    let db = Bitask::open_with(dir, opts()).unwrap();
    let mut model = Content::new();
    let mut history: Vec<Content> = Vec::new();
    let put = |db: &Bitask, model: &mut Content, history: &mut Vec<Content>, k: u64, ver: u64| {
        history.push(model.clone());
        let v = value(&key(k), ver, 14);
        db.put(key(k), &v).unwrap();
        model.insert(key(k), v);
    };
    for k in 0..9 {
        put(&db, &mut model, &mut history, k, 1);
    }
    put(&db, &mut model, &mut history, 1, 2);
    db.remove(key(3)).unwrap();
    model.remove(&key(3));
    // A merge output with its hint file.
    db.compact().unwrap();
    // A file sealed by rotation (its hint written by the seal), then the active file.
    let mut ver = 10;
    history.clear();
    for k in (9..20).chain([2, 4, 9]) {
        ver += 1;
        put(&db, &mut model, &mut history, k, ver);
    }
    history.push(model.clone());
    db.remove(key(5)).unwrap();
    model.remove(&key(5));
    history.push(model.clone());
    db.close().unwrap();
    history.reverse();
    Store {
        dir: dir.to_path_buf(),
        model,
        active_prefixes: history,
    }
}

#[derive(Default, Debug)]
struct Tally {
    cases: u64,
    correct: u64,
    corruption_at_open: u64,
    corruption_at_read: u64,
    torn: u64,
    failures: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Damage {
    Xor(usize, u8),
    Cut(usize),
}

/// What the files of a directory are.
fn classify(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        // Compaction outputs name their part count in their header (bytes 44..48).
        let merged = |p: &Path| std::fs::read(p).unwrap()[44..48] != [0; 4];
        let kind = if name.ends_with(".active.log") {
            "active"
        } else if name.ends_with(".hint") {
            "hint"
        } else if name.ends_with(".log") && merged(&p) {
            "merged"
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
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Opens the damaged copy and judges the outcome. `Ok(label)` names an accepted outcome.
fn judge(
    store: &Store,
    dir: &Path,
    file: &Path,
    kind: &str,
    len: usize,
) -> Result<&'static str, String> {
    let names_file = |e: &Error| matches!(e, Error::Corruption { path, offset, .. } if path == file && *offset <= len as u64);
    let db = match Bitask::open_with(dir, opts()) {
        Ok(db) => db,
        Err(e) if kind != "hint" && names_file(&e) => return Ok("corruption at open"),
        Err(e) => return Err(format!("open: {e:?}")),
    };
    let mut got = Content::new();
    let mut reported = false;
    for item in db.iter() {
        match item {
            Ok((k, v)) => {
                got.insert(k, v);
            }
            Err(e) if names_file(&e) => {
                reported = true;
                break;
            }
            Err(e) => return Err(format!("iterate: {e:?}")),
        }
    }
    // Both ways to read a value: `get` finds the record's length in the key directory,
    // `get_into` (what the C API calls) in the record's header when the file is mapped.
    let get_into = |k: &[u8]| {
        let mut buf = [0u8; 256];
        let len = db.get_into(k, &mut buf)?;
        Ok(len.map(|n| buf[..n].to_vec()))
    };
    for ((k, v), via_header) in store.model.iter().flat_map(|kv| [(kv, false), (kv, true)]) {
        let read = if via_header { get_into(k) } else { db.get(k) };
        match read {
            Ok(Some(g)) if &g == v => {}
            Err(e) if names_file(&e) => reported = true,
            other => {
                // Only the active file may lose its last records (a torn tail, or a crash).
                let torn = db.stats().torn_bytes > 0;
                if kind == "active" && store.active_prefixes.iter().any(|p| p == &got) {
                    return Ok(if torn {
                        "torn tail"
                    } else {
                        "cut at a record boundary of the active file"
                    });
                }
                return Err(format!(
                    "get({}) = {:?}, expected {:?}",
                    String::from_utf8_lossy(k),
                    other.map(|o| o.map(|v| String::from_utf8_lossy(&v).into_owned())),
                    String::from_utf8_lossy(v)
                ));
            }
        }
    }
    if reported {
        return Ok("corruption at read");
    }
    if got != store.model && kind == "active" && store.active_prefixes.contains(&got) {
        return Ok("lost tail of the active file");
    }
    if got != store.model {
        return Err(format!(
            "iteration gave {} keys, the model has {}",
            got.len(),
            store.model.len()
        ));
    }
    Ok("correct")
}

fn run(damages: impl Fn(usize) -> Vec<Damage>, what: &str) {
    let root = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let store = std::sync::Arc::new(build(&root.path().join("pristine")));
    let files = classify(&store.dir);
    let kinds: Vec<&str> = files.iter().map(|(_, k)| *k).collect();
    for k in ["merged", "hint", "sealed", "active"] {
        assert!(kinds.contains(&k), "the store lacks a {k} file: {files:?}");
    }
    let mut t = Tally::default();
    let scratch = root.path().join("scratch");
    for (path, kind) in &files {
        let pristine = std::fs::read(path).unwrap();
        let name = path.file_name().unwrap().to_owned();
        for d in damages(pristine.len()) {
            copy_dir(&store.dir, &scratch);
            let target = scratch.join(&name);
            let mut bytes = pristine.clone();
            match d {
                Damage::Xor(i, m) => bytes[i] ^= m,
                Damage::Cut(n) => bytes.truncate(n),
            }
            std::fs::write(&target, &bytes).unwrap();
            t.cases += 1;
            let (s, dir, tgt, kind2, len) = (
                store.clone(),
                scratch.clone(),
                target.clone(),
                *kind,
                pristine.len(),
            );
            let outcome = common::within(
                Duration::from_secs(20),
                format!("{kind} file {d:?}"),
                move || {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        judge(&s, &dir, &tgt, kind2, len)
                    }))
                    .unwrap_or_else(|p| Err(format!("panic: {:?}", p.downcast_ref::<String>())))
                },
            );
            match outcome {
                Ok("correct") => t.correct += 1,
                Ok("corruption at open") => t.corruption_at_open += 1,
                Ok("corruption at read") => t.corruption_at_read += 1,
                Ok(_) => t.torn += 1,
                Err(e) => {
                    if t.failures.len() < 10 {
                        t.failures.push(format!(
                            "{kind} file {}: {d:?}: {e}",
                            name.to_string_lossy()
                        ));
                    }
                }
            }
        }
    }
    common::report(&format!(
        "corruption {what}: {} damaged copies of {} files ({}); correct data {}, Corruption at open {}, Corruption at read {}, active-file tail lost as a crash would {}; wrong data/panics/hangs {}",
        t.cases,
        files.len(),
        kinds.join(", "),
        t.correct,
        t.corruption_at_open,
        t.corruption_at_read,
        t.torn,
        t.failures.len()
    ));
    common::assert_no_failures(&t.failures);
}

#[test]
fn every_byte_flipped() {
    run(
        |len| {
            (0..len)
                .flat_map(|i| [Damage::Xor(i, 0xff), Damage::Xor(i, 0x01)])
                .collect()
        },
        "flips",
    );
}

#[test]
fn cut_at_every_offset() {
    run(|len| (0..len).map(Damage::Cut).collect(), "cuts");
}
