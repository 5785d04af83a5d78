//! Durability: group commit for `SyncMode::Always`, and the background flusher of
//! `SyncMode::Interval`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::db::{lock, Shared};
use crate::error::Result;

/// Group commit: the first writer to need durability becomes the leader and runs one
/// `fdatasync` for everyone whose record was appended before it started; the others wait.
/// Before syncing, the leader lets writers already on their way to the writer lock append
/// (for at most `GATHER`), so one `fdatasync` covers them too instead of the next one.
#[derive(Default)]
pub(crate) struct GroupCommit {
    state: Mutex<CommitState>,
    done: Condvar,
    /// Durable writes between entering `write` and appending their record.
    arriving: AtomicUsize,
}

/// The longest a leader waits for arriving writers: well under one `fdatasync`.
const GATHER: Duration = Duration::from_micros(100);

/// A durable write on its way to appending; see `GroupCommit::arrive`.
pub(crate) struct Arrival<'a>(&'a AtomicUsize);

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

#[derive(Default)]
struct CommitState {
    durable: u64,
    leader: bool,
}

impl GroupCommit {
    /// Announces a durable write that has not appended yet; dropping the guard ends it.
    pub(crate) fn arrive(&self) -> Arrival<'_> {
        self.arriving.fetch_add(1, Ordering::AcqRel);
        Arrival(&self.arriving)
    }

    pub(crate) fn wait_durable(&self, shared: &Shared, seq: u64) -> Result<()> {
        let mut st = lock(&self.state);
        loop {
            if st.durable >= seq {
                return Ok(());
            }
            shared.check_running()?;
            if st.leader {
                st = self.done.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            st.leader = true;
            drop(st);
            let started = Instant::now();
            while self.arriving.load(Ordering::Acquire) > 0 && started.elapsed() < GATHER {
                std::thread::yield_now();
            }
            let result = shared.sync_active();
            st = lock(&self.state);
            st.leader = false;
            if let Ok(upto) = result {
                st.durable = st.durable.max(upto);
            }
            self.done.notify_all();
            result?;
        }
    }

    pub(crate) fn mark_durable(&self, upto: u64) {
        let mut st = lock(&self.state);
        st.durable = st.durable.max(upto);
    }
}

/// The background thread of `SyncMode::Interval`.
pub(crate) struct Flusher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    pub(crate) fn start(shared: &Arc<Shared>, every: std::time::Duration) -> Flusher {
        let (tx, rx) = mpsc::channel::<()>();
        let weak: Weak<Shared> = Arc::downgrade(shared);
        let thread = std::thread::Builder::new()
            .name("bitask-flush".into())
            .spawn(move || loop {
                match rx.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => match weak.upgrade() {
                        Some(s) => {
                            let _ = s.sync_now();
                        }
                        None => return,
                    },
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
