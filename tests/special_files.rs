//! A name the store owns (a data, hint, temporary or lock file) held by something that is not
//! a regular file: a FIFO, a directory, a socket, a device. Opening a FIFO for reading waits
//! for a writer, so a store that opened such a name as a file would hang in `open`; reading a
//! directory or a socket fails with an error that names neither the cause nor the remedy.
//! Every such open must fail at once, with an I/O error naming the entry and what it is, and
//! leave the directory as it was, for writers and read-only handles alike.

mod common;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bitask::ffi::status::bitask_status;
use bitask::{Bitask, Error, Options};

/// Longer than any open of this small store takes; an open still running then is a hang.
const WATCHDOG: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Special {
    Fifo,
    Directory,
    Socket,
    CharDevice,
}

impl Special {
    /// What the error message calls it.
    fn word(self) -> &'static str {
        match self {
            Special::Fifo => "a FIFO",
            Special::Directory => "a directory",
            Special::Socket => "a socket",
            Special::CharDevice => "a character device",
        }
    }

    /// Makes one at `path`; `Err` says why it cannot be made here.
    fn make(self, path: &Path) -> Result<(), String> {
        let run = |cmd: &mut Command| match cmd.status() {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(format!("{cmd:?}: {s}")),
            Err(e) => Err(format!("{cmd:?}: {e}")),
        };
        match self {
            Special::Fifo => run(Command::new("mkfifo").arg(path)),
            Special::Directory => std::fs::create_dir(path).map_err(|e| e.to_string()),
            // The socket file stays when the listener is dropped.
            Special::Socket => UnixListener::bind(path)
                .map(drop)
                .map_err(|e| e.to_string()),
            // The null device's numbers; only a privileged user may make device nodes.
            Special::CharDevice => run(Command::new("mknod").arg(path).args(["c", "1", "3"])),
        }
    }
}

/// What a directory holds: each entry's type, and a regular file's bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let ft = entry.file_type().unwrap();
        let what = if ft.is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            format!("file {} bytes, crc {:08x}", bytes.len(), crc(&bytes))
        } else if ft.is_fifo() {
            "fifo".into()
        } else if ft.is_dir() {
            "directory".into()
        } else if ft.is_socket() {
            "socket".into()
        } else {
            format!("{ft:?}")
        };
        out.insert(name, what);
    }
    out
}

fn crc(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

/// A store with a merge output and its hint file, a file sealed by rotation and an active
/// file; returns (the id of a sealed file with a hint, an id above every file's).
fn make_store(dir: &Path) -> (u64, u64) {
    let opts = || Options::default().max_file_size(300);
    let db = Bitask::open_with(dir, opts()).unwrap();
    for i in 0..12u64 {
        db.put(common::key(i), common::value(&common::key(i), i, 30))
            .unwrap();
    }
    db.compact().unwrap();
    for i in 0..6u64 {
        db.put(common::key(i), common::value(&common::key(i), 100 + i, 30))
            .unwrap();
    }
    db.close().unwrap();
    let names = snapshot(dir);
    let ids: Vec<u64> = names
        .keys()
        .filter_map(|n| n.split('.').next()?.parse().ok())
        .collect();
    let hinted = names
        .keys()
        .find_map(|n| n.strip_suffix(".hint")?.parse().ok())
        .expect("the merge wrote a hint file");
    assert!(
        names.keys().any(|n| n.ends_with(".active.log")),
        "{names:?}"
    );
    (hinted, ids.iter().max().unwrap() + 1000)
}

fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Opens `dir` on another thread; a hang fails the test instead of blocking it.
fn open_watched(dir: &Path, read_only: bool, what: String) -> bitask::Result<Bitask> {
    let dir = dir.to_path_buf();
    common::within(WATCHDOG, what, move || {
        Bitask::open_with(&dir, Options::default().read_only(read_only))
    })
}

#[test]
fn a_special_file_under_a_store_name_fails_the_open_at_once_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = tmp.path().join("pristine");
    let (hinted, new_id) = make_store(&pristine);
    // Names the open reads (a new sealed or active file, the hint of a sealed file, the
    // lock), a name it deletes (temporary files) and names it only lists (a hint without
    // its data file, a stale id).
    let names = [
        format!("{new_id}.log"),
        format!("{new_id}.active.log"),
        format!("{hinted}.hint"),
        "db.lock".to_string(),
        format!("{new_id}.log.tmp"),
        format!("{new_id}.hint.tmp"),
        "123.log".to_string(),
        "123.hint".to_string(),
    ];
    let mut checked = 0;
    let mut skipped = Vec::new();
    for special in [
        Special::Fifo,
        Special::Directory,
        Special::Socket,
        Special::CharDevice,
    ] {
        for name in &names {
            for read_only in [false, true] {
                let dir = tmp.path().join(format!("case{checked}-{}", skipped.len()));
                copy_store(&pristine, &dir);
                let path = dir.join(name);
                let _ = std::fs::remove_file(&path);
                if let Err(why) = special.make(&path) {
                    skipped.push(format!("{special:?} ({why})"));
                    continue;
                }
                let before = snapshot(&dir);
                let what = format!(
                    "{} open with {} at {name}",
                    if read_only { "read-only" } else { "writer" },
                    special.word()
                );
                let opened = open_watched(&dir, read_only, what.clone());
                if read_only && name == "db.lock" {
                    // A read-only handle takes no lock and never opens the lock file.
                    opened.unwrap_or_else(|e| panic!("{what}: {e}"));
                } else {
                    let err = opened.err().unwrap_or_else(|| panic!("{what}: opened"));
                    let msg = err.to_string();
                    assert!(matches!(err, Error::Io { .. }), "{what}: {err:?}");
                    let shown = path.display().to_string();
                    assert_eq!(msg.matches(&shown).count(), 1, "{what}: {msg}");
                    assert!(msg.contains(special.word()), "{what}: {msg}");
                    assert!(msg.contains("not a regular file"), "{what}: {msg}");
                }
                assert_eq!(snapshot(&dir), before, "{what}: the directory changed");
                checked += 1;
            }
        }
    }
    skipped.dedup();
    for s in &skipped {
        println!("SKIPPED {s}: cannot be made here");
    }
    assert!(checked >= 3 * names.len() * 2, "only {checked} cases ran");
    common::report(&format!(
        "special files: {checked} opens refused at once (or, read-only, past a special db.lock), directory unchanged; skipped: {skipped:?}"
    ));
}

/// Through the C entry point: the status is `BITASK_ERR_IO` and the thread's message names
/// the FIFO.
#[test]
fn bitask_open_reports_a_fifo_as_an_io_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let (_, new_id) = make_store(&dir);
    let fifo: PathBuf = dir.join(format!("{new_id}.log"));
    Special::Fifo.make(&fifo).unwrap();
    let c_dir = CString::new(dir.to_str().unwrap()).unwrap();
    let (status, message) = common::within(WATCHDOG, "bitask_open".into(), move || {
        let mut db = std::ptr::null_mut();
        let st = bitask::ffi::db::bitask_open(c_dir.as_ptr(), std::ptr::null(), &mut db);
        assert!(db.is_null());
        let mut buf = vec![0 as std::ffi::c_char; 512];
        let n = bitask::ffi::messages::bitask_last_error_message(buf.as_mut_ptr(), buf.len());
        let msg: String = buf[..n.min(511)].iter().map(|&c| c as u8 as char).collect();
        (st, msg)
    });
    assert_eq!(status, bitask_status::BITASK_ERR_IO, "{message}");
    assert!(message.contains(&fifo.display().to_string()), "{message}");
    assert!(message.contains("a FIFO, not a regular file"), "{message}");
}
