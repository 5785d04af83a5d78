//! kill -9: a child process (this test binary, re-run with `BITASK_KILL9_DIR` set) opens the
//! store, then puts, removes and compacts as fast as it can, reporting each operation on its
//! stdout before it starts ("B") and once it returned ("A"). The parent kills it with SIGKILL
//! at a random moment, reopens the store and checks that its content is the model after
//! every acknowledged operation, plus possibly the one in flight. Kills land during the
//! child's recovery, its writes, its rotations and its compactions; each is counted.
//!
//! 300 kills per run, 3000 with `SOAK=1`; `SEED=<n>` changes the schedule.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bitask::{Bitask, Options, SyncMode};
use common::{key, value, Content, Rng};

const KEYS: u64 = 150;
const MAX_FILE: u64 = 4096;

fn opts(sync: SyncMode) -> Options {
    Options::default().max_file_size(MAX_FILE).sync(sync)
}

fn sync_of(round: u64) -> SyncMode {
    if round % 10 == 9 {
        SyncMode::Always
    } else {
        SyncMode::None
    }
}

/// A line on the child's stdout; the prefix keeps them apart from the test harness's.
macro_rules! say {
    ($($arg:tt)*) => { println!("@@ {}", format!($($arg)*)) };
}

/// The child: runs only when `BITASK_KILL9_DIR` is set.
#[test]
fn kill9_child() {
    let Ok(dir) = std::env::var("BITASK_KILL9_DIR") else {
        return;
    };
    let round: u64 = std::env::var("BITASK_KILL9_ROUND")
        .unwrap()
        .parse()
        .unwrap();
    let mut rng = Rng::new(common::seed(9) ^ round.wrapping_mul(0x9e37_79b9));
    say!("R");
    let db = Bitask::open_with(&dir, opts(sync_of(round))).expect("child open");
    say!("O");
    for i in 0u64.. {
        let k = rng.below(KEYS);
        let roll = rng.below(1000);
        if roll < 8 {
            say!("B {i} C");
            db.compact().expect("compact");
        } else if roll < 300 {
            say!("B {i} D {k}");
            match db.remove(key(k)) {
                Ok(()) => {}
                Err(bitask::Error::KeyNotFound) => {}
                Err(e) => panic!("remove: {e}"),
            }
        } else {
            let len = rng.below(200);
            say!("B {i} P {k} {len}");
            db.put(key(k), value(&key(k), version(round, i), len as usize))
                .expect("put");
        }
        say!("A {i}");
    }
}

fn version(round: u64, i: u64) -> u64 {
    round * 10_000_000 + i
}

#[derive(Debug, Clone)]
enum Op {
    Put(u64, u64, usize),
    Remove(u64),
    Compact,
}

fn apply(c: &mut Content, round: u64, i: u64, op: &Op) {
    match *op {
        Op::Put(k, ver, len) => {
            c.insert(key(k), value(&key(k), version(round, ver), len));
        }
        Op::Remove(k) => {
            c.remove(&key(k));
        }
        Op::Compact => {}
    }
    let _ = i;
}

#[derive(Default, Debug)]
struct Landed {
    startup: u64,
    recovery: u64,
    compaction: u64,
    write: u64,
    between: u64,
}

#[test]
fn kill9_loop() {
    if std::env::var("BITASK_KILL9_DIR").is_ok() {
        return;
    }
    let rounds = if common::soak() { 3000 } else { 300 };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng::new(common::seed(99));
    let mut model = Content::new();
    let mut landed = Landed::default();
    let (mut acked_total, mut lost, mut resurrected) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args(["--exact", "kill9_child", "--nocapture", "--test-threads=1"])
            .env("BITASK_KILL9_DIR", &dir)
            .env("BITASK_KILL9_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the child");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                // The harness's "test kill9_child ... " may start the first line.
                if let Some(at) = l.find("@@ ") {
                    let l = &l[at + 3..];
                    let _ = tx.send(l.to_owned());
                    all.push(l.to_owned());
                }
            }
            all
        });
        match rng.below(10) {
            // Aim at recovery: kill within 0.3 ms of the child starting to open the store.
            0..=2 => {
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    match rx.recv_timeout(Duration::from_millis(100)) {
                        Ok(l) if l == "R" => break,
                        _ => {}
                    }
                }
                std::thread::sleep(Duration::from_micros(rng.below(300)));
            }
            3..=6 => std::thread::sleep(Duration::from_millis(rng.below(30))),
            _ => std::thread::sleep(Duration::from_millis(20 + rng.below(120))),
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        let lines = reader.join().unwrap();
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        assert!(
            !status.success() || lines.is_empty(),
            "the child exited by itself in round {round}: {status}\n{err}"
        );
        assert!(
            !err.contains("panicked"),
            "the child panicked in round {round}:\n{err}"
        );

        // Replay what the child reported.
        let mut in_flight: Option<(u64, Op)> = None;
        let mut phase = "startup";
        for l in &lines {
            let f: Vec<&str> = l.split(' ').collect();
            match f[0] {
                "R" => phase = "recovery",
                "O" => phase = "between",
                "B" => {
                    let i: u64 = f[1].parse().unwrap();
                    let op = match f[2] {
                        "P" => Op::Put(f[3].parse().unwrap(), i, f[4].parse().unwrap()),
                        "D" => Op::Remove(f[3].parse().unwrap()),
                        _ => Op::Compact,
                    };
                    phase = if matches!(op, Op::Compact) {
                        "compaction"
                    } else {
                        "write"
                    };
                    in_flight = Some((i, op));
                }
                "A" => {
                    let (i, op) = in_flight.take().expect("an acknowledged op was begun");
                    assert_eq!(f[1].parse::<u64>().unwrap(), i);
                    apply(&mut model, round, i, &op);
                    acked_total += 1;
                    phase = "between";
                }
                _ => {}
            }
        }
        match phase {
            "startup" => landed.startup += 1,
            "recovery" => landed.recovery += 1,
            "compaction" => landed.compaction += 1,
            "write" => landed.write += 1,
            _ => landed.between += 1,
        }

        // Reopen and compare.
        let db = Bitask::open_with(&dir, opts(SyncMode::None))
            .unwrap_or_else(|e| panic!("reopen after kill {round} (during {phase}): {e}"));
        let got = common::read_all(&db).unwrap_or_else(|e| panic!("read after kill {round}: {e}"));
        let mut with_in_flight = model.clone();
        if let Some((i, op)) = &in_flight {
            apply(&mut with_in_flight, round, *i, op);
        }
        if got != model && got != with_in_flight {
            for (k, v) in &model {
                if got.get(k) != Some(v) && with_in_flight.get(k) == Some(v) {
                    lost += 1;
                }
            }
            for k in got.keys() {
                if !model.contains_key(k) && !with_in_flight.contains_key(k) {
                    resurrected += 1;
                }
            }
            panic!(
                "kill {round} during {phase} (in flight {in_flight:?}): content differs from the model: {lost} lost, {resurrected} back\nchild stderr:\n{err}"
            );
        }
        model = got;
        db.close().unwrap();
        if started.elapsed() > Duration::from_secs(if common::soak() { 3600 } else { 240 }) {
            panic!(
                "kill -9 loop too slow: {round} rounds in {:?}",
                started.elapsed()
            );
        }
    }
    assert!(
        landed.recovery > 0 && landed.compaction > 0,
        "kills never landed in recovery or compaction: {landed:?}"
    );
    common::report(&format!(
        "kill-9: {rounds} kills survived ({} during startup, {} during recovery, {} during compaction, {} during a put/remove, {} between operations); {acked_total} acknowledged operations checked; lost {lost}, resurrected {resurrected}; store {} keys, {} data files",
        landed.startup,
        landed.recovery,
        landed.compaction,
        landed.write,
        landed.between,
        model.len(),
        data_files(&dir)
    ));
}

fn data_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".log"))
            })
            .count()
        })
        .unwrap_or(0)
}
