//! The state of the background jobs of the write side, shared with their threads: seals in
//! flight (`Sealing`), hint files being written (`Hinting`) and the next active file made
//! ready ahead (`Preparer`). All are leaves: they hold values and files, never the engine.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};

use crate::datafile::DataFile;
use crate::util::sync::{lock, wait};
use crate::util::worker::Worker;
use crate::vfs::Vfs;

/// Counts files being sealed in the background, so that compaction, `sync` and close can
/// wait for them.
#[derive(Default)]
pub(crate) struct Sealing {
    pending: Mutex<usize>,
    done: Condvar,
}

impl Sealing {
    pub(crate) fn begin(&self) {
        *lock(&self.pending) += 1;
    }

    pub(crate) fn end(&self) {
        *lock(&self.pending) -= 1;
        self.done.notify_all();
    }

    /// Returns once no seal is in progress.
    pub fn wait(&self) {
        self.wait_below(1);
    }

    /// Returns once fewer than `max` seals are in progress.
    pub fn wait_below(&self, max: usize) {
        let mut n = lock(&self.pending);
        while *n >= max {
            n = wait(&self.done, n);
        }
    }
}

/// Hint files queued or being written in the background (`engine::hinting`): counted, so
/// compaction can wait for them, and cancelled by close.
#[derive(Default)]
pub(crate) struct Hinting {
    pub jobs: Sealing,
    pub cancelled: AtomicBool,
}

/// Bytes prefaulted per call: a file the writer has filled (and its seal has cut) before the
/// prefault reached its end stops the prefault within one chunk.
const PREFAULT_CHUNK: u64 = 256 * 1024;

/// The next active file, made ready in the background. `discard` (on compaction and close)
/// throws away a ready or in-flight file: every file activated after a compaction starts must
/// have an id above the compaction's merge base, or recovery would take it for an input.
pub(crate) struct Preparer {
    state: Mutex<PrepareState>,
    done: Condvar,
    pub worker: Worker,
}

impl Default for Preparer {
    fn default() -> Self {
        Preparer {
            state: Mutex::default(),
            done: Condvar::new(),
            worker: Worker::new("bitask-prepare"),
        }
    }
}

#[derive(Default)]
struct PrepareState {
    epoch: u64,
    in_flight: Option<u64>,
    ready: Option<(Arc<DataFile>, u64)>,
}

impl Preparer {
    /// Claims the right to prepare a file; false when one is ready or on its way.
    pub(crate) fn start(&self) -> bool {
        let mut st = lock(&self.state);
        if st.in_flight.is_some() || st.ready.is_some() {
            return false;
        }
        st.in_flight = Some(st.epoch);
        true
    }

    /// Hands in the prepared file (or nothing, after a failure); returns the epoch it was
    /// accepted in. A file prepared before the last `discard` is removed instead.
    pub(crate) fn finish(&self, made: Option<(Arc<DataFile>, u64)>, vfs: &dyn Vfs) -> Option<u64> {
        let mut st = lock(&self.state);
        let current = st.in_flight.take() == Some(st.epoch);
        let accepted = match made {
            Some(m) if current => {
                st.ready = Some(m);
                Some(st.epoch)
            }
            Some((file, _)) => {
                let _ = vfs.remove_file(&file.path());
                None
            }
            None => None,
        };
        self.done.notify_all();
        accepted
    }

    pub(crate) fn epoch(&self) -> u64 {
        lock(&self.state).epoch
    }

    /// Faults `file`'s first `capacity` bytes in for writing, a chunk at a time, front to
    /// back (the order the writer appends in), until done, the file is cut (sealed or
    /// closed), or a `discard` ends `epoch`.
    pub(crate) fn prefault(&self, file: &DataFile, capacity: u64, epoch: u64) {
        let mut at = 0;
        while at < capacity && self.epoch() == epoch {
            if !file.file.prefault(at, PREFAULT_CHUNK) {
                break;
            }
            at += PREFAULT_CHUNK;
        }
    }

    /// The ready file, if there is one and it can hold `capacity` bytes. Files must become
    /// active in the order of their ids (load order is by id), so when the ready file cannot
    /// be used, it and any in-flight one are thrown away before the caller makes another.
    /// A preparation still running is waited for: it is already part way through the work
    /// the caller would otherwise start from scratch.
    pub(crate) fn take(&self, capacity: u64, vfs: &dyn Vfs) -> Option<(Arc<DataFile>, u64)> {
        let mut st = lock(&self.state);
        while st.in_flight.is_some() {
            st = wait(&self.done, st);
        }
        match st.ready.take() {
            Some(ready) if ready.1 >= capacity => Some(ready),
            other => {
                st.ready = other;
                drop(st);
                self.discard(vfs, false);
                None
            }
        }
    }

    /// Removes the ready file and disowns any in-flight one; with `wait`, returns only once
    /// no preparation is running (so nothing is created after a handle closes).
    pub(crate) fn discard(&self, vfs: &dyn Vfs, until_idle: bool) {
        let mut st = lock(&self.state);
        st.epoch += 1;
        if let Some((file, _)) = st.ready.take() {
            let _ = vfs.remove_file(&file.path());
        }
        while until_idle && st.in_flight.is_some() {
            st = wait(&self.done, st);
        }
    }
}
