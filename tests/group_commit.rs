//! Group commit under concurrent durable writers, checked on the operation log of the
//! recording file system: a put with `SyncMode::Always` returns `Ok` only after a sync of
//! the file holding its record, issued after the record was written, has returned; a failed
//! sync fails every writer it covered, stops the handle, and is never retried.
//!
//! Each writer puts a marker in the log right after a put returns `Ok`; the log is totally
//! ordered, so "its record was synced before the put returned" is a property of the log.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bitask::vfs::fault::{Fault, FaultVfs, Plan};
use bitask::vfs::sim::{Op, Reserve, SimVfs};
use bitask::vfs::{FileLock, OpenMode, Pages, VFile, Vfs};
use bitask::{Bitask, Error, Options, SyncMode};

const THREADS: u64 = 8;
const KEY_PREFIX: &[u8] = b"gc-t";

/// Key `i` of writer `t`: `gc-t<t>-<i, 5 digits>`, 11 bytes.
fn key(t: u64, i: u64) -> Vec<u8> {
    format!("gc-t{t}-{i:05}").into_bytes()
}

fn mark_of(t: u64, i: u64) -> u64 {
    t * 1_000_000 + i
}

fn key_of_mark(m: u64) -> Vec<u8> {
    key(m / 1_000_000, m % 1_000_000)
}

/// Checks that every marked (acknowledged) put's record was written, then synced (the same
/// file), before its marker. Returns how many markers were checked.
fn check_acknowledged_puts_were_synced(trace: &[Op]) -> usize {
    let mut written: HashMap<Vec<u8>, (u64, usize)> = HashMap::new();
    let mut synced: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut checked = 0;
    for (at, op) in trace.iter().enumerate() {
        match op {
            Op::Write { ino, data, .. } => {
                let mut from = 0;
                while let Some(p) = data[from..]
                    .windows(KEY_PREFIX.len())
                    .position(|w| w == KEY_PREFIX)
                {
                    let start = from + p;
                    let end = (start + 11).min(data.len());
                    // The first write of a key is its record; a hint file written after
                    // the file's seal holds the key too, and is not where it was put.
                    written
                        .entry(data[start..end].to_vec())
                        .or_insert((*ino, at));
                    from = start + 1;
                }
            }
            Op::SyncData { ino } => synced.entry(*ino).or_default().push(at),
            Op::Mark(m) => {
                let k = key_of_mark(*m);
                let &(ino, w) = written
                    .get(&k)
                    .unwrap_or_else(|| panic!("{} acknowledged but never written", show(&k)));
                let covered = synced
                    .get(&ino)
                    .is_some_and(|s| s.iter().any(|&s| s > w && s < at));
                assert!(
                    covered,
                    "{} acknowledged (log entry {at}) without a sync of its file after its \
                     write (log entry {w})",
                    show(&k)
                );
                checked += 1;
            }
            _ => {}
        }
    }
    checked
}

/// File syncs that take a while, as on a disk, so that writers pile up behind each one. Also
/// counts what the engine asks of the file system's mappings.
struct SlowSync<V> {
    inner: V,
    asked: Arc<Asked>,
}

/// What the engine asked for, over all files.
#[derive(Default)]
struct Asked {
    prefaults: AtomicUsize,
    /// Reservations asking for huge pages.
    huge_pages: AtomicUsize,
    /// Reservations made after the file was first written to (too late for the pages asked
    /// for to apply to the whole file).
    late_reservations: AtomicUsize,
    /// Holds file syncs back while closed.
    gate: Gate,
}

/// A gate file syncs wait at while it is closed (it starts open).
#[derive(Default)]
struct Gate {
    closed: Mutex<bool>,
    changed: Condvar,
    /// Syncs waiting at the gate now.
    waiting: AtomicUsize,
}

impl Gate {
    fn set(&self, closed: bool) {
        *self.closed.lock().unwrap() = closed;
        self.changed.notify_all();
    }

    fn pass(&self) {
        let mut closed = self.closed.lock().unwrap();
        self.waiting.fetch_add(1, Ordering::SeqCst);
        while *closed {
            closed = self.changed.wait(closed).unwrap();
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<V> SlowSync<V> {
    fn new(inner: V) -> SlowSync<V> {
        SlowSync {
            inner,
            asked: Arc::default(),
        }
    }
}

impl<V: Vfs> Vfs for SlowSync<V> {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.create_dir(dir)
    }
    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.remove_dir(dir)
    }
    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        self.inner.is_dir(path)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list_dir(dir)
    }
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VFile>> {
        Ok(Box::new(SlowFile {
            inner: self.inner.open(path, mode)?,
            syncing: AtomicUsize::new(0),
            written: AtomicBool::new(false),
            asked: self.asked.clone(),
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.sync_dir(dir)
    }
    fn lock_exclusive(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        self.inner.lock_exclusive(path)
    }
}

struct SlowFile {
    inner: Box<dyn VFile>,
    /// How many `sync_data` calls are running on it now.
    syncing: AtomicUsize,
    written: AtomicBool,
    asked: Arc<Asked>,
}

/// `sync_data` calls that started while another one of the same file was running, in any
/// test of this file: the kernel reports a writeback error to one of them only, so the
/// engine never lets two run side by side.
static OVERLAPPING_SYNCS: AtomicUsize = AtomicUsize::new(0);

impl VFile for SlowFile {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read_exact_at(&self, offset: u64, bufs: &mut [&mut [u8]]) -> io::Result<()> {
        self.inner.read_exact_at(offset, bufs)
    }
    fn write_all_at(&self, offset: u64, bufs: &[&[u8]]) -> io::Result<()> {
        self.written.store(true, Ordering::SeqCst);
        self.inner.write_all_at(offset, bufs)
    }
    fn sync_data(&self) -> io::Result<()> {
        if self.syncing.fetch_add(1, Ordering::SeqCst) > 0 {
            OVERLAPPING_SYNCS.fetch_add(1, Ordering::SeqCst);
        }
        self.asked.gate.pass();
        std::thread::sleep(Duration::from_millis(1));
        let result = self.inner.sync_data();
        self.syncing.fetch_sub(1, Ordering::SeqCst);
        result
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn reserve(&self, len: u64, pages: Pages) -> io::Result<bool> {
        if pages == Pages::Huge {
            self.asked.huge_pages.fetch_add(1, Ordering::SeqCst);
        }
        if self.written.load(Ordering::SeqCst) {
            self.asked.late_reservations.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.reserve(len, pages)
    }
    fn prefault(&self, offset: u64, len: u64) -> bool {
        self.asked.prefaults.fetch_add(1, Ordering::SeqCst);
        self.inner.prefault(offset, len)
    }
}

fn show(k: &[u8]) -> String {
    String::from_utf8_lossy(k).into_owned()
}

#[test]
fn concurrent_durable_puts_return_only_after_a_sync_covering_them() {
    let sim = SimVfs::recording();
    let opts = Options::default()
        .sync(SyncMode::Always)
        // Small files: rotations (whose seals sync the full file) happen during the run.
        .max_file_size(16 * 1024)
        .vfs(Arc::new(SlowSync::new(sim.clone())));
    let db = Arc::new(Bitask::open_with("/store", opts).unwrap());
    let per_thread = 100;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (db, sim) = (db.clone(), sim.clone());
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    db.put(key(t, i), [b'v'; 100]).unwrap();
                    sim.mark(mark_of(t, i));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let checked = check_acknowledged_puts_were_synced(&sim.trace());
    assert_eq!(checked as u64, THREADS * per_thread);
    drop(db);
    let db = Bitask::open_with("/store", Options::default().vfs(Arc::new(sim))).unwrap();
    assert_eq!(db.stats().key_count, THREADS * per_thread);
}

#[test]
fn failed_group_sync_fails_every_covered_writer_and_stops_the_handle() {
    for fail_at in [1, 2, 5, 20] {
        let sim = SimVfs::recording();
        let fault = FaultVfs::new(Arc::new(sim.clone()));
        let opts = Options::default()
            .sync(SyncMode::Always)
            .vfs(Arc::new(SlowSync::new(fault.clone())));
        let db = Arc::new(Bitask::open_with("/store", opts).unwrap());
        // The active file exists (and its directory entry is synced) before the fault is armed:
        // from here on, the only syncs are group commits.
        db.put("first", "v").unwrap();
        // Fails once only: a sync retried after the failure would succeed and could hide it.
        fault.arm(Plan {
            fault: Fault::SyncFail,
            at: fail_at,
            sticky: false,
        });
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (db, sim) = (db.clone(), sim.clone());
                std::thread::spawn(move || {
                    for i in 0..100_000 {
                        match db.put(key(t, i), [b'v'; 100]) {
                            Ok(()) => sim.mark(mark_of(t, i)),
                            Err(e) => return Some(e),
                        }
                    }
                    None
                })
            })
            .collect();
        let errors: Vec<Error> = threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap()
                    .expect("every writer fails after the failed sync")
            })
            .collect();
        let trace = sim.trace();
        // The writer that ran the failed sync gets its I/O error; everyone else, covered by it
        // or arriving later, finds the handle stopped with that error as the reason.
        let io = errors
            .iter()
            .filter(|e| matches!(e, Error::Io { .. }))
            .count();
        assert_eq!(io, 1, "fail_at {fail_at}: {errors:?}");
        for e in &errors {
            match e {
                Error::Io { .. } => assert!(e.to_string().contains("sync"), "{e}"),
                Error::Stopped(reason) => assert!(reason.contains("sync"), "{reason}"),
                other => panic!("fail_at {fail_at}: unexpected {other:?}"),
            }
        }
        assert_eq!(fault.injected(), 1);
        assert_eq!(
            fault.seen(),
            fail_at,
            "fail_at {fail_at}: a sync was attempted after the failed one"
        );
        assert!(matches!(db.put("after", "v"), Err(Error::Stopped(_))));
        assert!(matches!(db.sync(), Err(Error::Stopped(_))));
        // With syncs this slow, the failed one covered the records of other writers too:
        // those must have failed, not returned `Ok` (checked here on the log).
        check_acknowledged_puts_were_synced(&trace);
    }
}

/// What a durable put whose `fdatasync` fails leaves, as `Bitask::put` and `bitask_put`
/// document it: its record was published when it was appended, so readers see the new value
/// before the error and after; it gets the I/O error, a put waiting for the same sync gets
/// `Stopped` (its record published too), the handle accepts no more writes, and a reopen
/// finds each key with its new value or the one before.
#[test]
fn a_failed_durable_put_stays_visible_and_stops_the_handle() {
    let sim = SimVfs::new();
    let fault = FaultVfs::new(Arc::new(sim.clone()));
    let slow = SlowSync::new(fault.clone());
    let asked = slow.asked.clone();
    let opts = Options::default()
        .sync(SyncMode::Always)
        .vfs(Arc::new(slow));
    let db = Arc::new(Bitask::open_with("/store", opts).unwrap());
    for k in ["a", "b", "gone"] {
        db.put(k, "old").unwrap();
    }
    fault.arm(Plan {
        fault: Fault::SyncFail,
        at: 1,
        sticky: false,
    });
    asked.gate.set(true);
    let writer = |f: fn(&Bitask) -> bitask::Result<()>| {
        let db = db.clone();
        std::thread::spawn(move || f(&db))
    };
    // The first put's sync waits at the gate; the second put and the remove append (and
    // publish) meanwhile and wait for the next sync.
    let leader = writer(|db| db.put("a", "new"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let until = |what: &str, done: &dyn Fn() -> bool| {
        while !done() {
            assert!(Instant::now() < deadline, "{what} never happened");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    until("the first sync", &|| {
        asked.gate.waiting.load(Ordering::SeqCst) == 1
    });
    let follower = writer(|db| db.put("b", "new"));
    let remover = writer(|db| db.remove("gone"));
    until("the later writes", &|| {
        db.get("b").unwrap().as_deref() == Some(&b"new"[..]) && db.get("gone").unwrap().is_none()
    });
    // Visible before any sync covered them.
    assert_eq!(db.get("a").unwrap().as_deref(), Some(&b"new"[..]));
    asked.gate.set(false);
    match leader.join().unwrap() {
        Err(e @ Error::Io { .. }) => {
            assert!(e.to_string().starts_with("sync "), "{e}");
            assert!(e.to_string().contains("Input/output error"), "{e}");
        }
        other => panic!("the put whose sync failed: {other:?}"),
    }
    for (what, r) in [("put", follower.join()), ("remove", remover.join())] {
        assert!(
            matches!(r.unwrap(), Err(Error::Stopped(ref why)) if why.contains("Input/output error")),
            "{what} waiting for the failed sync"
        );
    }
    // Still visible, in this handle, to gets and iteration alike.
    let expect: Vec<(Vec<u8>, Vec<u8>)> = [("a", "new"), ("b", "new")]
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    let seen: Vec<(Vec<u8>, Vec<u8>)> = db.iter().map(|r| r.unwrap()).collect();
    assert_eq!(seen, expect);
    // Stopped: no write is taken, and none becomes visible.
    assert!(matches!(db.put("c", "v"), Err(Error::Stopped(_))));
    assert_eq!(db.get("c").unwrap(), None);
    assert!(matches!(db.remove("a"), Err(Error::Stopped(_))));
    assert!(matches!(db.sync(), Err(Error::Stopped(_))));
    assert!(matches!(db.compact(), Err(Error::Stopped(_))));
    assert_eq!(fault.injected(), 1);
    drop(db);
    // The simulated disk kept what was written: here the new values survive the reopen; a
    // real disk may have kept either.
    let db = Bitask::open_with("/store", Options::default().vfs(Arc::new(sim))).unwrap();
    for (k, v) in [("a", Some("new")), ("b", Some("new")), ("gone", None)] {
        assert_eq!(db.get(k).unwrap().as_deref(), v.map(str::as_bytes), "{k}");
    }
}

#[test]
fn syncs_outside_group_commit_never_overlap_and_a_failure_fails_every_later_sync() {
    let sim = SimVfs::recording();
    let fault = FaultVfs::new(Arc::new(sim.clone()));
    // The interval flusher syncs beside the callers' own syncs.
    let opts = Options::default()
        .sync(SyncMode::Interval(Duration::from_millis(1)))
        .vfs(Arc::new(SlowSync::new(fault.clone())));
    let db = Arc::new(Bitask::open_with("/store", opts).unwrap());
    db.put("first", "v").unwrap();
    fault.arm(Plan {
        fault: Fault::SyncFail,
        at: 40,
        sticky: false,
    });
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut results = Vec::new();
                for i in 0..200 {
                    if db.put(key(t, i), [b'v'; 100]).is_err() {
                        break;
                    }
                    results.push(db.sync());
                }
                results
            })
        })
        .collect();
    let results: Vec<Vec<Result<(), Error>>> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(fault.injected(), 1, "the failure was injected");
    for r in &results {
        // Once a thread saw a sync fail, none of its later syncs succeeds.
        if let Some(first_err) = r.iter().position(|x| x.is_err()) {
            assert!(r[first_err..].iter().all(|x| x.is_err()), "{r:?}");
        }
    }
    // The failed sync is a caller's (which then sees the I/O error) or the interval
    // flusher's (callers then see the handle stopped): either way it reaches the callers.
    assert!(results.iter().any(|r| r
        .iter()
        .any(|x| matches!(x, Err(Error::Io { .. } | Error::Stopped(_))))));
    assert!(db.sync().is_err(), "the handle is stopped");
    assert_eq!(
        OVERLAPPING_SYNCS.load(Ordering::SeqCst),
        0,
        "syncs of one file overlapped"
    );
}

/// Prefaulting a file for writing dirties its pages, and the fdatasync a durable put waits
/// for would then write them all back: a store syncing every write never prefaults, one
/// without syncs does.
#[test]
fn only_stores_without_durable_writes_prefault() {
    for (mode, prefaults) in [(SyncMode::Always, false), (SyncMode::None, true)] {
        // About three files' worth: rotations, and files made ahead by the preparer.
        let asked = what_a_store_asks(mode, SimVfs::new(), 300);
        let asked = asked.prefaults.load(Ordering::SeqCst);
        assert_eq!(asked > 0, prefaults, "{mode:?}: {asked} prefaults");
    }
}

/// What a store in `mode` on `sim` asks of the file system while `puts` puts of 100-byte
/// values fill 16 KiB files.
fn what_a_store_asks(mode: SyncMode, sim: SimVfs, puts: usize) -> Arc<Asked> {
    let vfs = Arc::new(SlowSync::new(sim));
    let opts = Options::default()
        .sync(mode)
        .max_file_size(16 * 1024)
        .vfs(vfs.clone());
    let db = Bitask::open_with("/store", opts).unwrap();
    for i in 0..puts {
        db.put(format!("key{i}"), [b'v'; 100]).unwrap();
    }
    drop(db);
    vfs.asked.clone()
}

/// Huge pages are written back whole: with every write synced, each sync would write 2 MiB.
/// Without, a writer that has filled a file at a steady pace gets them for the next ones,
/// reserved before the file's first write so that they cover it all.
#[test]
fn only_stores_without_durable_writes_ask_for_huge_pages_before_writing() {
    for (mode, huge) in [(SyncMode::Always, false), (SyncMode::None, true)] {
        // About five files' worth: the pace is known once the first is full.
        let sim = SimVfs::new().with_reserve(Reserve::ZeroExtend);
        let asked = what_a_store_asks(mode, sim, 600);
        let huge_pages = asked.huge_pages.load(Ordering::SeqCst);
        assert_eq!(
            huge_pages > 0,
            huge,
            "{mode:?}: {huge_pages} files asked for huge pages"
        );
        assert_eq!(asked.late_reservations.load(Ordering::SeqCst), 0);
    }
}
