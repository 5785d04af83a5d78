//! The clock that decides expiry: keys put with a time to live are absent from their expiry
//! on. Only expiry reads it (record timestamps and file ids keep the system clock), so a
//! test can move time for keys alone, without sleeping.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a store reads the time that expiry is compared with, in milliseconds since the
/// Unix epoch. Called on every read of a key that expires, from any thread.
pub trait Clock: Send + Sync {
    fn now_millis(&self) -> u64;
}

/// The system's real-time clock (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        crate::filename::now_millis()
    }
}

/// A clock that moves only when told to: for tests of expiry.
#[derive(Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock reading `millis` (milliseconds since the Unix epoch).
    pub fn new(millis: u64) -> ManualClock {
        ManualClock(AtomicU64::new(millis))
    }

    /// Sets the time.
    pub fn set(&self, millis: u64) {
        self.0.store(millis, Ordering::SeqCst);
    }

    /// Moves the time on by `millis`.
    pub fn advance(&self, millis: u64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ManualClock")
            .field(&self.now_millis())
            .finish()
    }
}
