//! I/O faults, after SQLite's I/O-error loop: through a whole workload (open, puts, removes,
//! reads, iteration, rotation, compaction, sync, reopen, close), the Nth eligible file-system
//! operation fails (ENOSPC, EIO, a short write, a failed fsync), once and from then on, for
//! N = 1, 2, ... until the workload runs out of operations. Every call must return a clean
//! error (an I/O error naming the cause, `Stopped`, or `KeyNotFound`), reads never return a
//! value the key did not have, nothing panics and no file or lock stays open after the
//! handle is gone; after the fault clears, the store reopens with content matching the model
//! and accepts writes. The workload's write batches, put-if-absent and compare-and-set calls
//! fail as cleanly, and a batch that failed is, after the reopen, there whole or not at all.
//!
//! Also a real full disk: a tiny tmpfs in a user namespace (skipped, with a message, where
//! user namespaces are not allowed), filled until puts fail.

mod common;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bitask::vfs::fault::{Fault, FaultVfs, Plan};
use bitask::vfs::sim::SimVfs;
use bitask::vfs::{PosixVfs, Vfs};
use bitask::{Bitask, Error, Options, SyncMode};
use common::{key, value, Content, Rng};

#[derive(Clone, Debug)]
enum Step {
    Put(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
    /// A write batch on distinct keys: a put (`Some`) or a removal of each.
    Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>),
    PutIfAbsent(Vec<u8>, Vec<u8>),
    /// Compare-and-set of a key to a value (`None`: removal), expecting the value the model
    /// holds for it, or (`stale`) one it never had.
    Cas {
        key: Vec<u8>,
        new: Option<Vec<u8>>,
        stale: bool,
    },
    Get(Vec<u8>),
    Iterate,
    Compact,
    /// An automatic merge of a prefix (`merge_if_due`, with triggers that fire on a tiny
    /// store): a fault in the middle leaves the store as it was.
    AutoMerge,
    Sync,
    Reopen,
}

fn plan(seed: u64, n: usize) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    let mut version = 0;
    (0..n)
        .map(|_| {
            let k = key(rng.below(12));
            match rng.below(100) {
                0..=44 => {
                    version += 1;
                    let len = rng.below(40) as usize;
                    Step::Put(k.clone(), value(&k, version, len))
                }
                45..=59 => Step::Remove(k),
                60..=71 => Step::Get(k),
                72..=75 => {
                    let mut keys: Vec<u64> = (0..2 + rng.below(3)).map(|_| rng.below(12)).collect();
                    keys.sort_unstable();
                    keys.dedup();
                    let ops = keys.into_iter().map(|n| {
                        let k = key(n);
                        if rng.below(4) == 0 {
                            return (k, None);
                        }
                        version += 1;
                        let v = value(&k, version, rng.below(40) as usize);
                        (k, Some(v))
                    });
                    Step::Batch(ops.collect())
                }
                76..=77 => {
                    version += 1;
                    let v = value(&k, version, rng.below(40) as usize);
                    Step::PutIfAbsent(k, v)
                }
                78..=79 => {
                    version += 1;
                    let new = (rng.below(5) != 0).then(|| value(&k, version, 20));
                    let stale = rng.below(4) == 0;
                    Step::Cas { key: k, new, stale }
                }
                80..=84 => Step::Iterate,
                85..=87 => Step::Compact,
                88..=90 => Step::AutoMerge,
                91..=95 => Step::Sync,
                _ => Step::Reopen,
            }
        })
        .collect()
}

/// For each key, the outcomes still possible: `None` is "absent".
#[derive(Default, Debug)]
struct Possible(BTreeMap<Vec<u8>, Vec<Option<Vec<u8>>>>);

impl Possible {
    fn get(&self, k: &[u8]) -> Vec<Option<Vec<u8>>> {
        self.0.get(k).cloned().unwrap_or_else(|| vec![None])
    }

    fn settle(&mut self, k: &[u8], v: Option<Vec<u8>>) {
        self.0.insert(k.to_vec(), vec![v]);
    }

    fn maybe(&mut self, k: &[u8], v: Option<Vec<u8>>) {
        let e = self.0.entry(k.to_vec()).or_insert_with(|| vec![None]);
        if !e.contains(&v) {
            e.push(v);
        }
    }

    fn allows(&self, k: &[u8], v: Option<&Vec<u8>>) -> bool {
        self.get(k).iter().any(|p| p.as_ref() == v)
    }
}

/// The puts of batches whose write failed, which must be there whole or not at all after
/// the reopen, while no later write touched their keys (values are unique: each is there or
/// not).
#[derive(Default, Debug)]
struct FailedBatches(Vec<Vec<(Vec<u8>, Vec<u8>)>>);

impl FailedBatches {
    /// A later write of `k`: the batches holding it can no longer be judged.
    fn touch(&mut self, k: &[u8]) {
        self.0.retain(|b| b.iter().all(|(bk, _)| bk != k));
    }

    /// What is wrong with `got`, the content after the reopen, if anything.
    fn check(&self, got: &Content) -> Result<(), String> {
        for b in &self.0 {
            let there = b.iter().filter(|(k, v)| got.get(k) == Some(v)).count();
            if there != 0 && there != b.len() {
                return Err(format!(
                    "a failed batch is half there after reopen: {there} of {} puts",
                    b.len()
                ));
            }
        }
        Ok(())
    }
}

/// What one run of the workload under one fault plan found wrong, if anything.
fn run_once(
    inner: Arc<dyn Vfs>,
    dir: &Path,
    sync: SyncMode,
    steps: &[Step],
    plan: Plan,
) -> (Result<(), String>, u64, bool, u64) {
    let fv = FaultVfs::new(inner.clone());
    // Merges run at the workload's steps, not on the merge thread, so that every run makes
    // the same operations and "the Nth one fails" means the same one.
    let opts = |v: Arc<dyn Vfs>| {
        Options::default()
            .max_file_size(200)
            .sync(sync)
            .auto_merge(false)
            .merge(common::eager_merge(200))
            .vfs(v)
    };
    let errno = match plan.fault {
        Fault::Enospc | Fault::ShortWrite | Fault::Full => "No space left on device",
        Fault::Eio | Fault::SyncFail => "Input/output error",
    };
    let clean = |e: &Error, what: &str| -> Result<(), String> {
        match e {
            // A full disk fails no sync, and every other step it can fail can be undone.
            Error::Stopped(_) if plan.fault == Fault::Full => {
                Err(format!("{what}: a full disk stopped the handle: {e}"))
            }
            Error::Io { .. } | Error::Stopped(_) if e.to_string().contains(errno) => Ok(()),
            _ => Err(format!("{what}: unclean error: {e:?}")),
        }
    };
    let mut model = Possible::default();
    let mut failed = FailedBatches::default();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        fv.arm(plan);
        let fv_dyn: Arc<dyn Vfs> = Arc::new(fv.clone());
        let mut db = None;
        let open = |db: &mut Option<Bitask>| -> Result<(), String> {
            match open_retrying(dir, || opts(fv_dyn.clone())) {
                Ok(h) => {
                    *db = Some(h);
                    Ok(())
                }
                Err(e) => clean(&e, "open"),
            }
        };
        open(&mut db)?;
        for (i, s) in steps.iter().enumerate() {
            let what = format!("step {i} {s:?}");
            if db.is_none() || matches!(s, Step::Reopen) {
                if let Some(h) = db.take() {
                    if let Err(e) = h.close() {
                        clean(&e, &what)?;
                    }
                }
                open(&mut db)?;
            }
            let Some(h) = db.as_ref() else { continue };
            match s {
                Step::Put(k, _) | Step::Remove(k) | Step::PutIfAbsent(k, _) => failed.touch(k),
                Step::Cas { key, .. } => failed.touch(key),
                Step::Batch(ops) => ops.iter().for_each(|(k, _)| failed.touch(k)),
                _ => {}
            }
            match s {
                Step::Put(k, v) => match h.put(k, v) {
                    Ok(()) => model.settle(k, Some(v.clone())),
                    Err(e @ Error::Stopped(_)) => clean(&e, &what)?,
                    Err(e) => {
                        clean(&e, &what)?;
                        model.maybe(k, Some(v.clone()));
                    }
                },
                Step::Remove(k) => match h.remove(k) {
                    Ok(()) => model.settle(k, None),
                    Err(Error::KeyNotFound) => {
                        if !model.allows(k, None) {
                            return Err(format!("{what}: KeyNotFound for a key that is present"));
                        }
                    }
                    Err(e @ Error::Stopped(_)) => clean(&e, &what)?,
                    Err(e) => {
                        clean(&e, &what)?;
                        model.maybe(k, None);
                    }
                },
                Step::Batch(ops) => {
                    let mut batch = bitask::WriteBatch::new();
                    for (k, v) in ops {
                        match v {
                            Some(v) => batch.put(k, v).unwrap(),
                            None => batch.remove(k).unwrap(),
                        }
                    }
                    match h.write(&batch) {
                        Ok(()) => ops.iter().for_each(|(k, v)| model.settle(k, v.clone())),
                        Err(e) => {
                            clean(&e, &what)?;
                            ops.iter().for_each(|(k, v)| model.maybe(k, v.clone()));
                            let puts = ops
                                .iter()
                                .filter_map(|(k, v)| Some((k.clone(), v.clone()?)));
                            failed.0.push(puts.collect());
                        }
                    }
                }
                Step::PutIfAbsent(k, v) => match h.put_if_absent(k, v) {
                    Ok(true) if model.allows(k, None) => model.settle(k, Some(v.clone())),
                    Ok(true) => return Err(format!("{what}: stored over a present key")),
                    Ok(false) if model.get(k) == [None] => {
                        return Err(format!("{what}: refused for an absent key"))
                    }
                    Ok(false) => {}
                    Err(e) => {
                        clean(&e, &what)?;
                        model.maybe(k, Some(v.clone()));
                    }
                },
                Step::Cas { key: k, new, stale } => {
                    let expected = if *stale {
                        Some(b"never a value".to_vec())
                    } else {
                        model.get(k).into_iter().next().flatten()
                    };
                    match h.compare_and_set(k, expected.as_deref(), new.as_deref()) {
                        Ok(true) if model.allows(k, expected.as_ref()) => {
                            model.settle(k, new.clone())
                        }
                        Ok(true) => return Err(format!("{what}: set on a value it did not have")),
                        Ok(false) if model.get(k) == [expected] => {
                            return Err(format!("{what}: refused though the value matched"))
                        }
                        Ok(false) => {}
                        Err(e) => {
                            clean(&e, &what)?;
                            model.maybe(k, new.clone());
                        }
                    }
                }
                Step::Get(k) => match h.get(k) {
                    Ok(v) if model.allows(k, v.as_ref()) => {}
                    Ok(v) => {
                        return Err(format!("{what}: read {v:?}, possible {:?}", model.get(k)))
                    }
                    Err(e) => clean(&e, &what)?,
                },
                Step::Iterate => {
                    for item in h.iter() {
                        match item {
                            Ok((k, v)) if model.allows(&k, Some(&v)) => {}
                            Ok((k, v)) => return Err(format!("{what}: iterated {k:?} = {v:?}")),
                            Err(e) => {
                                clean(&e, &what)?;
                                break;
                            }
                        }
                    }
                }
                Step::Compact => {
                    if let Err(e) = h.compact() {
                        clean(&e, &what)?;
                    }
                }
                Step::AutoMerge => {
                    if let Err(e) = h.merge_if_due() {
                        clean(&e, &what)?;
                    }
                }
                Step::Sync => {
                    if let Err(e) = h.sync() {
                        clean(&e, &what)?;
                    }
                }
                Step::Reopen => {}
            }
        }
        fv.disarm();
        if let Some(h) = db.take() {
            if let Err(e) = h.close() {
                clean(&e, "close")?;
            }
        }
        Ok(())
    }));
    let injected = fv.injected();
    let hit = fv.seen() >= plan.at;
    let result = match outcome {
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            Err(format!("panic: {msg:?}"))
        }
        Ok(Err(e)) => Err(e),
        Ok(Ok(())) => {
            if fv.open_files() != 0 || fv.held_locks() != 0 {
                Err(format!(
                    "leak: {} files and {} locks open after close",
                    fv.open_files(),
                    fv.held_locks()
                ))
            } else {
                verify(inner, dir, sync, &model, &failed)
            }
        }
    };
    (result, injected, hit, failed.0.len() as u64)
}

/// After the fault: the store opens on the plain file system, matches the model, takes a
/// write and keeps it across a reopen.
fn verify(
    inner: Arc<dyn Vfs>,
    dir: &Path,
    sync: SyncMode,
    model: &Possible,
    failed: &FailedBatches,
) -> Result<(), String> {
    let opts = || {
        Options::default()
            .max_file_size(200)
            .sync(sync)
            .vfs(inner.clone())
    };
    let db = open_retrying(dir, opts).map_err(|e| format!("reopen after the fault: {e}"))?;
    let got = common::read_all(&db).map_err(|e| format!("read after the fault: {e}"))?;
    failed.check(&got)?;
    for (k, v) in &got {
        if !model.allows(k, Some(v)) {
            return Err(format!(
                "after reopen {:?} = {:?}, possible {:?}",
                String::from_utf8_lossy(k),
                String::from_utf8_lossy(v),
                model.get(k)
            ));
        }
    }
    for k in model.0.keys() {
        if !got.contains_key(k) && !model.allows(k, None) {
            return Err(format!(
                "after reopen {:?} is missing",
                String::from_utf8_lossy(k)
            ));
        }
    }
    db.put("after", "fault")
        .map_err(|e| format!("put after the fault: {e}"))?;
    db.close()
        .map_err(|e| format!("close after the fault: {e}"))?;
    let db = open_retrying(dir, opts).map_err(|e| format!("second reopen: {e}"))?;
    match db.get("after") {
        Ok(Some(v)) if v == b"fault" => Ok(()),
        other => Err(format!("the write after the fault is gone: {other:?}")),
    }
}

#[derive(Default)]
struct Totals {
    runs: u64,
    injected: u64,
    /// Failed batches judged after the reopen (whole or absent).
    failed_batches: u64,
    failures: Vec<String>,
}

/// The I/O-error loop: N = 1, 2, ... until the fault is never reached.
fn fault_loop(
    name: &str,
    fault: Fault,
    sticky: bool,
    sync: SyncMode,
    real: bool,
    totals: &mut Totals,
) {
    let steps = plan(common::seed(7), if common::soak() { 400 } else { 60 });
    let mut at = 1;
    loop {
        // On tmpfs when there is one: the loop is about errors, not about waiting for disks.
        let tmp = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap();
        let (inner, dir): (Arc<dyn Vfs>, _) = if real {
            (Arc::new(PosixVfs), tmp.path().join("db"))
        } else {
            (Arc::new(SimVfs::new()), Path::new("/db").to_path_buf())
        };
        let plan = Plan { fault, at, sticky };
        let (result, injected, hit, batches) = run_once(inner, &dir, sync, &steps, plan);
        totals.failed_batches += batches;
        totals.runs += 1;
        totals.injected += injected;
        if let Err(e) = result {
            if totals.failures.len() < 10 {
                totals.failures.push(format!("{name} {plan:?}: {e}"));
            }
        }
        if !hit {
            break;
        }
        at += 1;
    }
}

fn run_kind(fault: Fault) {
    let mut t = Totals::default();
    for sticky in [false, true] {
        for (sync, real) in [(SyncMode::Always, true), (SyncMode::None, false)] {
            let name = format!(
                "{fault:?} {} {sync:?} on {}",
                if sticky { "from then on" } else { "once" },
                if real { "posix" } else { "sim" }
            );
            fault_loop(&name, fault, sticky, sync, real, &mut t);
        }
    }
    common::report(&format!(
        "io-faults {fault:?}: {} runs, {} faults injected (once and from then on, sync always on the real file system and sync none on the simulated one); {} failed batches judged; failures {}",
        t.runs,
        t.injected,
        t.failed_batches,
        t.failures.len()
    ));
    common::assert_no_failures(&t.failures);
    assert!(t.injected > 50, "too few faults injected: {}", t.injected);
}

#[test]
fn enospc_at_every_operation() {
    run_kind(Fault::Enospc);
}

#[test]
fn eio_at_every_operation() {
    run_kind(Fault::Eio);
}

#[test]
fn short_write_at_every_write() {
    run_kind(Fault::ShortWrite);
}

#[test]
fn failed_fsync_at_every_sync() {
    run_kind(Fault::SyncFail);
}

#[test]
fn full_disk_at_every_allocation() {
    run_kind(Fault::Full);
}

/// Where the disk runs full in `a_full_disk_fails_the_call_not_the_handle`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strike {
    /// Writing the seal of the full active file.
    Seal,
    /// Creating the next active file.
    Create,
    /// Appending a record.
    Record,
}

/// A full disk while sealing, creating a file or appending a record fails that put with
/// ENOSPC and stops nothing: every later put fails the same way while the disk stays full,
/// a crash then would leave no half-written bytes, and once space is freed the same handle
/// writes again with nothing lost.
#[test]
fn a_full_disk_fails_the_call_not_the_handle() {
    let mut lines = Vec::new();
    for sync in [SyncMode::Always, SyncMode::None] {
        for strike in [Strike::Seal, Strike::Create, Strike::Record] {
            lines.push(full_disk_at(strike, sync));
        }
    }
    common::report(&format!("io-faults full disk: {}", lines.join("; ")));
}

fn full_disk_at(strike: Strike, sync: SyncMode) -> String {
    let case = format!("{strike:?} {sync:?}");
    let tmp = tempfile::tempdir().unwrap();
    // Seal and Record: a file system without `fallocate` (the simulated one), where every
    // append needs new space. Create: the real one, where the active file's space is
    // reserved and only a new file needs any.
    let sim = SimVfs::new();
    let (inner, dir): (Arc<dyn Vfs>, PathBuf) = match strike {
        Strike::Create => (Arc::new(PosixVfs), tmp.path().join("db")),
        _ => (Arc::new(sim.clone()), PathBuf::from("/db")),
    };
    let opts = |v: Arc<dyn Vfs>| Options::default().max_file_size(1024).sync(sync).vfs(v);
    let fv = FaultVfs::new(inner.clone());
    let db = Bitask::open_with(&dir, opts(Arc::new(fv.clone()))).unwrap();
    let mut model = Content::new();
    // 100-byte records: nine fill a 1024-byte file (a 52-byte header, a 45-byte seal), the
    // tenth starts the next one.
    let put = |model: &mut Content, i: u64| -> bitask::Result<()> {
        let (k, v) = (key(i), value(&key(i), i, 65));
        db.put(&k, &v)?;
        model.insert(k, v);
        Ok(())
    };
    let mut next = match strike {
        Strike::Seal => 9,
        // Before the put that makes the file half full: the next file, made from then on in
        // the background, cannot be created either.
        Strike::Create => 4,
        Strike::Record => 3,
    };
    for i in 0..next {
        put(&mut model, i).unwrap();
    }
    fv.arm(Plan {
        fault: Fault::Full,
        at: 1,
        sticky: true,
    });
    if strike == Strike::Create {
        // Into reserved space: a full disk does not fail them.
        while next < 9 {
            put(&mut model, next)
                .unwrap_or_else(|e| panic!("{case}: put {next} into reserved space: {e}"));
            next += 1;
        }
    }
    for attempt in 0..3 {
        match put(&mut model, next) {
            Err(e @ Error::Io { .. })
                if matches!(&e, Error::Io { source, .. }
                    if source.raw_os_error() == Some(libc::ENOSPC))
                    && e.to_string().contains("No space left on device") => {}
            other => panic!("{case}: put {next} on a full disk (attempt {attempt}): {other:?}"),
        }
    }
    let injected = fv.injected();
    // Background seals (a file sealed before the disk filled) done; a sync needs no space.
    db.sync()
        .unwrap_or_else(|e| panic!("{case}: sync on a full disk: {e}"));
    // A crash now would find no half-written record or seal, and every acknowledged put.
    let crashed = tmp.path().join("crashed");
    let crash_vfs: Arc<dyn Vfs> = match strike {
        Strike::Create => {
            std::fs::create_dir(&crashed).unwrap();
            for entry in std::fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), crashed.join(entry.file_name())).unwrap();
            }
            Arc::new(PosixVfs)
        }
        _ => Arc::new(SimVfs::from_image(&sim.image())),
    };
    let crash_dir = if strike == Strike::Create {
        &crashed
    } else {
        &dir
    };
    let after_crash = Bitask::open_with(crash_dir, opts(crash_vfs)).unwrap();
    assert_eq!(
        after_crash.stats().torn_bytes,
        0,
        "{case}: half-written bytes"
    );
    assert_eq!(common::read_all(&after_crash).unwrap(), model, "{case}");
    drop(after_crash);
    // Space is freed: the same handle writes again, past another rotation.
    fv.disarm();
    for i in next..next + 12 {
        put(&mut model, i).unwrap_or_else(|e| panic!("{case}: put {i} once space was freed: {e}"));
    }
    assert_eq!(common::read_all(&db).unwrap(), model, "{case}");
    db.close().unwrap();
    let db = Bitask::open_with(&dir, opts(inner)).unwrap();
    assert_eq!(
        common::read_all(&db).unwrap(),
        model,
        "{case}: after reopen"
    );
    assert_eq!(db.stats().torn_bytes, 0, "{case}");
    format!(
        "{case}: 3 puts failed with ENOSPC ({injected} operations refused), then {} keys kept",
        model.len()
    )
}

/// The child side of `full_tmpfs`: runs inside the user namespace with a tiny tmpfs mounted
/// at `BITASK_TMPFS_DIR`.
#[test]
fn full_tmpfs_child() {
    let Ok(dir) = std::env::var("BITASK_TMPFS_DIR") else {
        return;
    };
    let dir = Path::new(&dir).join("db");
    let opts = || {
        Options::default()
            .max_file_size(16 * 1024)
            .sync(SyncMode::Always)
    };
    let db = Bitask::open_with(&dir, opts()).expect("open on tmpfs");
    let mut acked = BTreeMap::new();
    let mut puts = 0u64;
    let mut err = None;
    for i in 0..100_000u64 {
        let k = key(i % 500);
        let v = value(&k, i, 300);
        match db.put(&k, &v) {
            Ok(()) => {
                acked.insert(k, v);
                puts += 1;
            }
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let err = err.expect("a 256 KiB tmpfs filled up");
    assert!(
        matches!(&err, Error::Io { source, .. } if source.raw_os_error() == Some(libc::ENOSPC)),
        "{err:?}"
    );
    assert!(err.to_string().contains("No space left on device"), "{err}");
    for (k, v) in &acked {
        assert_eq!(db.get(k).unwrap().as_ref(), Some(v));
    }
    // Compaction needs space too: it either works or fails cleanly.
    if let Err(e) = db.compact() {
        assert!(matches!(e, Error::Io { .. } | Error::Stopped(_)), "{e:?}");
    }
    drop(db);
    let db = Bitask::open_with(&dir, opts()).expect("reopen a full store");
    let got = common::read_all(&db).unwrap();
    assert_eq!(got, acked, "content after reopen");
    // Freeing space by removing keys (tombstones take space too) then writing again.
    for k in acked.keys().take(50) {
        if db.remove(k).is_err() {
            break;
        }
    }
    println!("TMPFS-OK {puts} acknowledged puts of {} keys before ENOSPC ({err}), all present after reopen", acked.len());
}

#[test]
fn full_tmpfs() {
    if std::env::var("BITASK_TMPFS_DIR").is_ok() {
        return;
    }
    if let Some(line) = in_tiny_tmpfs("full_tmpfs_child", "TMPFS-OK") {
        common::report(&format!("io-faults tmpfs: 256 KiB tmpfs filled: {line}"));
    }
}

/// The child side of `full_tmpfs_while_sealing`, in its own 256 KiB tmpfs: a store reopened
/// on a full disk cannot reserve space for its active file, so the seal that closes it needs
/// a new page; each sync mode in turn.
#[test]
fn full_tmpfs_while_sealing_child() {
    let Ok(mnt) = std::env::var("BITASK_TMPFS_DIR") else {
        return;
    };
    let mnt = Path::new(&mnt);
    let page = page_size();
    let mut lines = Vec::new();
    for sync in [SyncMode::Always, SyncMode::None] {
        let dir = mnt.join(format!("db-{sync:?}"));
        let opts = || Options::default().max_file_size(4 * page).sync(sync);
        // One record ending 10 bytes short of the second page: the seal after it (45 bytes)
        // needs the third page, which the full disk does not have.
        let end = 2 * page - 10;
        let first = value(&key(0), 0, (end - 52 - 29 - key(0).len() as u64) as usize);
        let mut model = Content::new();
        {
            let db = Bitask::open_with(&dir, opts()).expect("open on tmpfs");
            db.put(key(0), &first).unwrap();
            model.insert(key(0), first);
            db.close().unwrap();
        }
        let active = only_active_file(&dir);
        assert_eq!(std::fs::metadata(&active).unwrap().len(), end);
        let filler = mnt.join("filler");
        let filled = fill(&filler);
        let db = Bitask::open_with(&dir, opts()).expect("reopen on a full tmpfs");
        let (k, v) = (key(1), value(&key(1), 1, 10));
        for attempt in 0..3 {
            match db.put(&k, &v) {
                Err(Error::Io { op, source, .. })
                    if op == "write seal of" && source.raw_os_error() == Some(libc::ENOSPC) => {}
                other => panic!("{sync:?}: put on a full tmpfs (attempt {attempt}): {other:?}"),
            }
            // The partial seal was cut away again.
            assert_eq!(std::fs::metadata(&active).unwrap().len(), end, "{sync:?}");
        }
        std::fs::remove_file(&filler).unwrap();
        for i in 1..20u64 {
            let (k, v) = (key(i), value(&key(i), i, 300));
            db.put(&k, &v)
                .unwrap_or_else(|e| panic!("{sync:?}: put {i} once space was freed: {e}"));
            model.insert(k, v);
        }
        db.close().unwrap();
        let db = Bitask::open_with(&dir, opts()).unwrap();
        assert_eq!(common::read_all(&db).unwrap(), model, "{sync:?}");
        assert_eq!(db.stats().torn_bytes, 0, "{sync:?}");
        lines.push(format!(
            "{sync:?}: 3 puts failed writing the seal after a {filled}-byte filler, then 19 kept"
        ));
    }
    println!("TMPFS-SEAL-OK {}", lines.join("; "));
}

#[test]
fn full_tmpfs_while_sealing() {
    if std::env::var("BITASK_TMPFS_DIR").is_ok() {
        return;
    }
    if let Some(line) = in_tiny_tmpfs("full_tmpfs_while_sealing_child", "TMPFS-SEAL-OK") {
        common::report(&format!("io-faults tmpfs while sealing: {line}"));
    }
}

/// The page size, in which tmpfs hands out space.
fn page_size() -> u64 {
    let out = std::process::Command::new("getconf")
        .arg("PAGESIZE")
        .output()
        .expect("getconf");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn only_active_file(dir: &Path) -> PathBuf {
    let active: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".active.log"))
        .collect();
    assert_eq!(active.len(), 1, "{active:?}");
    active[0].clone()
}

/// Writes `path` until the file system is full; returns its length.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = [0x5a_u8; 4096];
    let mut len = 0;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => len += n as u64,
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    len
}

/// Runs test `child` of this binary inside a user and mount namespace with a 256 KiB tmpfs
/// mounted at `BITASK_TMPFS_DIR`, and returns the rest of the line it prints after `marker`.
/// `None` (after saying so) where that cannot be done: no `unshare`, or no user namespaces.
fn in_tiny_tmpfs(child: &str, marker: &str) -> Option<String> {
    let mnt = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let script = r#"mount -t tmpfs -o size=256k bitask-test "$1" || exit 77; shift; exec "$@""#;
    let out = std::process::Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(mnt.path())
        .arg(&exe)
        .args(["--exact", child, "--nocapture", "--test-threads=1"])
        .env("BITASK_TMPFS_DIR", mnt.path())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            println!("SKIPPED {child}: cannot run unshare ({e})");
            common::report(&format!("io-faults tmpfs: {child} skipped (no unshare)"));
            return None;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && !stdout.contains("running 1 test") {
        println!(
            "SKIPPED {child}: no user namespace with a tmpfs here ({}): {}",
            out.status,
            stderr.trim()
        );
        common::report(&format!(
            "io-faults tmpfs: {child} skipped (user namespaces not allowed)"
        ));
        return None;
    }
    assert!(
        out.status.success() && stdout.contains(marker),
        "child failed:\n{stdout}\n{stderr}"
    );
    let line = stdout
        .split(&format!("{marker} "))
        .nth(1)
        .and_then(|l| l.lines().next())
        .unwrap_or("");
    Some(line.to_string())
}

/// Opens after a close (in the fault loop and when verifying). Another test of this binary
/// starts a process (`unshare`); between its fork and its exec the child holds copies of
/// every descriptor, the writer lock's included, so a reopen at that instant can briefly see
/// the lock taken. Retry that case (a lock really left held still fails after a second).
fn open_retrying(dir: &std::path::Path, opts: impl Fn() -> Options) -> bitask::Result<Bitask> {
    let mut tries = 0;
    loop {
        match Bitask::open_with(dir, opts()) {
            Err(bitask::Error::WriterLock) if tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}
