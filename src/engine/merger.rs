//! The automatic merge's thread: it looks at the store every `MergeOptions::check_every` and
//! runs what the engine's tick decides (`auto_merge`), and it is the stop signal a running
//! merge checks between records, so that closing the handle ends a merge promptly. A leaf:
//! it holds a closure, never the engine.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::util::sync::lock;

/// The merge thread of a writer's handle (none is started for read-only handles, or with
/// `Options::auto_merge(false)`).
#[derive(Default)]
pub(crate) struct Merger {
    stopping: AtomicBool,
    /// Guards nothing but the sleep, so `shutdown` can wake it.
    asleep: Mutex<()>,
    wake: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Bytes of the files the writer filled and sealed since the handle opened: how fast the
    /// writer makes work for the merge (see `pace`).
    written: AtomicU64,
}

impl Merger {
    /// Starts the thread: `tick` runs every `every` until it returns false or `shutdown`.
    /// The thread holds the merger, not the engine: `tick` reaches the engine through a
    /// weak handle, so the thread never keeps a dropped handle alive. Failing to start a
    /// thread only leaves merging to `compact` and `merge_if_due`.
    pub fn start(
        self: &Arc<Self>,
        every: Duration,
        mut tick: impl FnMut() -> bool + Send + 'static,
    ) {
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("bitask-merge".into())
            .spawn(move || {
                while me.sleep(every) {
                    if !tick() {
                        break;
                    }
                }
            });
        if let Ok(t) = spawned {
            *lock(&self.thread) = Some(t);
        }
    }

    /// Sleeps for `d`, or until `shutdown`; false when the merger is stopping.
    pub fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        let mut g = lock(&self.asleep);
        loop {
            if self.stopping() {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            g = self
                .wake
                .wait_timeout(g, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Counts a file of `bytes` the writer filled.
    pub fn note_written(&self, bytes: u64) {
        self.written.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Bytes of the files the writer filled so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Stops the thread (a merge in progress abandons at its next record) and waits for it.
    pub fn shutdown(&self) {
        {
            let _g = lock(&self.asleep);
            self.stopping.store(true, Ordering::Release);
            self.wake.notify_all();
        }
        let thread = lock(&self.thread).take();
        if let Some(t) = thread {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}
