//! Locking and reading across processes. Kept in a test binary of its own: a process that
//! forks while another thread closes a store would briefly keep that store's lock alive in
//! the child (until it execs), which would make unrelated reopen tests flaky.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bitask::db::{Bitask, Error};
use bitask::Options;

/// Child-process entry points: the test binary re-runs itself with `BITASK_CHILD` set.
fn child_role() -> Option<(String, PathBuf)> {
    let role = std::env::var("BITASK_CHILD").ok()?;
    let dir = PathBuf::from(std::env::var("BITASK_DIR").ok()?);
    Some((role, dir))
}

fn spawn_child(test_name: &str, role: &str, dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env("BITASK_CHILD", role)
        .env("BITASK_DIR", dir)
        .spawn()
        .unwrap()
}

#[test]
fn child_process_entry() {
    let Some((role, dir)) = child_role() else {
        return;
    };
    match role.as_str() {
        "second-writer" => {
            let r = Bitask::open(&dir);
            std::process::exit(if matches!(r, Err(Error::WriterLock)) {
                0
            } else {
                3
            });
        }
        "reader" => {
            let db = Bitask::open_with(&dir, Options::default().read_only(true)).unwrap();
            let mut last_round = vec![0u64; 100];
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                db.refresh().unwrap();
                for (i, last) in last_round.iter_mut().enumerate() {
                    if let Some(v) = db.get(format!("k{i}")).unwrap() {
                        let s = String::from_utf8(v).unwrap();
                        let (k, round) = s.split_once(":v").unwrap();
                        assert_eq!(k, format!("k{i}"));
                        let round: u64 = round.parse().unwrap();
                        assert!(
                            round >= *last,
                            "k{i} went back from round {last} to {round}"
                        );
                        *last = round;
                    }
                }
                if db.contains("done").unwrap() {
                    assert!(last_round.iter().all(|&r| r == 60), "{last_round:?}");
                    std::process::exit(0);
                }
                assert!(
                    Instant::now() < deadline,
                    "the reader never saw the writer finish"
                );
            }
        }
        other => panic!("unknown child role {other}"),
    }
}

#[test]
fn a_writer_in_another_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _db = Bitask::open(dir.path()).unwrap();
    let status = spawn_child("child_process_entry", "second-writer", dir.path())
        .wait()
        .unwrap();
    assert!(
        status.success(),
        "the second process got something other than WriterLock"
    );
}

#[test]
fn a_reader_process_follows_a_writer_that_compacts() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitask::open_with(dir.path(), Options::default().max_file_size(8192)).unwrap();
    for i in 0..100 {
        db.put(format!("k{i}"), format!("k{i}:v0")).unwrap();
    }
    let mut child = spawn_child("child_process_entry", "reader", dir.path());
    for round in 1..=60u64 {
        for i in 0..100 {
            db.put(format!("k{i}"), format!("k{i}:v{round}")).unwrap();
        }
        if round % 7 == 0 {
            db.compact().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    db.put("done", "").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "reader process failed: {status:?}");
}
