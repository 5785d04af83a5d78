//! Upgrades of stores written by the real bitask 0.1.1, the published crate this one succeeds.
//!
//! The stores are written by a small program made on first use in a scratch Cargo package
//! under the target directory (`<target>/upgrade-0.1.1-writer/`, never committed), which
//! depends on `bitask = "=0.1.1"` from crates.io and runs a script of puts, removes,
//! compactions and reopens (`WRITER_MAIN` below). Each case compares the upgraded store's
//! whole content with a model of the script (the last write wins), checks that the backup
//! folder holds the files 0.1.1 wrote byte for byte and that a second upgrade is refused
//! without a change; one case fails the upgrade at every file operation in turn and checks
//! that a rerun finishes it.
//!
//! When neither crates.io nor Cargo's cache can provide bitask 0.1.1, each test says on
//! standard error that it skipped and why, and passes; under `CI=true` it fails instead.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard};

use bitask::upgrade::{upgrade_with, BACKUP_DIR, STAGING_DIR};
use bitask::vfs::fault::{Fault, FaultVfs, Plan};
use bitask::vfs::PosixVfs;
use bitask::{Bitask, Error, Options, UpgradeReport};
use common::{read_all, Content};

/// 4 MiB: a put past this size makes 0.1.1 rotate its active file.
const BIG: usize = 4 * 1024 * 1024;

const WRITER_MANIFEST: &str = r#"# Made by bitask's tests/upgrade_0_1_1.rs: writes stores with bitask 0.1.1.
[package]
name = "upgrade-0-1-1-writer"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
bitask = "=0.1.1"

[workspace]
"#;

const WRITER_MAIN: &str = r#"//! Writes a store with bitask 0.1.1 (made by bitask's tests/upgrade_0_1_1.rs).
//!
//! writer DIR < SCRIPT, one command a line:
//!   put KEY VALUE | big KEY LEN SEED | del KEY | burst KEY COUNT | compact | reopen | sleep MS
use std::io::BufRead;

fn big(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add((i % 251) as u8)).collect()
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: writer DIR < SCRIPT");
    let open = || bitask::db::Bitask::open(&dir).expect("open");
    let mut db = open();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("reading the script");
        let w: Vec<&str> = line.split_whitespace().collect();
        let key = |k: &str| k.as_bytes().to_vec();
        match w.as_slice() {
            [] => {}
            ["put", k, v] => db.put(key(k), key(v)).expect("put"),
            ["big", k, len, seed] => db
                .put(key(k), big(len.parse().unwrap(), seed.parse().unwrap()))
                .expect("put"),
            ["del", k] => db.remove(key(k)).expect("remove"),
            ["burst", k, n] => {
                for i in 0..n.parse::<u32>().unwrap() {
                    db.put(key(k), format!("{k}#{i}").into_bytes()).expect("put");
                }
            }
            ["compact"] => db.compact().expect("compact"),
            ["reopen"] => {
                drop(db);
                db = open();
            }
            ["sleep", ms] => std::thread::sleep(std::time::Duration::from_millis(ms.parse().unwrap())),
            _ => panic!("unknown command: {line}"),
        }
    }
}
"#;

/// The same values as the writer's `big`.
fn big(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add((i % 251) as u8))
        .collect()
}

/// What the script leaves in a store: the last write of each key wins.
fn model(script: &str) -> Content {
    let mut m = Content::new();
    for line in script.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let key = |k: &str| k.as_bytes().to_vec();
        match w.as_slice() {
            ["put", k, v] => {
                m.insert(key(k), key(v));
            }
            ["big", k, len, seed] => {
                m.insert(key(k), big(len.parse().unwrap(), seed.parse().unwrap()));
            }
            ["del", k] => {
                m.remove(&key(k));
            }
            ["burst", k, n] => {
                let last = n.parse::<u32>().unwrap() - 1;
                m.insert(key(k), format!("{k}#{last}").into_bytes());
            }
            _ => {}
        }
    }
    m
}

fn target_dir() -> PathBuf {
    // This test runs as <target>/<profile>/deps/<name>.
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// Writes `text` to `path` unless it holds it already (cargo compares time stamps).
fn put_file(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text)?;
    }
    Ok(())
}

/// Builds the writer; why not, when it cannot be built.
fn build_writer() -> Result<PathBuf, String> {
    let pkg = target_dir().join("upgrade-0.1.1-writer");
    std::fs::create_dir_all(pkg.join("src")).map_err(|e| e.to_string())?;
    put_file(&pkg.join("Cargo.toml"), WRITER_MANIFEST).map_err(|e| e.to_string())?;
    put_file(&pkg.join("src/main.rs"), WRITER_MAIN).map_err(|e| e.to_string())?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = |offline: bool| {
        let mut cmd = Command::new(&cargo);
        cmd.args(["build", "--quiet", "--manifest-path"])
            .arg(pkg.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", pkg.join("target"));
        if offline {
            cmd.arg("--offline");
        }
        cmd.output()
    };
    let online = build(false).map_err(|e| format!("running {cargo}: {e}"))?;
    if online.status.success() {
        return Ok(pkg.join("target/debug/upgrade-0-1-1-writer"));
    }
    // The registry out of reach: what an earlier fetch left in Cargo's cache may do.
    let offline = build(true).map_err(|e| format!("running {cargo}: {e}"))?;
    if offline.status.success() {
        return Ok(pkg.join("target/debug/upgrade-0-1-1-writer"));
    }
    Err(format!(
        "cargo cannot build {} with bitask 0.1.1 (online: {}; offline, from Cargo's cache: {})",
        pkg.display(),
        first_error(&online.stderr),
        first_error(&offline.stderr)
    ))
}

/// What cargo said went wrong: its first error line.
fn first_error(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.clone().find(|l| l.starts_with("error"));
    first
        .or_else(|| lines.next_back())
        .unwrap_or("no message")
        .to_string()
}

/// The writer program, or `None` (after saying why) when the test is to be skipped.
fn writer() -> Option<&'static Path> {
    static WRITER: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match WRITER.get_or_init(build_writer) {
        Ok(p) => Some(p),
        Err(why) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true and bitask 0.1.1 is not to be had: {why}"
            );
            // Past the test harness's capture, so that the skip shows.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED upgrade test with bitask 0.1.1: {why}"
            );
            None
        }
    }
}

/// Held to start a process (for writing), and while taking and releasing writer locks (for
/// reading): a process being started holds a copy of every file descriptor of this one until
/// it runs its program, and with it the `flock` of a lock file a test has just closed, so an
/// open right after could find the store locked.
static STARTING: RwLock<()> = RwLock::new(());

fn no_process_starting() -> RwLockReadGuard<'static, ()> {
    STARTING.read().unwrap_or_else(|p| p.into_inner())
}

/// A store that bitask 0.1.1 wrote by running `script`.
fn written_by_0_1_1(script: &str) -> Option<tempfile::TempDir> {
    let exe = writer()?;
    let dir = tempfile::tempdir().unwrap();
    let starting = STARTING.write().unwrap_or_else(|p| p.into_inner());
    // Returns once the child runs its program, which closed the descriptors (O_CLOEXEC).
    let mut child = Command::new(exe)
        .arg(dir.path())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    drop(starting);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "the 0.1.1 writer failed");
    Some(dir)
}

/// The regular files directly in `dir`, by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            let name = e.file_name().into_string().unwrap();
            out.insert(name, std::fs::read(e.path()).unwrap());
        }
    }
    out
}

/// Every file under `dir`, by path relative to it.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else {
                let rel = e.path().strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

/// A record in a 0.1.1 file, read by this test on its own terms.
#[derive(Clone, Debug)]
struct Rec {
    offset: usize,
    len: usize,
    ts: u64,
    key: Vec<u8>,
    value_len: usize,
}

/// The records of a file 0.1.1 wrote whole.
fn records(data: &[u8]) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let u32_at = |i: usize| u32::from_le_bytes(data[pos + i..pos + i + 4].try_into().unwrap());
        let ts = u64::from_le_bytes(data[pos + 4..pos + 12].try_into().unwrap());
        let (klen, vlen) = (u32_at(12) as usize, u32_at(16) as usize);
        let len = 20 + klen + vlen;
        assert_eq!(
            crc32fast::hash(&data[pos + 20..pos + len]),
            u32_at(0),
            "at {pos}"
        );
        out.push(Rec {
            offset: pos,
            len,
            ts,
            key: data[pos + 20..pos + 20 + klen].to_vec(),
            value_len: vlen,
        });
        pos += len;
    }
    out
}

fn is_data_file(name: &str) -> bool {
    name.ends_with(".log")
}

fn active_file(dir: &Path) -> PathBuf {
    let names: Vec<String> = files(dir)
        .into_keys()
        .filter(|n| n.ends_with(".active.log"))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    dir.join(&names[0])
}

/// Sealed and active data files, by name.
fn data_files(dir: &Path) -> (Vec<u64>, Vec<u64>) {
    let mut sealed = Vec::new();
    let mut active = Vec::new();
    for n in files(dir).into_keys().filter(|n| is_data_file(n)) {
        match n.strip_suffix(".active.log") {
            Some(id) => active.push(id.parse().unwrap()),
            None => sealed.push(n.strip_suffix(".log").unwrap().parse().unwrap()),
        }
    }
    sealed.sort();
    (sealed, active)
}

/// Upgrades `dir` and checks everything a finished upgrade promises; returns the report.
fn upgrade_and_check(dir: &Path, want: &Content) -> UpgradeReport {
    let _locks = no_process_starting();
    let original: BTreeMap<String, Vec<u8>> = files(dir)
        .into_iter()
        .filter(|(n, _)| is_data_file(n))
        .collect();
    let report = bitask::upgrade(dir).unwrap();
    assert_eq!(report.keys_converted, want.len() as u64);
    assert_eq!(report.files.len(), original.len());
    check_upgraded(dir, &original, want);
    report
}

fn check_upgraded(dir: &Path, original: &BTreeMap<String, Vec<u8>>, want: &Content) {
    {
        let db = Bitask::open(dir).unwrap();
        assert_eq!(
            &read_all(&db).unwrap(),
            want,
            "the upgraded store's content"
        );
        db.close().unwrap();
        let ro = Bitask::open_with(dir, Options::default().read_only(true)).unwrap();
        assert_eq!(&read_all(&ro).unwrap(), want, "read-only");
    }
    assert_eq!(
        &files(&dir.join(BACKUP_DIR)),
        original,
        "the backup holds the 0.1.1 files byte for byte"
    );
    assert!(!dir.join(STAGING_DIR).exists());
    let before = tree(dir);
    let err = bitask::upgrade(dir).unwrap_err();
    assert!(matches!(err, Error::Incompatible { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("already holds a store of this format"),
        "{err}"
    );
    assert_eq!(tree(dir), before, "a second upgrade changed the directory");
}

fn parsed_counts(dir: &Path) -> (u64, u64) {
    let mut records_read = 0;
    let mut tombstones = 0;
    for (name, data) in files(dir) {
        if is_data_file(&name) {
            for r in records(&data) {
                records_read += 1;
                tombstones += (r.value_len == 0) as u64;
            }
        }
    }
    (records_read, tombstones)
}

const PLAIN: &str = "put a 1
put b 2
put c 3
put a 4
del b
reopen
put d 5
del c
put c 6
put b 7
del d
del never-there
reopen
put e 8
put e 9
";

#[test]
fn a_plain_store_with_overwrites_and_deletes() {
    let Some(store) = written_by_0_1_1(PLAIN) else {
        return;
    };
    let dir = store.path();
    let (sealed, active) = data_files(dir);
    assert!(sealed.is_empty() && active.len() == 1);
    let (records_read, tombstones) = parsed_counts(dir);
    assert_eq!((records_read, tombstones), (13, 4));
    let report = upgrade_and_check(dir, &model(PLAIN));
    assert_eq!((report.records_read, report.tombstones), (13, 4));
    assert!(report.regions.is_empty(), "{:?}", report.regions);
}

#[test]
fn a_store_after_0_1_1_compacted_it() {
    let script = format!(
        "put a 1
big big1 {BIG} 1
put b 2
put a 3
big big2 {BIG} 2
put c 4
del b
sleep 3
compact
put d 5
put a 6
"
    );
    let Some(store) = written_by_0_1_1(&script) else {
        return;
    };
    let dir = store.path();
    // 0.1.1's compaction leaves one sealed file, named after the active one, beside it.
    let (sealed, active) = data_files(dir);
    assert_eq!(
        (sealed.len(), active.len()),
        (1, 1),
        "{sealed:?} {active:?}"
    );
    assert!(sealed[0] > active[0]);
    let (records_read, tombstones) = parsed_counts(dir);
    let report = upgrade_and_check(dir, &model(&script));
    assert_eq!(
        (report.records_read, report.tombstones),
        (records_read, tombstones)
    );
    assert!(report.regions.is_empty());
}

#[test]
fn a_store_that_0_1_1_compacted_and_then_rotated() {
    // The file active during the compaction is sealed later under a name smaller than the
    // compaction's output, and holds newer values of keys that output holds.
    let script = format!(
        "put a 1
put z 1
big big1 {BIG} 1
put b 2
sleep 3
compact
put a 2
del z
big big2 {BIG} 2
put e 5
"
    );
    let Some(store) = written_by_0_1_1(&script) else {
        return;
    };
    let dir = store.path();
    let (sealed, active) = data_files(dir);
    assert_eq!(
        (sealed.len(), active.len()),
        (2, 1),
        "{sealed:?} {active:?}"
    );
    let want = model(&script);
    assert_eq!(want.get(&b"a"[..]).map(Vec::as_slice), Some(&b"2"[..]));
    assert!(!want.contains_key(&b"z"[..]));
    let report = upgrade_and_check(dir, &want);
    // The compaction's output (the larger name) is read before the file sealed after it.
    let order: Vec<u64> = report.files.iter().map(|f| f.file.id).collect();
    assert_eq!(order, [sealed[1], sealed[0], active[0]]);
}

#[test]
fn a_store_with_several_rotated_files() {
    let script = format!(
        "put k 0
big b1 {BIG} 1
put k 1
big b2 {BIG} 2
put k 2
big b3 {BIG} 3
del b1
put k 3
big b1 {BIG} 4
put k 4
del b2
"
    );
    let Some(store) = written_by_0_1_1(&script) else {
        return;
    };
    let dir = store.path();
    let (sealed, active) = data_files(dir);
    assert_eq!(
        (sealed.len(), active.len()),
        (4, 1),
        "{sealed:?} {active:?}"
    );
    let (records_read, tombstones) = parsed_counts(dir);
    let report = upgrade_and_check(dir, &model(&script));
    assert_eq!(
        (report.records_read, report.tombstones),
        (records_read, tombstones)
    );
    let order: Vec<u64> = report.files.iter().map(|f| f.file.id).collect();
    let mut by_name = sealed.clone();
    by_name.extend(&active);
    assert_eq!(
        order, by_name,
        "rotated files are read in the order of their names"
    );
}

#[test]
fn a_store_whose_active_file_was_cut_mid_record() {
    let script = format!("{PLAIN}put last value-that-is-cut-short\n");
    let Some(store) = written_by_0_1_1(&script) else {
        return;
    };
    let dir = store.path();
    let path = active_file(dir);
    let data = std::fs::read(&path).unwrap();
    let last = records(&data).pop().unwrap();
    assert_eq!(last.key, b"last");
    let cut = data.len() - 5;
    std::fs::write(&path, &data[..cut]).unwrap();
    let report = upgrade_and_check(dir, &model(PLAIN));
    assert_eq!(report.records_read, 13);
    assert_eq!(report.regions.len(), 1);
    let torn = report.regions[0];
    assert!(torn.torn && torn.file.active);
    assert_eq!(
        (torn.offset, torn.len),
        (last.offset as u64, (cut - last.offset) as u64)
    );
    assert_eq!(report.unreadable_bytes(), 0);
}

#[test]
fn a_store_with_a_flipped_byte_in_a_middle_value() {
    // No rotation, no compaction: record i of the one file is line i of the script.
    let script = "put a first-a
put b first-b
put a second-a
put c only-c
put b second-b
del a
put d only-d
";
    for (damaged, line) in [(3, "put c only-c\n"), (4, "put b second-b\n")] {
        let Some(store) = written_by_0_1_1(script) else {
            return;
        };
        let dir = store.path();
        let path = active_file(dir);
        let mut data = std::fs::read(&path).unwrap();
        let recs = records(&data);
        assert_eq!(recs.len(), 7);
        let r = &recs[damaged];
        assert!(r.value_len > 2);
        data[r.offset + r.len - 2] ^= 0x01;
        std::fs::write(&path, &data).unwrap();
        // The damaged put is not converted: its key keeps its earlier value, if any.
        let report = upgrade_and_check(dir, &model(&script.replace(line, "")));
        assert_eq!(report.records_read, 6);
        assert_eq!(report.regions.len(), 1);
        let bad = report.regions[0];
        assert!(!bad.torn);
        assert_eq!((bad.offset, bad.len), (r.offset as u64, r.len as u64));
        assert_eq!(report.unreadable_bytes(), r.len as u64);
    }
}

#[test]
fn a_store_whose_file_names_are_ahead_of_the_clock() {
    // 0.1.1 names files by the millisecond they were made: a store written on a machine whose
    // clock ran ahead, or moments before the upgrade, has names at or past this clock's now.
    let script = "put a 1\nput b 2\ndel a\nput c 3\n";
    let Some(store) = written_by_0_1_1(script) else {
        return;
    };
    let dir = store.path();
    let old = active_file(dir);
    let ahead = bitask_now_millis() + 3_600_000;
    std::fs::rename(&old, dir.join(format!("{ahead}.active.log"))).unwrap();
    upgrade_and_check(dir, &model(script));
    let (sealed, active) = data_files(dir);
    assert!(
        sealed.iter().chain(&active).all(|&id| id > ahead),
        "the new files come after the 0.1.1 files: {sealed:?} {active:?}"
    );
}

fn bitask_now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn a_store_with_puts_of_one_key_in_the_same_millisecond() {
    let script = "put other x\nburst k 3000\nput after y\n";
    let Some(store) = written_by_0_1_1(script) else {
        return;
    };
    let dir = store.path();
    let data = std::fs::read(active_file(dir)).unwrap();
    let recs: Vec<Rec> = records(&data)
        .into_iter()
        .filter(|r| r.key == b"k")
        .collect();
    assert_eq!(recs.len(), 3000);
    let same_ms = recs.windows(2).filter(|w| w[0].ts == w[1].ts).count();
    assert!(same_ms > 0, "no two puts of k in one millisecond");
    let report = upgrade_and_check(dir, &model(script));
    assert_eq!(report.records_read, 3002);
}

#[test]
fn a_failure_at_any_step_of_upgrading_a_store_of_0_1_1_is_finished_by_a_rerun() {
    let Some(store) = written_by_0_1_1(PLAIN) else {
        return;
    };
    let original = files(store.path());
    let want = model(PLAIN);
    let _locks = no_process_starting();
    let mut n = 1;
    loop {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        for (name, data) in &original {
            std::fs::write(dir.join(name), data).unwrap();
        }
        let fault = FaultVfs::new(Arc::new(PosixVfs));
        fault.arm(Plan {
            fault: Fault::Eio,
            at: n,
            sticky: true,
        });
        let r = upgrade_with(dir, Options::default().vfs(Arc::new(fault.clone())));
        fault.disarm();
        if fault.injected() == 0 {
            r.unwrap();
            check_upgraded(dir, &original, &want);
            assert!(n > 50, "only {n} operations");
            break;
        }
        let what = format!("a failure at operation {n}");
        assert!(r.is_err(), "{what}: the upgrade succeeded");
        let committed = dir.join("db.id").exists();
        let before = tree(dir);
        match Bitask::open(dir) {
            Ok(db) => {
                assert!(
                    committed,
                    "{what}: an ordinary open took an unfinished upgrade"
                );
                assert_eq!(read_all(&db).unwrap(), want, "{what}");
            }
            Err(Error::Incompatible { .. }) => {
                assert!(
                    !committed,
                    "{what}: an ordinary open refused the finished store"
                );
                assert_eq!(
                    tree(dir),
                    before,
                    "{what}: a refused open changed the directory"
                );
            }
            Err(e) => panic!("{what}: an ordinary open failed otherwise: {e}"),
        }
        match bitask::upgrade(dir) {
            Ok(report) => assert_eq!(report.keys_converted, want.len() as u64, "{what}"),
            // Only the empty staging folder, or the last fsync, was left.
            Err(e @ Error::Incompatible { .. }) if committed => {
                assert!(
                    e.to_string().contains("already holds a store"),
                    "{what}: {e}"
                );
                let staging = dir.join(STAGING_DIR);
                if staging.exists() {
                    std::fs::remove_dir(staging).unwrap();
                }
            }
            Err(e) => panic!("{what}: the rerun failed: {e}"),
        }
        check_upgraded(dir, &original, &want);
        n += 1;
    }
}
