//! The automatic merge's rate limit: after each record it copies, the merge thread sleeps
//! long enough that its bytes read plus written since it started stay within
//! `MergeOptions::bytes_per_sec` (as HaloDB and RocksDB's rate limiter do). Only the merge
//! thread sleeps; writers never wait for it. The sleep ends early when the handle closes.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use super::merger::Merger;
use crate::error::{Error, Result};

/// Sleeps of less than this are saved up, not taken: a sleep costs a system call and wakes
/// late by about as much.
const MIN_SLEEP: Duration = Duration::from_millis(2);

pub(crate) struct Pace<'a> {
    bytes_per_sec: u64,
    started: Instant,
    spent: u64,
    merger: &'a Merger,
}

impl<'a> Pace<'a> {
    /// A pace of `bytes_per_sec` (0: as fast as the disk goes), stopped by `merger`.
    pub fn new(bytes_per_sec: u64, merger: &'a Merger) -> Pace<'a> {
        Pace {
            bytes_per_sec,
            started: Instant::now(),
            spent: 0,
            merger,
        }
    }

    /// Counts `bytes` moved, sleeping as the rate asks; an error (naming `dir`) once the
    /// handle is closing, so the merge is abandoned.
    pub fn spend(&mut self, bytes: u64, dir: &Path) -> Result<()> {
        self.spent += bytes;
        let closing = || Error::io("merge", dir, io::Error::from(io::ErrorKind::Interrupted));
        if self.bytes_per_sec == 0 {
            return if self.merger.stopping() {
                Err(closing())
            } else {
                Ok(())
            };
        }
        let due = Duration::from_secs_f64(self.spent as f64 / self.bytes_per_sec as f64);
        let ahead = due.saturating_sub(self.started.elapsed());
        if ahead >= MIN_SLEEP && !self.merger.sleep(ahead) || self.merger.stopping() {
            return Err(closing());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_pace_sleeps_to_the_rate_and_ends_on_shutdown() {
        let merger = Merger::default();
        let mut pace = Pace::new(1 << 20, &merger);
        let t = Instant::now();
        // 100 KiB at 1 MiB/s: about 0.1 s.
        for _ in 0..100 {
            pace.spend(1024, Path::new("/db")).unwrap();
        }
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(90), "{took:?}");
        let merger = Arc::new(Merger::default());
        let m = merger.clone();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            m.shutdown();
        });
        let mut slow = Pace::new(1, &merger);
        let t = Instant::now();
        let err = slow.spend(1 << 20, Path::new("/db")).unwrap_err();
        assert!(err.to_string().contains("/db"), "{err}");
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "shutdown ends the sleep"
        );
        stopper.join().unwrap();
    }
}
