//! Every call documented as safe from many threads, on one handle, at once.
//!
//! A read-only handle iterates (whole store and by prefix), gets, checks for keys, reports
//! its figures and refreshes, all on threads of their own, while a writer in another process
//! (this test binary, re-run with `BITASK_AT_ONCE_DIR` set) puts, removes, rotates through
//! tiny files and compacts. A writer handle does the same in-process, with its own writers,
//! compactions and syncs beside the readers. Every value names its key and version, so a read
//! can tell a damaged or misplaced value; a key's version never goes back for one thread. No
//! call may fail: nothing here damages the store, so an error or a panic is a bug.
//!
//! 3 seconds per test, 60 with `SOAK=1`; `SEED=<n>` changes the writers' choices.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bitask::{Bitask, Options, SyncMode};
use common::{key, value, Rng};

const KEYS: u64 = 200;
const MAX_FILE: u64 = 1024;
const MAX_VALUE: u64 = 200;

fn seconds() -> u64 {
    if common::soak() {
        60
    } else {
        3
    }
}

fn opts() -> Options {
    Options::default()
        .max_file_size(MAX_FILE)
        .sync(SyncMode::None)
}

/// The version of `v`, a value of key `k`, or why it is not one.
fn version_of(k: &[u8], v: &[u8]) -> Result<u64, String> {
    let ks = String::from_utf8_lossy(k);
    let vs = String::from_utf8_lossy(v);
    let ver: u64 = vs
        .strip_prefix(&format!("{ks}@"))
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("{ks} = {vs}: not a value of this key"))?;
    if value(k, ver, v.len()) != v {
        return Err(format!("{ks} = {vs}: damaged value"));
    }
    Ok(ver)
}

/// What the threads of one test found wrong, and whether they should stop.
#[derive(Default)]
struct Findings {
    failures: Mutex<Vec<String>>,
    done: AtomicBool,
}

impl Findings {
    fn fail(&self, what: String) {
        let mut f = self.failures.lock().unwrap();
        // The first few tell the story; a broken invariant would otherwise repeat forever.
        if f.len() < 20 {
            f.push(what);
        }
    }

    fn running(&self) -> bool {
        !self.done.load(Ordering::Relaxed)
    }
}

/// The newest version each key was seen at by one thread: reads of one handle never go
/// back in time.
#[derive(Default)]
struct Seen(HashMap<Vec<u8>, u64>);

impl Seen {
    /// Checks a value read for `k` at `at` (which call read it).
    fn check(&mut self, at: &str, k: &[u8], v: &[u8]) -> Result<(), String> {
        let ver = version_of(k, v).map_err(|e| format!("{at}: {e}"))?;
        let last = self.0.entry(k.to_vec()).or_insert(0);
        if ver < *last {
            return Err(format!(
                "{at}: {} went back from version {} to {ver}",
                String::from_utf8_lossy(k),
                *last
            ));
        }
        *last = ver;
        Ok(())
    }
}

/// Iterates the keys starting with `prefix`, checking each entry and the order.
fn scan(db: &Bitask, prefix: &[u8], seen: &mut Seen) -> Result<(), String> {
    let at = format!("iter_prefix({:?})", String::from_utf8_lossy(prefix));
    let mut prev: Option<Vec<u8>> = None;
    for item in db.iter_prefix(prefix) {
        let (k, v) = item.map_err(|e| format!("{at}: {e:?}"))?;
        if !k.starts_with(prefix) || prev.as_ref().is_some_and(|p| *p >= k) {
            return Err(format!("{at}: {k:?} out of place after {prev:?}"));
        }
        seen.check(&at, &k, &v)?;
        prev = Some(k);
    }
    Ok(())
}

/// One random point read, by each of the read calls in turn.
fn read_one(db: &Bitask, rng: &mut Rng, seen: &mut Seen, buf: &mut [u8]) -> Result<(), String> {
    let k = key(rng.below(KEYS));
    match rng.below(4) {
        0 => match db.get(&k) {
            Ok(Some(v)) => seen.check("get", &k, &v),
            Ok(None) => Ok(()),
            Err(e) => Err(format!("get: {e:?}")),
        },
        1 => {
            // Now and then too small a buffer: the length is reported, nothing copied.
            let cap = if rng.pct(20) { 4 } else { buf.len() };
            match db.get_into(&k, &mut buf[..cap]) {
                Ok(Some(n)) if n <= cap => seen.check("get_into", &k, &buf[..n]),
                Ok(Some(n)) if n <= MAX_VALUE as usize + 32 => Ok(()),
                Ok(Some(n)) => Err(format!("get_into: a value of {n} bytes")),
                Ok(None) => Ok(()),
                Err(e) => Err(format!("get_into: {e:?}")),
            }
        }
        2 => db
            .contains(&k)
            .map(drop)
            .map_err(|e| format!("contains: {e:?}")),
        _ => match db.ask(&k) {
            Ok(v) => seen.check("ask", &k, &v),
            Err(bitask::Error::KeyNotFound) => Ok(()),
            Err(e) => Err(format!("ask: {e:?}")),
        },
    }
}

/// A prefix of some of the keys ("key1", "key04", ...), or none.
fn some_prefix(rng: &mut Rng) -> Vec<u8> {
    let n = key(rng.below(KEYS));
    n[..rng.below(n.len() as u64) as usize].to_vec()
}

/// Runs `body` in a loop on its own thread until `findings` says stop or `body` fails,
/// counting its rounds in `count`.
fn keep_doing<'s>(
    s: &'s std::thread::Scope<'s, '_>,
    findings: &'s Findings,
    count: &'s AtomicU64,
    mut body: impl FnMut() -> Result<(), String> + Send + 's,
) {
    s.spawn(move || {
        while findings.running() {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut body))
                .unwrap_or_else(|p| Err(format!("panic: {}", panic_message(&*p))));
            if let Err(e) = outcome {
                findings.fail(e);
                return;
            }
            count.fetch_add(1, Ordering::Relaxed);
        }
    });
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// The readers of a handle: a whole-store scan, a prefix scan and point reads on a thread
/// each, plus a thread asking for the figures.
fn readers<'s>(
    s: &'s std::thread::Scope<'s, '_>,
    db: &'s Bitask,
    findings: &'s Findings,
    counts: &'s [AtomicU64; 4],
) {
    let mut seen = Seen::default();
    keep_doing(s, findings, &counts[0], move || scan(db, b"", &mut seen));
    let (mut seen, mut rng) = (Seen::default(), Rng::new(common::seed(1)));
    keep_doing(s, findings, &counts[1], move || {
        scan(db, &some_prefix(&mut rng), &mut seen)
    });
    // Point reads and figures are quick: paced, they leave the writers and the scans a share
    // of the machine.
    let (mut seen, mut rng, mut buf) = (Seen::default(), Rng::new(common::seed(2)), [0u8; 512]);
    keep_doing(s, findings, &counts[2], move || {
        if rng.pct(1) {
            std::thread::sleep(Duration::from_micros(200));
        }
        read_one(db, &mut rng, &mut seen, &mut buf)
    });
    keep_doing(s, findings, &counts[3], move || {
        std::thread::sleep(Duration::from_micros(200));
        let st = db.stats();
        if st.key_count > KEYS {
            return Err(format!("stats: {st:?}"));
        }
        Ok(())
    });
}

/// The writer process: fills the store, says so, then puts, removes and compacts until its
/// time is up. Versions are the operation's number, so they only grow.
#[test]
fn writer_process() {
    let Ok(dir) = std::env::var("BITASK_AT_ONCE_DIR") else {
        return;
    };
    let db = Bitask::open_with(&dir, opts()).expect("writer open");
    for k in 0..KEYS {
        db.put(key(k), value(&key(k), 0, 50)).expect("put");
    }
    println!("@@ ready");
    let mut rng = Rng::new(common::seed(10));
    let deadline = Instant::now() + Duration::from_secs(seconds());
    let (mut i, mut compactions) = (1u64, 0u64);
    while Instant::now() < deadline {
        let k = key(rng.below(KEYS));
        match rng.below(1000) {
            0..=9 => {
                db.compact().expect("compact");
                compactions += 1;
            }
            10..=259 => match db.remove(&k) {
                Ok(()) | Err(bitask::Error::KeyNotFound) => {}
                Err(e) => panic!("remove: {e}"),
            },
            _ => db
                .put(&k, value(&k, i, rng.below(MAX_VALUE) as usize))
                .expect("put"),
        }
        i += 1;
    }
    db.close().expect("close");
    println!("@@ done {i} {compactions}");
}

#[test]
fn a_read_only_handle_scans_reads_and_refreshes_at_once_beside_a_compacting_writer() {
    if std::env::var("BITASK_AT_ONCE_DIR").is_ok() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let mut writer = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "writer_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BITASK_AT_ONCE_DIR", &dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the writer");
    let mut lines = BufReader::new(writer.stdout.take().unwrap()).lines();
    let said = |l: &str, what: &str| {
        l.find("@@ ")
            .is_some_and(|at| l[at + 3..].starts_with(what))
    };
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| said(&l, "ready")),
        "the writer did not start"
    );
    let db = Bitask::open_with(&dir, opts().read_only(true)).expect("reader open");
    let findings = Findings::default();
    let counts: [AtomicU64; 4] = Default::default();
    let refreshes = AtomicU64::new(0);
    let summary = std::thread::scope(|s| {
        readers(s, &db, &findings, &counts);
        keep_doing(s, &findings, &refreshes, || {
            db.refresh().map_err(|e| format!("refresh: {e:?}"))
        });
        // Read to the end: the writer must not meet a closed pipe on its way out.
        let summary = lines
            .map_while(Result::ok)
            .filter(|l| said(l, "done"))
            .last();
        findings.done.store(true, Ordering::Relaxed);
        summary
    });
    let exited = writer.wait().unwrap();
    assert!(exited.success(), "the writer failed: {exited}");
    let summary = summary.expect("the writer's summary");
    let compactions: u64 = summary.rsplit(' ').next().unwrap().parse().unwrap();
    common::assert_no_failures(&findings.failures.lock().unwrap());
    let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
    println!(
        "writer: {summary}; reader: {} scans, {} prefix scans, {} reads, {} stats, {} refreshes",
        count(&counts[0]),
        count(&counts[1]),
        count(&counts[2]),
        count(&counts[3]),
        count(&refreshes)
    );
    assert!(
        compactions > 0 && counts.iter().chain([&refreshes]).all(|c| count(c) > 0),
        "too little happened to prove anything"
    );
}

#[test]
fn a_writer_handle_scans_reads_writes_and_compacts_at_once() {
    if std::env::var("BITASK_AT_ONCE_DIR").is_ok() {
        return;
    }
    const WRITERS: u64 = 2;
    let tmp = tempfile::tempdir().unwrap();
    // Files of 8 KiB still rotate every few dozen writes, and seal few enough that the
    // compactions, which wait for the background seals, run often.
    let db = Bitask::open_with(tmp.path(), opts().max_file_size(8192)).unwrap();
    let findings = Findings::default();
    let counts: [AtomicU64; 4] = Default::default();
    let (writes, compactions) = (AtomicU64::new(0), AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds());
    let models = std::thread::scope(|s| {
        readers(s, &db, &findings, &counts);
        keep_doing(s, &findings, &compactions, || {
            db.compact().map_err(|e| format!("compact: {e:?}"))?;
            db.sync().map_err(|e| format!("sync: {e:?}"))
        });
        // Each writer owns the keys of its residue, so it knows what each of them holds.
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (db, findings, writes) = (&db, &findings, &writes);
                s.spawn(move || {
                    let mut rng = Rng::new(common::seed(20) ^ w);
                    let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
                    let mut ver = 0u64;
                    while Instant::now() < deadline && findings.running() {
                        ver += 1;
                        // Now and then the seals queued in the background drain: a compaction
                        // waits for that to take its inputs.
                        if ver % 64 == 0 {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        let k = key(rng.below(KEYS / WRITERS) * WRITERS + w);
                        let outcome = if rng.pct(25) {
                            match (db.remove(&k), model.remove(&k)) {
                                (Ok(()), Some(_)) | (Err(bitask::Error::KeyNotFound), None) => {
                                    Ok(())
                                }
                                (got, had) => Err(format!("remove: {got:?}, had {had:?}")),
                            }
                        } else {
                            let v = value(&k, ver, rng.below(MAX_VALUE) as usize);
                            let put = db.put(&k, &v).map_err(|e| format!("put: {e:?}"));
                            model.insert(k.clone(), v);
                            put
                        };
                        let outcome = outcome.and_then(|()| match db.get(&k) {
                            Ok(got) if got.as_ref() == model.get(&k) => Ok(()),
                            got => Err(format!("get of own write: {got:?}")),
                        });
                        if let Err(e) = outcome {
                            findings.fail(format!("writer {w}: {e}"));
                            break;
                        }
                        writes.fetch_add(1, Ordering::Relaxed);
                    }
                    model
                })
            })
            .collect();
        let models: Vec<_> = writers.into_iter().map(|h| h.join().unwrap()).collect();
        findings.done.store(true, Ordering::Relaxed);
        models
    });
    common::assert_no_failures(&findings.failures.lock().unwrap());
    let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
    println!(
        "{} writes, {} compactions; {} scans, {} prefix scans, {} reads, {} stats",
        count(&writes),
        count(&compactions),
        count(&counts[0]),
        count(&counts[1]),
        count(&counts[2]),
        count(&counts[3]),
    );
    assert!(
        counts
            .iter()
            .chain([&writes, &compactions])
            .all(|c| count(c) > 0),
        "too little happened to prove anything"
    );
    // What the writers last wrote is what the store holds, and still after a reopen.
    let want: common::Content = models.into_iter().flatten().collect();
    assert_eq!(common::read_all(&db).unwrap(), want);
    db.close().unwrap();
    let db = Bitask::open_with(tmp.path(), opts()).unwrap();
    assert_eq!(common::read_all(&db).unwrap(), want);
}
