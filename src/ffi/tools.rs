//! The store's tools: `bitask_checkpoint` (a hot backup), `bitask_verify` and
//! `bitask_verify_path` (a read-only check), `bitask_repair` (keeping what is intact).

use std::ffi::c_char;

use super::db::bitask;
use super::panic::status_boundary;
use super::status::bitask_status;
use super::status::from_error;
use super::{handle, path_arg, require_out, write_out};
use crate::checkpoint::CheckpointReport;
use crate::salvage::RepairReport;
use crate::verify::{Problem, VerifyReport};

/// How many problems a bitask_verify_report lists (problems_total counts them all).
pub const BITASK_VERIFY_PROBLEMS: usize = 8;
/// Bytes of bitask_problem's file, its NUL included.
pub const BITASK_PROBLEM_FILE_LEN: usize = 64;
/// Bytes of bitask_problem's reason, its NUL included.
pub const BITASK_PROBLEM_REASON_LEN: usize = 160;

/// One thing bitask_verify found wrong.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct bitask_problem {
    /// The file's name inside the store's directory, NUL-terminated (cut to fit).
    pub file: [c_char; BITASK_PROBLEM_FILE_LEN],
    /// The offset in the file where the problem starts.
    pub offset: u64,
    /// Why, in words, NUL-terminated (cut to fit).
    pub reason: [c_char; BITASK_PROBLEM_REASON_LEN],
}

impl Default for bitask_problem {
    fn default() -> Self {
        bitask_problem {
            file: [0; BITASK_PROBLEM_FILE_LEN],
            offset: 0,
            reason: [0; BITASK_PROBLEM_REASON_LEN],
        }
    }
}

/// What bitask_verify or bitask_verify_path found, filled in by them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct bitask_verify_report {
    /// Data files read.
    pub data_files: u64,
    /// Hint files checked against their data files.
    pub hint_files: u64,
    /// Intact records read.
    pub records: u64,
    /// Non-zero bytes after the last record of an active file: the torn write a crash
    /// leaves, which the next writer's open cuts away. Not a problem.
    pub torn_bytes: u64,
    /// Problems found; 0 means the store is intact.
    pub problems_total: u64,
    /// How many of them are in problems: at most BITASK_VERIFY_PROBLEMS, the first ones in
    /// file order.
    pub problems_listed: u64,
    /// The first problems_listed problems; the rest of the array is zero.
    pub problems: [bitask_problem; BITASK_VERIFY_PROBLEMS],
}

/// What bitask_repair did, filled in by it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct bitask_repair_report {
    /// Intact records of the rewritten files, all kept.
    pub records_kept: u64,
    /// Data files rewritten with their intact records only.
    pub files_rewritten: u64,
    /// Bytes of those files that held no intact record.
    pub unreadable_bytes: u64,
    /// Records known to be lost (a lower bound: from missing sequence numbers and from
    /// intact hint files).
    pub records_lost: u64,
    /// Keys that lost their last record and hold no value now, as far as a hint names them.
    pub keys_lost: u64,
    /// Keys that lost their last record and now read as an older value, as far as a hint
    /// names them.
    pub keys_rolled_back: u64,
    /// Deletions whose records were damaged, written again from the intact hint file that
    /// described them, so the deleted keys stay deleted.
    pub tombstones_rebuilt: u64,
    /// Files moved into bitask-quarantine inside the store's directory.
    pub files_quarantined: u64,
    /// Problems bitask_verify still finds afterwards (files repair leaves alone).
    pub problems_remaining: u64,
}

/// What bitask_checkpoint did, filled in by it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct bitask_checkpoint_report {
    /// Files hard-linked into the destination.
    pub linked: u64,
    /// Files copied (the active file's records; files a link could not reach).
    pub copied: u64,
    /// Files an earlier backup in the destination already held, left as they were.
    pub kept: u64,
    /// Files of the store removed from the destination, no longer in the store.
    pub removed: u64,
    /// Bytes copied.
    pub bytes_copied: u64,
}

/// Copies `s` into `out`, cut to fit on a character boundary, NUL-terminated.
fn fill(out: &mut [c_char], s: &str) {
    let mut end = s.len().min(out.len() - 1);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    for (o, b) in out.iter_mut().zip(&s.as_bytes()[..end]) {
        *o = *b as c_char;
    }
    out[end] = 0;
}

impl From<&Problem> for bitask_problem {
    fn from(p: &Problem) -> Self {
        let mut out = bitask_problem {
            offset: p.offset,
            ..Default::default()
        };
        fill(&mut out.file, &p.file);
        fill(&mut out.reason, &p.reason);
        out
    }
}

impl From<&VerifyReport> for bitask_verify_report {
    fn from(r: &VerifyReport) -> Self {
        let mut out = bitask_verify_report {
            data_files: r.data_files,
            hint_files: r.hint_files,
            records: r.records,
            torn_bytes: r.torn_bytes,
            problems_total: r.problems.len() as u64,
            ..Default::default()
        };
        for (slot, p) in out.problems.iter_mut().zip(&r.problems) {
            *slot = p.into();
            out.problems_listed += 1;
        }
        out
    }
}

impl From<&RepairReport> for bitask_repair_report {
    fn from(r: &RepairReport) -> Self {
        bitask_repair_report {
            records_kept: r.records_kept,
            files_rewritten: r.files_rewritten,
            unreadable_bytes: r.unreadable_bytes,
            records_lost: r.records_lost,
            keys_lost: r.keys_lost,
            keys_rolled_back: r.keys_rolled_back,
            tombstones_rebuilt: r.tombstones_rebuilt,
            files_quarantined: r.quarantined.len() as u64,
            problems_remaining: r.remaining.len() as u64,
        }
    }
}

impl From<&CheckpointReport> for bitask_checkpoint_report {
    fn from(r: &CheckpointReport) -> Self {
        bitask_checkpoint_report {
            linked: r.linked,
            copied: r.copied,
            kept: r.kept,
            removed: r.removed,
            bytes_copied: r.bytes_copied,
        }
    }
}

/// Writes a consistent copy of the store as of this call into the directory dest while
/// writes go on (a hot backup): every write acknowledged before the call, none begun after
/// it. Sealed data files and hint files are hard-linked where the file system allows
/// (copied across file systems), the active file's records copied; every file and dest are
/// fsynced before BITASK_OK. The copy opens with bitask_open as the same store (it keeps
/// db.id). dest must be missing (it is made), empty, or an earlier backup of this store,
/// which is brought up to date: only new files are linked or copied, and the store's files
/// no longer in the store are removed from it. A compaction waits until the backup is done.
///
/// db: a writer's handle. dest: NUL-terminated, borrowed for the call. report_out:
/// caller-owned, may be NULL; filled in on BITASK_OK, zeroed on any other status.
///
/// Returns BITASK_OK; BITASK_ERR_INVALID_ARGUMENT (db or dest NULL, dest empty or the
/// store's own directory); BITASK_ERR_READ_ONLY; BITASK_ERR_INCOMPATIBLE (dest holds a file
/// that is not this store's backup, or another store: nothing was changed; the message names
/// the file); BITASK_ERR_WRITER_LOCK (a handle has the backup open for writing);
/// BITASK_ERR_NOT_A_DIRECTORY; BITASK_ERR_PERMISSION; BITASK_ERR_NO_SPACE; BITASK_ERR_IO.
/// A backup that fails leaves dest for the next backup into it to complete.
/// Thread safety: any thread, concurrently with other calls on the handle.
#[no_mangle]
pub extern "C" fn bitask_checkpoint(
    db: *mut bitask,
    dest: *const c_char,
    report_out: *mut bitask_checkpoint_report,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: report_out is NULL or writable, as the caller promises.
        unsafe { write_out(report_out, bitask_checkpoint_report::default()) };
        // SAFETY: db is NULL or a live handle from bitask_open, read through `&` (it is Sync).
        let db = unsafe { handle(db.cast_const(), "db") }?;
        // SAFETY: dest is NULL or a NUL-terminated string, as the caller promises.
        let dest = unsafe { path_arg(dest) }?;
        let report = db.db.checkpoint(dest).map_err(from_error)?;
        // SAFETY: as above; NULL is skipped.
        unsafe { write_out(report_out, (&report).into()) };
        Ok(())
    })
}

/// Verifies the store of an open handle without changing anything: every record's
/// checksum, every hint file against its data file, the seals, each data file's store tag,
/// the order of sequence numbers across files. On a writer's handle the active file is read
/// up to its last record, and a compaction waits until the verification is done.
///
/// report_out: caller-owned, required; filled in on BITASK_OK (problems_total 0: intact),
/// zeroed on any other status.
///
/// Returns BITASK_OK (whatever was found: see report_out->problems_total);
/// BITASK_ERR_INVALID_ARGUMENT (db or report_out NULL); BITASK_ERR_IO (the directory could
/// not be listed). Thread safety: any thread, concurrently with other calls on the handle.
#[no_mangle]
pub extern "C" fn bitask_verify(
    db: *mut bitask,
    report_out: *mut bitask_verify_report,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: report_out is NULL or writable, as the caller promises.
        unsafe { write_out(report_out, bitask_verify_report::default()) };
        require_out(report_out, "report_out")?;
        // SAFETY: db is NULL or a live handle from bitask_open, read through `&` (it is Sync).
        let db = unsafe { handle(db.cast_const(), "db") }?;
        let report = db.db.verify().map_err(from_error)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(report_out, (&report).into()) };
        Ok(())
    })
}

/// Verifies the store in the directory path as bitask_verify does, without opening it and
/// without changing anything (it takes no lock, and may run beside a writer, whose active
/// file's unwritten space then counts as a torn tail, not a problem).
///
/// path: NUL-terminated, borrowed for the call. report_out: caller-owned, required; filled
/// in on BITASK_OK, zeroed on any other status.
///
/// Returns BITASK_OK (see report_out->problems_total); BITASK_ERR_INVALID_ARGUMENT (path or
/// report_out NULL, path empty); BITASK_ERR_NO_SUCH_PATH; BITASK_ERR_NOT_A_DIRECTORY;
/// BITASK_ERR_PERMISSION; BITASK_ERR_IO. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn bitask_verify_path(
    path: *const c_char,
    report_out: *mut bitask_verify_report,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: report_out is NULL or writable, as the caller promises.
        unsafe { write_out(report_out, bitask_verify_report::default()) };
        require_out(report_out, "report_out")?;
        // SAFETY: path is NULL or a NUL-terminated string, as the caller promises.
        let path = unsafe { path_arg(path) }?;
        let report = crate::verify::verify(path).map_err(from_error)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(report_out, (&report).into()) };
        Ok(())
    })
}

/// Repairs the store in the directory path, which no handle may have open: every record
/// whose checksum verifies is kept (read past damage), each damaged data file is rewritten
/// with its intact records, a data file whose header is damaged gets it rebuilt, and hint
/// files that no longer match are set aside (the next open scans instead). Every original
/// is moved, byte for byte, into the folder bitask-quarantine inside the directory, never
/// deleted; an open ignores that folder. Each replacement is made durable before the next
/// (a crash leaves the original or its replacement). A repaired store never returns a value
/// that fails its checksum; what was lost is counted in the report as far as can be told.
///
/// path: NUL-terminated, borrowed for the call. report_out: caller-owned, may be NULL;
/// filled in on BITASK_OK, zeroed on any other status.
///
/// Returns BITASK_OK (report_out->problems_remaining counts what it left alone: files of
/// another store or unreadable ones); BITASK_ERR_INVALID_ARGUMENT (path NULL or empty);
/// BITASK_ERR_INCOMPATIBLE (the directory holds no store, or its db.id is damaged or
/// another program's; nothing was changed); BITASK_ERR_WRITER_LOCK (a writer has the store
/// open); BITASK_ERR_NO_SUCH_PATH; BITASK_ERR_NOT_A_DIRECTORY; BITASK_ERR_PERMISSION;
/// BITASK_ERR_NO_SPACE; BITASK_ERR_IO. Calling it again after a failure is safe.
/// Thread safety: any thread; it holds the store's writer lock throughout.
#[no_mangle]
pub extern "C" fn bitask_repair(
    path: *const c_char,
    report_out: *mut bitask_repair_report,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: report_out is NULL or writable, as the caller promises.
        unsafe { write_out(report_out, bitask_repair_report::default()) };
        // SAFETY: path is NULL or a NUL-terminated string, as the caller promises.
        let path = unsafe { path_arg(path) }?;
        let report = crate::salvage::repair(path).map_err(from_error)?;
        // SAFETY: NULL is skipped.
        unsafe { write_out(report_out, (&report).into()) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::status::bitask_status::*;

    #[test]
    fn a_problem_is_cut_to_fit_and_terminated() {
        let p = Problem {
            file: "x".repeat(100),
            offset: 7,
            reason: "é".repeat(100),
        };
        let c: bitask_problem = (&p).into();
        assert_eq!(c.file[BITASK_PROBLEM_FILE_LEN - 1], 0);
        assert_eq!(c.file[62], b'x' as c_char);
        let reason: Vec<u8> = c
            .reason
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| b as u8)
            .collect();
        assert!(
            std::str::from_utf8(&reason).is_ok(),
            "cut on a character boundary"
        );
        assert_eq!(c.offset, 7);
    }

    #[test]
    fn the_report_lists_the_first_problems_and_counts_them_all() {
        let problem = |i: u64| Problem {
            file: format!("{i}.log"),
            offset: i,
            reason: "bad".into(),
        };
        let r = VerifyReport {
            records: 3,
            problems: (0..11).map(problem).collect(),
            ..Default::default()
        };
        let c: bitask_verify_report = (&r).into();
        assert_eq!((c.records, c.problems_total, c.problems_listed), (3, 11, 8));
        assert_eq!(c.problems[7], (&problem(7)).into());
    }

    #[test]
    fn null_arguments_are_refused_and_reports_zeroed() {
        let mut r = bitask_verify_report {
            records: 9,
            ..Default::default()
        };
        assert_eq!(
            bitask_verify(std::ptr::null_mut(), &mut r),
            BITASK_ERR_INVALID_ARGUMENT
        );
        assert_eq!(r, bitask_verify_report::default());
        let st = bitask_verify_path(c"/nowhere".as_ptr(), std::ptr::null_mut());
        assert_eq!(st, BITASK_ERR_INVALID_ARGUMENT);
        assert_eq!(
            bitask_verify_path(c"/nowhere/at/all".as_ptr(), &mut r),
            BITASK_ERR_NO_SUCH_PATH
        );
        assert_eq!(
            bitask_repair(std::ptr::null(), std::ptr::null_mut()),
            BITASK_ERR_INVALID_ARGUMENT
        );
        let st = bitask_checkpoint(
            std::ptr::null_mut(),
            c"/tmp/x".as_ptr(),
            std::ptr::null_mut(),
        );
        assert_eq!(st, BITASK_ERR_INVALID_ARGUMENT);
    }
}
