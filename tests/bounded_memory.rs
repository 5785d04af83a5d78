//! Opening a store needs memory for its keys, not for the size of its files. Two stores whose
//! files are far larger than what they hold are opened in a child process whose address
//! space is limited (`ulimit -v`, that is `setrlimit(RLIMIT_AS)`), well below the files'
//! sizes:
//! - an active file whose reserved tail (1 GiB, for `max_file_size` 1 GiB) a `kill -9` left
//!   in place, holding 10 records;
//! - a hint file made huge (and sparse) by a cut that lengthened it.
//!
//! A failed allocation aborts a Rust process, so an open that sized a buffer by either file
//! dies of it; the open must instead succeed with every key, in memory independent of the
//! files' sizes.
//!
//! The test binary runs itself as the children (`BITASK_MEMORY_ROLE`), as `tests/kill9.rs`
//! does.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bitask::{Bitask, Options};
use common::{key, value};

const GIB: u64 = 1 << 30;
const RECORDS: u64 = 10;

/// The child's address space, in KiB: half the reserved tail. A child of this binary has
/// about 130 MiB when it has opened a small store read-only (the harness's threads and the
/// allocator's arenas for them and for the open's two worker threads, mostly reserved and
/// never touched); the limit leaves the open more than twice that, and the 1 GiB tail or the
/// 64 GiB hint no room.
const LIMIT_KIB: u64 = 512 << 10;

fn role() -> Option<String> {
    std::env::var("BITASK_MEMORY_ROLE").ok()
}

fn big_files() -> Options {
    Options::default().max_file_size(GIB)
}

/// Child: fills the store and waits to be killed, so the active file keeps its reserved tail.
#[test]
fn memory_child_fill() {
    if role().as_deref() != Some("fill") {
        return;
    }
    let dir = std::env::var("BITASK_MEMORY_DIR").unwrap();
    let db = Bitask::open_with(&dir, big_files()).expect("open");
    for i in 0..RECORDS {
        db.put(key(i), value(&key(i), i, 100)).expect("put");
    }
    println!("@@ FILLED");
    std::thread::sleep(Duration::from_secs(600));
    drop(db);
}

/// Child: opens the store under the address-space limit the parent set, and reads it whole.
#[test]
fn memory_child_reopen() {
    if role().as_deref() != Some("reopen") {
        return;
    }
    let dir = std::env::var("BITASK_MEMORY_DIR").unwrap();
    let read_only = std::env::var("BITASK_MEMORY_READ_ONLY").is_ok();
    let db = Bitask::open_with(&dir, big_files().read_only(read_only)).expect("reopen");
    let got = common::read_all(&db).expect("read");
    assert_eq!(got.len() as u64, RECORDS);
    for i in 0..RECORDS {
        assert_eq!(got[&key(i)], value(&key(i), i, 100));
    }
    println!(
        "@@ REOPENED torn {} peak {} KiB",
        db.stats().torn_bytes,
        status_kib("VmPeak")
    );
}

/// A figure of this process from /proc/self/status, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}

fn child(role: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        &format!("memory_child_{role}"),
        "--nocapture",
        "--test-threads=1",
    ])
    .env("BITASK_MEMORY_ROLE", role)
    .env("BITASK_MEMORY_DIR", dir);
    cmd
}

/// Runs the reopen child under `limit_kib` of address space; returns its report line.
fn reopen_limited(dir: &Path, limit_kib: u64, read_only: bool) -> Result<String, String> {
    let inner = child("reopen", dir);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"ulimit -v "$1" || exit 77; shift; exec "$@""#, "sh"])
        .arg(limit_kib.to_string())
        .arg(inner.get_program())
        .args(inner.get_args())
        .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))));
    if read_only {
        cmd.env("BITASK_MEMORY_READ_ONLY", "1");
    }
    let out = cmd.output().map_err(|e| format!("sh: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match stdout.split("@@ ").nth(1).and_then(|l| l.lines().next()) {
        Some(line) if out.status.success() => Ok(line.to_string()),
        _ => Err(format!("{}\n{stdout}\n{stderr}", out.status)),
    }
}

fn kill9_after_filling(dir: &Path) {
    let mut fill = child("fill", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = fill.stdout.take().unwrap();
    let filled = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("@@ FILLED"));
    fill.kill().unwrap();
    fill.wait().unwrap();
    assert!(filled, "the filling child failed");
}

fn active_file(dir: &Path) -> std::path::PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".active.log"))
        .expect("an active file")
}

#[test]
fn reopening_after_kill9_with_a_reserved_gigabyte_needs_no_gigabyte() {
    if role().is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    kill9_after_filling(&dir);
    let active_len = std::fs::metadata(active_file(&dir)).unwrap().len();
    if active_len < GIB {
        println!("SKIPPED reserved tail: the file system reserved no space ({active_len} bytes)");
        return;
    }
    let limit = LIMIT_KIB;
    for read_only in [true, false] {
        let line = reopen_limited(&dir, limit, read_only).unwrap_or_else(|e| {
            panic!("reopen (read-only {read_only}) under {limit} KiB of address space: {e}")
        });
        assert!(line.starts_with("REOPENED torn 0 "), "{line}");
        common::report(&format!(
            "bounded memory: a {active_len}-byte active file of {RECORDS} records reopened (read-only {read_only}) under {limit} KiB of address space: {line}"
        ));
    }
}

#[test]
fn a_huge_sparse_hint_file_is_not_read_into_memory() {
    if role().is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    {
        let db = Bitask::open_with(&dir, Options::default()).unwrap();
        for i in 0..RECORDS {
            db.put(key(i), value(&key(i), i, 100)).unwrap();
        }
        db.compact().unwrap();
        db.close().unwrap();
    }
    let hint = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "hint"))
        .expect("a hint file");
    let huge = 64 * GIB;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&hint)
        .unwrap()
        .set_len(huge)
        .unwrap();
    let limit = LIMIT_KIB;
    for read_only in [true, false] {
        let line = reopen_limited(&dir, limit, read_only).unwrap_or_else(|e| {
            panic!("reopen (read-only {read_only}) with a {huge}-byte hint under {limit} KiB: {e}")
        });
        common::report(&format!(
            "bounded memory: a {huge}-byte sparse hint file skipped (read-only {read_only}) under {limit} KiB of address space: {line}"
        ));
    }
}
