//! The automatic merge's rate limit: after each record it copies, the merge thread sleeps
//! long enough that its bytes read plus written since it started stay within
//! `MergeOptions::bytes_per_sec` (as HaloDB and RocksDB's rate limiter do), plus
//! `CATCH_UP` times the bytes the writer filled meanwhile. Only the merge thread sleeps;
//! writers never wait for it. The sleep ends early when the handle closes.
//!
//! Why the allowance: a fixed rate only protects the disk for other work while the writer is
//! slower than the merge. A writer faster than that would outrun every merge, and the store
//! would grow without bound while its merges crawl behind (the pace was the limit of an
//! overwrite-heavy benchmark: a writer filling files at 90 MB/s against a merge that
//! reclaims at most 64 MiB/s at the default pace). So the merge may always move as much as
//! reclaiming what the writer writes takes, as RocksDB's auto-tuned rate limiter rises with
//! the compaction backlog.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use super::merger::Merger;
use crate::error::{Error, Result};

/// Sleeps of less than this are saved up, not taken: a sleep costs a system call and wakes
/// late by about as much.
const MIN_SLEEP: Duration = Duration::from_millis(2);

/// Bytes the merge may move for each byte the writer fills, beyond the rate. A merge of files
/// with a share `d` of dead bytes reads and writes `2 (1 - d)` bytes of live records for each
/// `d` it gives back: to give back as much as the writer writes at `d` = 1/3 (below the
/// default `file_fragmentation`, 0.4), it moves 4 bytes per byte written.
pub(crate) const CATCH_UP: u64 = 4;

pub(crate) struct Pace<'a> {
    bytes_per_sec: u64,
    started: Instant,
    spent: u64,
    /// What `merger.written()` was when the merge started.
    written_at_start: u64,
    merger: &'a Merger,
}

impl<'a> Pace<'a> {
    /// A pace of `bytes_per_sec` (0: as fast as the disk goes), stopped by `merger`.
    pub fn new(bytes_per_sec: u64, merger: &'a Merger) -> Pace<'a> {
        Pace {
            bytes_per_sec,
            started: Instant::now(),
            spent: 0,
            written_at_start: merger.written(),
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
        let ahead = self.ahead();
        if ahead >= MIN_SLEEP && !self.merger.sleep(ahead) || self.merger.stopping() {
            return Err(closing());
        }
        Ok(())
    }

    /// How far the merge is ahead of its allowance: the time it must sleep.
    fn ahead(&self) -> Duration {
        let written = self.merger.written().saturating_sub(self.written_at_start);
        let over = self.spent.saturating_sub(written.saturating_mul(CATCH_UP));
        let due = Duration::from_secs_f64(over as f64 / self.bytes_per_sec as f64);
        due.saturating_sub(self.started.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn what_the_writer_fills_during_a_merge_lets_it_move_more() {
        let merger = Merger::default();
        // Written before the merge started: no allowance.
        merger.note_written(1 << 30);
        let mut pace = Pace::new(1, &merger);
        pace.spent = 1 << 20;
        assert!(
            pace.ahead() > Duration::from_secs(3600),
            "{:?}",
            pace.ahead()
        );
        merger.note_written((1 << 20) / CATCH_UP - 1);
        assert!(pace.ahead() > Duration::ZERO);
        merger.note_written(1);
        assert_eq!(pace.ahead(), Duration::ZERO);
    }

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
