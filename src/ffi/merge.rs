//! `bitask_needs_merge`: whether an automatic merge is due and what it would take.

use super::db::{bitask, db_ref};
use super::panic::status_boundary;
use super::require_out;
use super::status::bitask_status;
use super::write_out;
use crate::merge_policy::{MergeFile, MergeReport};

/// How many files a bitask_merge_report lists (files_total counts them all).
pub const BITASK_MERGE_FILES: usize = 16;

/// bitask_merge_file.reason: at least 40% of the file's records are dead.
pub const BITASK_MERGE_FRAGMENTED: u32 = 1;
/// bitask_merge_file.reason: the file holds at least 128 MiB of dead records.
pub const BITASK_MERGE_DEAD_BYTES: u32 = 2;
/// bitask_merge_file.reason: the file is smaller than 1 MiB.
pub const BITASK_MERGE_SMALL: u32 = 3;
/// bitask_merge_file.reason: not worth merging on its own, but older than a file that is
/// (a merge takes the oldest files, up to the newest one worth merging).
pub const BITASK_MERGE_OLDER: u32 = 4;

/// bitask_merge_report.why_not: a merge is due.
pub const BITASK_MERGE_DUE: u32 = 0;
/// bitask_merge_report.why_not: the store has no sealed data file.
pub const BITASK_MERGE_NO_SEALED_FILES: u32 = 1;
/// bitask_merge_report.why_not: too few dead bytes in the store as a whole.
pub const BITASK_MERGE_BELOW_TRIGGERS: u32 = 2;
/// bitask_merge_report.why_not: no file is worth merging.
pub const BITASK_MERGE_NOTHING_WORTH_MERGING: u32 = 3;
/// bitask_merge_report.why_not: the hour is outside the merge window.
pub const BITASK_MERGE_OUTSIDE_WINDOW: u32 = 4;
/// bitask_merge_report.why_not: the file system lacks the space the merge would write.
pub const BITASK_MERGE_NO_SPACE: u32 = 5;
/// bitask_merge_report.why_not: the handle is read-only, and never merges.
pub const BITASK_MERGE_READ_ONLY: u32 = 6;

/// One data file a merge would take, in a bitask_merge_report.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct bitask_merge_file {
    /// The number in the file's name, "<file_id>.log".
    pub file_id: u64,
    /// Bytes of the file and its hint file on disk.
    pub file_bytes: u64,
    /// Bytes of its records that are live (the merge copies them).
    pub live_bytes: u64,
    /// Bytes of its records that are dead (the merge drops them).
    pub dead_bytes: u64,
    /// Why it is taken: BITASK_MERGE_FRAGMENTED, _DEAD_BYTES, _SMALL or _OLDER.
    pub reason: u32,
}

/// What bitask_needs_merge found, filled in by it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct bitask_merge_report {
    /// true when a merge would start now.
    pub due: bool,
    /// BITASK_MERGE_DUE, or why no merge is due (BITASK_MERGE_NO_SEALED_FILES and the rest).
    pub why_not: u32,
    /// Bytes the merge would read (its files, hints included).
    pub read_bytes: u64,
    /// Bytes it would write (the live records).
    pub write_bytes: u64,
    /// Bytes it would give back to the file system.
    pub reclaim_bytes: u64,
    /// Over all sealed files: bytes of records.
    pub store_record_bytes: u64,
    /// Over all sealed files: bytes of dead records.
    pub store_dead_bytes: u64,
    /// Files the merge would take, oldest first (listed even when due is false: what a
    /// merge would take now).
    pub files_total: u64,
    /// How many of them are in files: at most BITASK_MERGE_FILES, the oldest ones.
    pub files_listed: u64,
    /// The first files_listed files; the rest of the array is zero.
    pub files: [bitask_merge_file; BITASK_MERGE_FILES],
}

impl From<&MergeFile> for bitask_merge_file {
    fn from(f: &MergeFile) -> Self {
        bitask_merge_file {
            file_id: f.id,
            file_bytes: f.file_bytes,
            live_bytes: f.live_bytes,
            dead_bytes: f.dead_bytes,
            reason: f.reason as u32,
        }
    }
}

impl From<&MergeReport> for bitask_merge_report {
    fn from(r: &MergeReport) -> Self {
        let mut out = bitask_merge_report {
            due: r.due,
            why_not: r.why_not.map_or(BITASK_MERGE_DUE, |w| w as u32),
            read_bytes: r.read_bytes,
            write_bytes: r.write_bytes,
            reclaim_bytes: r.reclaim_bytes,
            store_record_bytes: r.store_record_bytes,
            store_dead_bytes: r.store_dead_bytes,
            files_total: r.files.len() as u64,
            ..Default::default()
        };
        for (slot, f) in out.files.iter_mut().zip(&r.files) {
            *slot = f.into();
            out.files_listed += 1;
        }
        out
    }
}

/// Fills *report_out with whether an automatic merge is due, which files it would take and
/// why, and the bytes it would read, write and give back; nothing on disk changes. The
/// figures come from one pass over the in-memory key directory.
///
/// report_out: caller-owned, required; filled in on BITASK_OK, zeroed on any other status.
///
/// Returns BITASK_OK; BITASK_ERR_INVALID_ARGUMENT (db or report_out NULL). On a read-only
/// handle the report says BITASK_MERGE_READ_ONLY. Thread safety: any thread, concurrently
/// with other calls (the figures are a snapshot while writes run).
#[no_mangle]
pub extern "C" fn bitask_needs_merge(
    db: *mut bitask,
    report_out: *mut bitask_merge_report,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: report_out is NULL or writable, as the caller promises.
        unsafe { write_out(report_out, bitask_merge_report::default()) };
        let db = db_ref(db)?;
        require_out(report_out, "report_out")?;
        let report = (&db.db.needs_merge()).into();
        // SAFETY: checked non-NULL above.
        unsafe { write_out(report_out, report) };
        Ok(())
    })
}
