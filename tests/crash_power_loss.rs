//! Simulated power loss, ALICE-style: run a workload on the recording file system, then at
//! EVERY point of its operation log produce each disk a power cut could leave there
//! (`vfs::sim::Replayer::crash_images`), recover the store from it and check:
//! - every write acknowledged as durable is present (sync mode, `sync`, `compact`);
//! - with `SyncMode::Always`, the content equals the model after some prefix of the history
//!   (no holes): at least the durable steps, at most the steps begun. Without it, files are
//!   sealed in the background, so a later file may survive an earlier one's unsynced tail:
//!   each key must then show its value after some such prefix (counted as "holes");
//! - no durably deleted key is back;
//! - the store opens, accepts a write, and reopens with it.
//!
//! Recoveries that repair the disk are themselves cut by power at every point of their log
//! and checked the same way (a crash during recovery).
//!
//! `SOAK=1` runs longer histories; `SEED=<n>` changes them.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bitask::vfs::sim::{CrashConfig, Image, Op, Replayer, Reserve, SimVfs};
use bitask::{Bitask, Options, SyncMode};
use common::{key, prefix_states, read_all, value, Content, Rng, Step};

const BEGIN: u64 = 1 << 40;
const DURABLE: u64 = 2 << 40;
const PROBE: &[u8] = b"~probe";
const NEST_EVERY: u64 = 8;

#[derive(Clone, Copy, Debug)]
struct Workload {
    name: &'static str,
    sync: SyncMode,
    max_file_size: u64,
    reserve: Reserve,
    keys: u64,
    steps: usize,
    max_value: usize,
    compact_every: u64,
    /// Compactions are automatic merges (`merge_if_due`, with triggers low enough to fire
    /// on these tiny stores; of windows that leave older files in place, among others)
    /// instead of `compact`.
    auto_merge: bool,
    reopen_every: u64,
    sync_every: u64,
    /// One step in this many is a write batch of 2 to `2 + batch_max` operations (0: none).
    batch_every: u64,
    seed: u64,
}

impl Workload {
    fn opts(&self, vfs: SimVfs) -> Options {
        // The merge thread stays off: merges happen at the history's steps, so every run
        // of a history writes the same operation log.
        let opts = Options::default()
            .max_file_size(self.max_file_size)
            .sync(self.sync)
            .auto_merge(false)
            .vfs(Arc::new(vfs));
        if self.auto_merge {
            opts.merge(common::eager_merge(self.max_file_size))
        } else {
            opts
        }
    }

    fn sim(&self, image: Option<&Image>) -> SimVfs {
        let v = match image {
            Some(i) => SimVfs::recording_from(i),
            None => SimVfs::recording(),
        };
        v.with_reserve(self.reserve)
    }
}

fn dir() -> PathBuf {
    PathBuf::from("/store")
}

/// The history a workload runs: puts and removes of few keys, with compactions, syncs and
/// reopens sprinkled in.
fn plan(w: &Workload) -> Vec<Step> {
    let mut rng = Rng::new(common::seed(w.seed));
    let mut model = Content::new();
    let mut steps = Vec::new();
    let mut version = 0;
    while steps.len() < w.steps {
        let roll = rng.below(1000);
        let step = if w.compact_every > 0 && roll < 1000 / w.compact_every {
            Step::Compact
        } else if w.reopen_every > 0 && roll % 997 < 997 / w.reopen_every {
            Step::Reopen
        } else if w.sync_every > 0 && roll % 991 < 991 / w.sync_every {
            Step::Sync
        } else if w.batch_every > 0 && roll % 983 < 983 / w.batch_every {
            let n = 2 + rng.below(5) as usize;
            let ops = (0..n)
                .map(|_| {
                    let k = key(rng.below(w.keys));
                    if rng.pct(25) {
                        return (k, None);
                    }
                    version += 1;
                    let len = rng.below(w.max_value as u64 + 1) as usize;
                    let v = value(&k, version, len);
                    (k, Some(v))
                })
                .collect();
            Step::Batch(ops)
        } else {
            let k = key(rng.below(w.keys));
            if model.contains_key(&k) && rng.pct(30) {
                Step::Remove(k)
            } else {
                version += 1;
                let len = rng.below(w.max_value as u64 + 1) as usize;
                Step::Put(k.clone(), value(&k, version, len))
            }
        };
        step.apply(&mut model);
        steps.push(step);
    }
    steps
}

/// Runs the history on a recording file system, with markers: BEGIN|i before step i, and
/// DURABLE|n once steps 0..n are durable.
fn run(w: &Workload, steps: &[Step]) -> SimVfs {
    let vfs = w.sim(None);
    let open =
        || Bitask::open_with(dir(), w.opts(vfs.clone())).expect("open on the simulated disk");
    let mut db = open();
    let (mut merges, mut windows) = (0, 0);
    for (i, s) in steps.iter().enumerate() {
        vfs.mark(BEGIN | i as u64);
        let durable = match s {
            Step::Put(k, v) => {
                db.put(k, v).unwrap();
                w.sync == SyncMode::Always
            }
            Step::Remove(k) => {
                db.remove(k).unwrap();
                w.sync == SyncMode::Always
            }
            Step::Compact if w.auto_merge => {
                let oldest = oldest_sealed(&vfs);
                let r = db.merge_if_due().unwrap();
                merges += r.due as usize;
                windows += (r.due && Some(r.files[0].id) != oldest) as usize;
                w.sync == SyncMode::Always
            }
            Step::Batch(_) => {
                db.write(&s.write_batch()).unwrap();
                w.sync == SyncMode::Always
            }
            Step::Compact => {
                db.compact().unwrap();
                true
            }
            Step::Sync => {
                db.sync().unwrap();
                true
            }
            Step::Reopen => {
                drop(db);
                db = open();
                w.sync == SyncMode::Always
            }
        };
        if durable {
            vfs.mark(DURABLE | (i as u64 + 1));
        }
    }
    drop(db);
    assert!(
        !w.auto_merge || merges >= 3,
        "{}: only {merges} automatic merges ran",
        w.name
    );
    assert!(
        !w.auto_merge || windows >= 1,
        "{}: every automatic merge took the oldest file; none left older files in place",
        w.name
    );
    vfs
}

/// The id of the oldest sealed data file on the simulated disk.
fn oldest_sealed(vfs: &SimVfs) -> Option<u64> {
    use bitask::vfs::Vfs;
    let names = vfs.list_dir(&dir()).unwrap();
    let ids = names
        .iter()
        .filter_map(|n| n.strip_suffix(".log")?.parse().ok());
    ids.min()
}

/// What recovering one disk gave: the digest of the content, or why it failed.
type Verdict = Result<u64, String>;

fn content_digest(c: &Content) -> u64 {
    let mut img = Image::default();
    for (k, v) in c {
        img.files.insert(
            PathBuf::from(String::from_utf8_lossy(k).into_owned()),
            v.clone(),
        );
    }
    img.digest()
}

#[derive(Default)]
struct Tally {
    crash_points: u64,
    states: u64,
    distinct_images: u64,
    recovery_points: u64,
    recovery_states: u64,
    lost: u64,
    resurrected: u64,
    /// States that are no prefix of the history, but a prefix for each key (SyncMode::None).
    holes: u64,
    failures: Vec<String>,
}

struct Checker<'a> {
    w: &'a Workload,
    steps: &'a [Step],
    states: Vec<Content>,
    state_digests: Vec<u64>,
    cache: HashMap<u64, (Verdict, bool)>,
    tally: Tally,
}

impl Checker<'_> {
    /// Opens the store on `img`: the content (read, then a write accepted and a reopen) and
    /// the log of the disk changes opening made.
    fn open(&self, img: &Image) -> (Result<Content, String>, Vec<Op>) {
        let vfs = self.w.sim(Some(img));
        match Bitask::open_with(dir(), self.w.opts(vfs.clone())) {
            Err(e) => (Err(format!("open failed: {e}")), vfs.trace()),
            Ok(db) => {
                let open_trace = vfs.trace();
                (
                    probe(db, || Bitask::open_with(dir(), self.w.opts(vfs.clone()))),
                    open_trace,
                )
            }
        }
    }

    /// Recovers `img` (cached by digest): the verdict, and whether opening changed the disk.
    fn recover(&mut self, img: &Image) -> (Verdict, bool) {
        let d = img.digest();
        if let Some(r) = self.cache.get(&d) {
            return r.clone();
        }
        self.tally.distinct_images += 1;
        let (content, trace) = self.open(img);
        let repairs = trace.iter().any(|op| !matches!(op, Op::Mark(_)));
        let r = (content.map(|c| content_digest(&c)), repairs);
        self.cache.insert(d, r.clone());
        r
    }

    /// Checks one crash image against the history: steps `0..durable` are durable, steps
    /// `started..` never began. Returns true when opening it repaired the disk.
    fn check(
        &mut self,
        img: &Image,
        durable: usize,
        started: usize,
        what: &dyn Fn() -> String,
    ) -> bool {
        let (verdict, repairs) = self.recover(img);
        let hi = started.min(self.steps.len());
        let failure = match verdict {
            Err(e) => Some(e),
            Ok(d) if (durable..=hi).any(|i| self.state_digests[i] == d) => None,
            Ok(_) => {
                let c = self.open(img).0.expect("opened before");
                let (lost, back) = common::lost_and_resurrected(self.steps, durable, hi, &c);
                self.tally.lost += lost.len() as u64;
                self.tally.resurrected += back.len() as u64;
                if !lost.is_empty() || !back.is_empty() {
                    Some(format!("lost {lost:?}, resurrected {back:?}"))
                } else if self.w.sync == SyncMode::Always {
                    Some(format!(
                        "content ({} keys) is no prefix of the history in {durable}..={hi}",
                        c.len()
                    ))
                } else {
                    // Without SyncMode::Always, files are sealed (made durable) in the
                    // background, so a power cut may keep a later file's writes and lose an
                    // earlier one's: each key must still show a value of some prefix.
                    self.tally.holes += 1;
                    self.per_key_prefix(&c, durable, hi).err()
                }
            }
        };
        if let Some(e) = failure {
            if self.tally.failures.len() < 8 {
                self.tally.failures.push(format!("{}: {e}", what()));
            }
            return false;
        }
        repairs
    }

    /// Each key of `c` has the value (or absence) it had after some prefix in `lo..=hi`.
    fn per_key_prefix(&self, c: &Content, lo: usize, hi: usize) -> Result<(), String> {
        let mut keys: BTreeSet<&Vec<u8>> = c.keys().collect();
        for st in &self.states[lo..=hi] {
            keys.extend(st.keys());
        }
        for k in keys {
            let got = c.get(k);
            if !self.states[lo..=hi].iter().any(|st| st.get(k) == got) {
                return Err(format!(
                    "{} = {:?} is no value of the key in steps {lo}..={hi}",
                    String::from_utf8_lossy(k),
                    got.map(|v| String::from_utf8_lossy(v).into_owned())
                ));
            }
        }
        Ok(())
    }

    /// A power cut at every point of the recovery of `base`.
    fn cut_recovery(
        &mut self,
        base: &Image,
        durable: usize,
        started: usize,
        what: &dyn Fn() -> String,
    ) {
        let trace = self.open(base).1;
        let mut rep = Replayer::from_image(&trace, base);
        let cfg = CrashConfig {
            cuts_per_write: 8,
            garbage_and_zeros: true,
            dir_prefixes: 8,
        };
        loop {
            self.tally.recovery_points += 1;
            for (desc, img) in rep.crash_images(&cfg) {
                self.tally.recovery_states += 1;
                let at = rep.position();
                let inner = || format!("{} / crash in recovery after op {at}, {desc}", what());
                self.check(&img, durable, started, &inner);
            }
            if rep.step().is_none() {
                break;
            }
        }
    }
}

/// Reads the recovered store, then shows it accepts a write and reopens with it.
fn probe(db: Bitask, reopen: impl Fn() -> bitask::Result<Bitask>) -> Result<Content, String> {
    let content = read_all(&db).map_err(|e| format!("read after recovery: {e}"))?;
    db.put(PROBE, b"accepted")
        .map_err(|e| format!("put after recovery: {e}"))?;
    drop(db);
    let db = reopen().map_err(|e| format!("reopen after the probe write: {e}"))?;
    let mut again = read_all(&db).map_err(|e| format!("read after the probe write: {e}"))?;
    if again.remove(PROBE).as_deref() != Some(&b"accepted"[..]) || again != content {
        return Err("the store changed across a clean reopen".into());
    }
    Ok(content)
}

fn check_workload(w: Workload, nest: bool) {
    let steps = plan(&w);
    let vfs = run(&w, &steps);
    let trace = vfs.trace();
    let dirs: BTreeSet<PathBuf> = [Path::new("/"), Path::new("/store")]
        .iter()
        .map(|p| p.to_path_buf())
        .collect();
    let states = prefix_states(&steps);
    let mut ck = Checker {
        w: &w,
        steps: &steps,
        state_digests: states.iter().map(content_digest).collect(),
        states,
        cache: HashMap::new(),
        tally: Tally::default(),
    };
    let cfg = CrashConfig::default();
    let mut rep = Replayer::new(&trace, dirs);
    let (mut durable, mut started) = (0usize, 0usize);
    let mut changed = true;
    let mut nested = BTreeSet::new();
    let mut nested_step = usize::MAX;
    loop {
        if changed {
            ck.tally.crash_points += 1;
            // At the first crash point of each step and every NEST_EVERY-th one, the first
            // disk whose recovery repairs something is also cut by power at every point of
            // that recovery.
            let mut cut_one =
                nest && (started != nested_step || ck.tally.crash_points % NEST_EVERY == 0);
            nested_step = started;
            for (desc, img) in rep.crash_images(&cfg) {
                ck.tally.states += 1;
                let at = rep.position();
                let what = || {
                    format!(
                        "{}: crash after op {at} (step {started}: {:?}), {desc}",
                        w.name,
                        steps.get(started.wrapping_sub(1))
                    )
                };
                let repairs = ck.check(&img, durable, started, &what);
                if repairs && cut_one && nested.insert(img.digest()) {
                    cut_one = false;
                    ck.cut_recovery(&img, durable, started, &what);
                }
            }
        }
        match rep.step() {
            None => break,
            Some(Op::Mark(m)) => {
                changed = false;
                if m & DURABLE != 0 {
                    durable = (m & !DURABLE) as usize;
                } else {
                    started = (m & !BEGIN) as usize + 1;
                }
            }
            Some(_) => changed = true,
        }
    }
    let t = &ck.tally;
    common::report(&format!(
        "power-loss {}: {} steps, {} crash points, {} crash states checked ({} distinct disks), {} crash states during recovery at {} points; holes {}; lost {}, resurrected {}, failures {}",
        w.name,
        steps.len(),
        t.crash_points,
        t.states,
        t.distinct_images,
        t.recovery_states,
        t.recovery_points,
        t.holes,
        t.lost,
        t.resurrected,
        t.failures.len()
    ));
    assert!(
        t.failures.is_empty(),
        "{} failures, first ones:\n{}",
        t.failures.len(),
        t.failures.join("\n")
    );
    assert_eq!((t.lost, t.resurrected), (0, 0));
    assert!(
        t.states > 100,
        "the workload produced too few crash states to mean anything"
    );
}

fn scale(n: usize) -> usize {
    if common::soak() {
        n * 8
    } else {
        n
    }
}

#[test]
fn power_loss_sync_always_with_rotation_compaction_and_reopen() {
    check_workload(
        Workload {
            name: "sync-always",
            sync: SyncMode::Always,
            max_file_size: 256,
            reserve: Reserve::Unsupported,
            keys: 24,
            steps: scale(160),
            max_value: 40,
            compact_every: 30,
            auto_merge: false,
            reopen_every: 40,
            sync_every: 0,
            batch_every: 0,
            seed: 1,
        },
        true,
    );
}

#[test]
fn power_loss_sync_none_with_explicit_syncs() {
    check_workload(
        Workload {
            name: "sync-none",
            sync: SyncMode::None,
            max_file_size: 300,
            reserve: Reserve::Unsupported,
            keys: 24,
            steps: scale(160),
            max_value: 40,
            compact_every: 25,
            auto_merge: false,
            reopen_every: 30,
            sync_every: 10,
            batch_every: 0,
            seed: 2,
        },
        true,
    );
}

#[test]
fn power_loss_preallocated_active_file() {
    check_workload(
        Workload {
            name: "preallocated",
            sync: SyncMode::Always,
            max_file_size: 256,
            reserve: Reserve::ZeroExtend,
            keys: 24,
            steps: scale(140),
            max_value: 40,
            compact_every: 30,
            auto_merge: false,
            reopen_every: 35,
            sync_every: 0,
            batch_every: 0,
            seed: 3,
        },
        true,
    );
}

#[test]
fn power_loss_multi_part_merges() {
    check_workload(
        Workload {
            name: "multi-part-merge",
            sync: SyncMode::Always,
            max_file_size: 200,
            reserve: Reserve::ZeroExtend,
            keys: 30,
            steps: scale(60),
            max_value: 60,
            compact_every: 8,
            auto_merge: false,
            reopen_every: 40,
            sync_every: 0,
            batch_every: 0,
            seed: 4,
        },
        true,
    );
}

#[test]
fn power_loss_during_automatic_merges_with_sync() {
    check_workload(
        Workload {
            name: "auto-merge-always",
            sync: SyncMode::Always,
            max_file_size: 200,
            reserve: Reserve::ZeroExtend,
            keys: 20,
            steps: scale(150),
            max_value: 50,
            compact_every: 10,
            auto_merge: true,
            batch_every: 0,
            reopen_every: 50,
            sync_every: 0,
            seed: 5,
        },
        true,
    );
}

#[test]
fn power_loss_during_automatic_merges_without_sync() {
    check_workload(
        Workload {
            name: "auto-merge-none",
            sync: SyncMode::None,
            max_file_size: 250,
            reserve: Reserve::Unsupported,
            keys: 20,
            steps: scale(150),
            max_value: 50,
            compact_every: 10,
            auto_merge: true,
            batch_every: 0,
            reopen_every: 40,
            sync_every: 12,
            seed: 6,
        },
        true,
    );
}

/// Batches of 2 to 6 operations among single writes, in files so small that many batches
/// need a file of their own: every prefix of a batch's bytes that a power cut can leave must
/// recover to the store before the batch or after it, never between.
#[test]
fn power_loss_inside_write_batches() {
    for (name, reserve, seed) in [
        ("batches", Reserve::Unsupported, 5),
        ("batches-preallocated", Reserve::ZeroExtend, 6),
    ] {
        check_workload(
            Workload {
                name,
                sync: SyncMode::Always,
                max_file_size: 256,
                reserve,
                keys: 20,
                steps: scale(90),
                max_value: 40,
                compact_every: 30,
                auto_merge: false,
                reopen_every: 35,
                sync_every: 0,
                batch_every: 3,
                seed,
            },
            true,
        );
    }
}
