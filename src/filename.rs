//! Every file name the store uses, in one place, and the generator of file ids.
//!
//! ```text
//! <id>.active.log   the data file being appended to (at most one)
//! <id>.log          a sealed, immutable data file
//! <id>.hint         the hint file of the sealed data file <id>.log
//! <id>.next        the next active file, prepared ahead of the rotation that renames it
//!                  <id>.active.log (holds only its header until then)
//! <id>.log.tmp      a merge output not yet published (deleted on open)
//! <id>.hint.tmp     a hint file not yet published (deleted on open)
//! db.lock           the writer lock (never deleted)
//! ```
//! Ids are decimal milliseconds since the Unix epoch, forced to grow strictly.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub const LOCK_FILE: &str = "db.lock";
pub const ID_FILE: &str = "db.id";
pub const ID_TEMP_FILE: &str = "db.id.tmp";

/// What a directory entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Active,
    Prepared,
    Sealed,
    Hint,
    TempData,
    TempHint,
}

/// Parses a directory entry name; `None` for names the store does not own (left alone).
pub fn parse(name: &str) -> Option<(u64, FileKind)> {
    let (stem, kind) = if let Some(s) = name.strip_suffix(".active.log") {
        (s, FileKind::Active)
    } else if let Some(s) = name.strip_suffix(".next") {
        (s, FileKind::Prepared)
    } else if let Some(s) = name.strip_suffix(".log.tmp") {
        (s, FileKind::TempData)
    } else if let Some(s) = name.strip_suffix(".hint.tmp") {
        (s, FileKind::TempHint)
    } else if let Some(s) = name.strip_suffix(".log") {
        (s, FileKind::Sealed)
    } else if let Some(s) = name.strip_suffix(".hint") {
        (s, FileKind::Hint)
    } else {
        return None;
    };
    if stem.is_empty() || stem.len() > 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stem.parse().ok()?, kind))
}

/// The name of file `id` of the given kind.
pub fn name(id: u64, kind: FileKind) -> String {
    let suffix = match kind {
        FileKind::Active => "active.log",
        FileKind::Prepared => "next",
        FileKind::Sealed => "log",
        FileKind::Hint => "hint",
        FileKind::TempData => "log.tmp",
        FileKind::TempHint => "hint.tmp",
    };
    format!("{id}.{suffix}")
}

/// The path of file `id` of the given kind inside `dir`.
pub fn path(dir: &Path, id: u64, kind: FileKind) -> PathBuf {
    dir.join(name(id, kind))
}

/// How far apart consecutive ids from `IdGen` are at least. The ids in between are room for
/// the outputs of an automatic merge of a prefix of the load order: they must be larger than
/// every input's id (recovery takes every file up to the merge base for an input) and
/// smaller than every other file's, so that a later merge can take them together with the
/// files before them (see `engine::merger`).
pub const ID_STEP: u64 = 64;

/// Hands out file ids: the millisecond clock, but at least `ID_STEP` greater than every id
/// handed out or found on disk before, so a stalled or backward-stepping clock and two
/// rotations in one millisecond never produce a duplicate or a smaller id, and merge outputs
/// find free ids after each file.
#[derive(Debug)]
pub struct IdGen {
    last: u64,
    clock: fn() -> u64,
}

impl IdGen {
    /// A generator whose ids exceed `floor` (the largest id already in use).
    pub fn new(floor: u64) -> IdGen {
        IdGen::with_clock(floor, now_millis)
    }

    pub fn with_clock(floor: u64, clock: fn() -> u64) -> IdGen {
        IdGen { last: floor, clock }
    }

    /// The largest id handed out or found on disk so far.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Hands out the `n` ids right after the last one at once (a compaction's outputs);
    /// the next `next_id` is at least `ID_STEP` past them.
    pub fn reserve(&mut self, n: u64) -> std::ops::Range<u64> {
        let first = self.last + 1;
        self.last += n;
        first..first + n
    }

    pub fn next_id(&mut self) -> u64 {
        let id = (self.clock)().max(self.last + ID_STEP);
        self.last = id;
        id
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Milliseconds since the Unix epoch from the kernel's coarse clock (updated every timer
/// tick, so up to a few milliseconds behind), for records' informational timestamps: reading
/// it costs a few nanoseconds, a fifth of the precise clock. Falls back to `now_millis`.
pub fn coarse_now_millis() -> u64 {
    crate::util::sys::coarse_realtime_millis().unwrap_or_else(now_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in [
            FileKind::Active,
            FileKind::Prepared,
            FileKind::Sealed,
            FileKind::Hint,
            FileKind::TempData,
            FileKind::TempHint,
        ] {
            let n = name(1_700_000_000_123, kind);
            assert_eq!(parse(&n), Some((1_700_000_000_123, kind)), "{n}");
        }
    }

    #[test]
    fn foreign_names_are_ignored() {
        for n in [
            "db.lock",
            "notes.txt",
            ".log",
            "12a.log",
            "x.active.log",
            "1.log.bak",
            "-1.log",
        ] {
            assert_eq!(parse(n), None, "{n}");
        }
        assert_eq!(parse("99999999999999999999999.log"), None);
    }

    #[test]
    fn ids_grow_when_the_clock_stalls_or_steps_back() {
        fn stalled() -> u64 {
            1000
        }
        fn backwards() -> u64 {
            5
        }
        let mut g = IdGen::with_clock(0, stalled);
        let ids: Vec<u64> = (0..5).map(|_| g.next_id()).collect();
        assert_eq!(ids, vec![1000, 1064, 1128, 1192, 1256]);
        let mut g = IdGen::with_clock(2000, backwards);
        assert_eq!(g.next_id(), 2064);
        assert_eq!(g.next_id(), 2128);
    }

    #[test]
    fn ids_leave_room_for_merge_outputs_between_files() {
        let mut g = IdGen::new(0);
        let ids: Vec<u64> = (0..100).map(|_| g.next_id()).collect();
        assert!(ids.windows(2).all(|w| w[1] - w[0] >= ID_STEP), "{ids:?}");
    }

    #[test]
    fn ids_follow_the_clock_when_it_moves() {
        let mut g = IdGen::new(0);
        let a = g.next_id();
        let b = g.next_id();
        assert!(b > a);
        assert!(a >= now_millis() - 60_000);
    }

    #[test]
    fn coarse_clock_agrees_with_the_precise_one() {
        let before = now_millis();
        let coarse = coarse_now_millis();
        let after = now_millis();
        // The coarse clock lags by at most a timer tick (a few ms at HZ=100: 10 ms).
        assert!(coarse <= after, "{coarse} > {after}");
        assert!(coarse + 1_000 >= before, "{coarse} far behind {before}");
    }
}
