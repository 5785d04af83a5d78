//! Batch visibility: readers never see half of a write batch.
//!
//! A batch's records are published in the key directory one shard at a time, so without more
//! a reader could find one member's new value and, after it, another member's old one. The
//! writer makes the epoch odd before publishing a batch and even again after its last member.
//! A get waits (spinning, then yielding) while the epoch is odd: the publish of a batch takes
//! a few microseconds, and a get finds the epoch even, its cache line shared and unwritten by
//! anything but batches, in one load. A get that has seen one member's publish (under that
//! shard's lock, which the writer released after making the epoch odd) therefore makes every
//! later get wait for the rest. A multi-get reads the epoch before its lookups and again after
//! them, and starts over when it changed: it sees all of a batch or none of it.
//!
//! Publishing can fail half way (an I/O error reading a key back to confirm its slot): the
//! handle then stops, and the epoch is poisoned, so that every read fails rather than show
//! half a batch. A reopen loads the batch whole, as it is on disk.
//!
//! A leaf: it knows nothing of the engine.

use std::sync::atomic::{AtomicU64, Ordering};

/// The batch-visibility epoch: odd while a batch is being published.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Visibility {
    epoch: AtomicU64,
}

/// The epoch after a batch failed half way through publishing (odd, so no read goes on).
const POISONED: u64 = u64::MAX;

/// Spins this many times on an odd epoch before yielding the processor.
const SPINS: u32 = 64;

/// A batch being published: dropping it after the last member makes the batch visible;
/// dropping it while the thread unwinds, or after `failed`, poisons the epoch.
pub(crate) struct Publishing<'a> {
    epoch: &'a AtomicU64,
    failed: bool,
}

impl Publishing<'_> {
    /// Publishing failed half way: no read may go on.
    pub(crate) fn failed(mut self) {
        self.failed = true;
    }
}

impl Drop for Publishing<'_> {
    fn drop(&mut self) {
        if self.failed || std::thread::panicking() {
            self.epoch.store(POISONED, Ordering::Release);
        } else {
            self.epoch.fetch_add(1, Ordering::Release);
        }
    }
}

impl Visibility {
    /// Starts publishing a batch (only the writer, under the writer mutex).
    pub(crate) fn begin(&self) -> Publishing<'_> {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Publishing {
            epoch: &self.epoch,
            failed: false,
        }
    }

    /// Waits until no batch is half published; returns the epoch then, or `None` when a
    /// batch failed half way through publishing.
    #[inline]
    pub(crate) fn settled(&self) -> Option<u64> {
        let e = self.epoch.load(Ordering::Acquire);
        if e & 1 == 0 {
            return Some(e);
        }
        self.wait_settled()
    }

    #[cold]
    fn wait_settled(&self) -> Option<u64> {
        let mut spins = 0;
        loop {
            let e = self.epoch.load(Ordering::Acquire);
            if e == POISONED {
                return None;
            }
            if e & 1 == 0 {
                return Some(e);
            }
            if spins < SPINS {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// True when no batch was published since `settled` returned `epoch`.
    #[inline]
    pub(crate) fn unchanged_since(&self, epoch: u64) -> bool {
        self.epoch.load(Ordering::Acquire) == epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn a_reader_waits_for_a_batch_being_published() {
        let v = Arc::new(Visibility::default());
        let before = v.settled().unwrap();
        let publishing = v.begin();
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (v, done) = (v.clone(), done.clone());
            std::thread::spawn(move || {
                let e = v.settled().unwrap();
                (e, done.load(Ordering::Acquire))
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        done.store(true, Ordering::Release);
        drop(publishing);
        let (seen, finished) = reader.join().unwrap();
        assert!(
            finished,
            "the reader went on while the batch was half published"
        );
        assert_eq!(seen, before + 2);
        assert!(!v.unchanged_since(before) && v.unchanged_since(seen));
        v.begin().failed();
        assert_eq!(v.settled(), None);
    }
}
