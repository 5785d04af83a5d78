//! Durability: group commit for `SyncMode::Always`, and the background flusher of
//! `SyncMode::Interval`.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::util::sync::lock;
use crate::util::sys::{futex_wait, futex_wake_all};

/// Group commit: one `fdatasync` at a time, covering every record appended before it
/// started; the writers waiting for it share it.
///
/// After a sync, the writers it released usually come straight back with their next write.
/// So the batch being gathered expects as many writers as took part in the round before (those
/// the last sync released, those that appended while it ran and those on their way to
/// appending): the writer whose record completes that count starts the next sync at once,
/// without waking anyone. When fewer come (the load dropped), a waiting writer starts the sync
/// once a fraction of the measured sync time has passed since the batch's first record. A lone
/// writer expects only itself and never waits.
///
/// Waiting writers sleep on `epoch` (a futex), not on a condition variable: a finished sync
/// wakes them all with one system call, and each checks `durable` without taking a lock, so
/// the writers a sync releases do not queue on a mutex before they can return.
#[derive(Default)]
pub(crate) struct GroupCommit {
    state: Mutex<CommitState>,
    /// Every record up to this sequence number is durable.
    durable: AtomicU64,
    /// Bumped (and its sleepers woken) when a sync ends.
    epoch: AtomicU32,
    /// Durable writes between entering `write` and appending their record.
    arriving: AtomicUsize,
}

/// A batch waits for its expected writers at most the average sync time divided by this...
const GATHER_DIVISOR: u32 = 2;
/// ... and never longer than this.
const GATHER_MAX: Duration = Duration::from_millis(1);

/// A durable write on its way to appending; see `GroupCommit::arrive`.
pub(crate) struct Arrival<'a>(&'a AtomicUsize);

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

#[derive(Default)]
struct CommitState {
    /// A sync is running.
    syncing: bool,
    /// The last sequence number covered by the syncs so far (a failed one included).
    covered: u64,
    /// The largest sequence number that has waited for durability.
    appended: u64,
    /// Writers expected in the batch being gathered.
    expected: u64,
    /// When the batch being gathered got its first waiting writer.
    opened: Option<Instant>,
    /// Moving average of a sync's duration.
    sync_time: Duration,
}

impl CommitState {
    /// How long the batch being gathered may still wait for writers; zero to sync now.
    fn gather_left(&mut self, arriving: usize) -> Duration {
        let now = Instant::now();
        let opened = *self.opened.get_or_insert(now);
        let pending = self.appended.saturating_sub(self.covered);
        if pending >= self.expected && arriving == 0 {
            return Duration::ZERO;
        }
        let limit = (self.sync_time / GATHER_DIVISOR).min(GATHER_MAX);
        limit.saturating_sub(now.duration_since(opened))
    }
}

impl GroupCommit {
    /// Announces a durable write that has not appended yet; dropping the guard ends it.
    pub(crate) fn arrive(&self) -> Arrival<'_> {
        self.arriving.fetch_add(1, Ordering::AcqRel);
        Arrival(&self.arriving)
    }

    /// Returns once record `seq` is durable, running the sync itself when its batch is
    /// complete. Fails when a sync failed (the handle is then stopped for good): the writer
    /// that ran it gets its error, every other waiter `Error::Stopped`.
    /// `running` fails once the handle is stopped; `sync` makes the active file durable and
    /// returns the last sequence number it covers.
    pub(crate) fn wait_durable(
        &self,
        seq: u64,
        running: impl Fn() -> Result<()>,
        sync: impl Fn() -> Result<u64>,
    ) -> Result<()> {
        {
            let mut st = lock(&self.state);
            st.appended = st.appended.max(seq);
        }
        loop {
            // Read before `durable`: a sync that ends after this read bumps it, so the sleep
            // below returns at once instead of missing the wake-up.
            let epoch = self.epoch.load(Ordering::Acquire);
            if self.durable.load(Ordering::Acquire) >= seq {
                return Ok(());
            }
            running()?;
            let mut st = lock(&self.state);
            if st.syncing {
                drop(st);
                futex_wait(&self.epoch, epoch, None);
                continue;
            }
            if self.durable.load(Ordering::Acquire) >= seq {
                return Ok(());
            }
            let left = st.gather_left(self.arriving.load(Ordering::Acquire));
            if !left.is_zero() {
                drop(st);
                futex_wait(&self.epoch, epoch, Some(left));
                continue;
            }
            st.syncing = true;
            st.opened = None;
            let before = st.covered;
            drop(st);
            let started = Instant::now();
            let result = sync();
            let took = started.elapsed();
            let mut st = lock(&self.state);
            st.syncing = false;
            st.sync_time = if st.sync_time.is_zero() {
                took
            } else {
                (st.sync_time * 7 + took) / 8
            };
            if let Ok(upto) = result {
                self.durable.fetch_max(upto, Ordering::AcqRel);
                st.covered = st.covered.max(upto);
                // Next round: the writers this sync released, those that appended while it
                // ran and those about to append.
                let released = st.covered.saturating_sub(before);
                let during = st.appended.saturating_sub(st.covered);
                st.expected = released + during + self.arriving.load(Ordering::Acquire) as u64;
            }
            drop(st);
            self.epoch.fetch_add(1, Ordering::AcqRel);
            futex_wake_all(&self.epoch);
            result?;
        }
    }

    /// Records that a sync outside group commit made every record up to `upto` durable.
    pub(crate) fn mark_durable(&self, upto: u64) {
        let mut st = lock(&self.state);
        st.covered = st.covered.max(upto);
        self.durable.fetch_max(upto, Ordering::AcqRel);
    }
}

/// The background thread of `SyncMode::Interval`.
pub(crate) struct Flusher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Runs `tick` every `every` until dropped or until `tick` returns false.
    pub(crate) fn start(
        every: std::time::Duration,
        tick: impl Fn() -> bool + Send + 'static,
    ) -> Flusher {
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bitask-flush".into())
            .spawn(move || loop {
                match rx.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => {
                        if !tick() {
                            return;
                        }
                    }
                    _ => return,
                }
            })
            .ok();
        Flusher {
            stop: Some(tx),
            thread,
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
