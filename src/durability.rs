//! Durability: group commit for `SyncMode::Always`, and the background flusher of
//! `SyncMode::Interval`.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;

use crate::db::{lock, Shared};
use crate::error::Result;

/// Group commit: the first writer to need durability becomes the leader and runs one
/// `fdatasync` for everyone whose record was appended before it started; the others wait.
#[derive(Default)]
pub(crate) struct GroupCommit {
    state: Mutex<CommitState>,
    done: Condvar,
}

#[derive(Default)]
struct CommitState {
    durable: u64,
    leader: bool,
}

impl GroupCommit {
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
