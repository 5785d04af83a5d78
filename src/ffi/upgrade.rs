//! `bitask_upgrade`: converting a store written by bitask 0.1.1 into this format.

use std::ffi::c_char;
use std::path::Path;

use super::panic::status_boundary;
use super::status::bitask_status::{self, *};
use super::status::{fail, from_error};
use super::{path_arg, require_out, write_out};
use crate::error::Error;
use crate::filename::LOCK_FILE;
use crate::upgrade::{Region, UpgradeReport};

/// How many regions a bitask_upgrade_report lists (regions_total counts them all).
pub const BITASK_UPGRADE_REGIONS: usize = 8;

/// Bytes of a data file of bitask 0.1.1 that bitask_upgrade could not read as records.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct bitask_upgrade_region {
    /// The number in the file's name: "<file_id>.log", or "<file_id>.active.log" when
    /// active_file is true. After the upgrade the file is in the backup folder,
    /// bitask-0.1.1-backup inside the store's directory.
    pub file_id: u64,
    /// Where the bytes start in the file.
    pub offset: u64,
    /// How many bytes.
    pub length: u64,
    /// The file is 0.1.1's active file.
    pub active_file: bool,
    /// true: a torn tail, a record cut short (or zeros) at the end of the file, as a crash
    /// in the middle of a write leaves it. false: unreadable bytes, damaged (with records
    /// after them) or a whole record whose checksum fails; they may have held records, and
    /// count in unreadable_bytes.
    pub torn: bool,
}

/// What bitask_upgrade read and converted, filled in by bitask_upgrade.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct bitask_upgrade_report {
    /// Data files of bitask 0.1.1 read.
    pub files_read: u64,
    /// Valid records read, deletions included.
    pub records_read: u64,
    /// Deletions among them.
    pub tombstones: u64,
    /// Live keys written to the new store.
    pub keys_converted: u64,
    /// Bytes that could not be read (the regions whose torn is false). Non-zero means
    /// records may have been lost to damage; the original files are in the backup folder.
    pub unreadable_bytes: u64,
    /// Bytes of torn tails (the regions whose torn is true).
    pub torn_bytes: u64,
    /// Regions of either kind, in the order they were met (files in reading order, then
    /// offsets).
    pub regions_total: u64,
    /// How many of them are in regions: at most BITASK_UPGRADE_REGIONS, the first ones.
    pub regions_listed: u64,
    /// The first regions_listed regions; the rest of the array is zero.
    pub regions: [bitask_upgrade_region; BITASK_UPGRADE_REGIONS],
    /// true when this call finished an upgrade that an earlier call (interrupted by a crash
    /// or a failure) had begun; the counts are those of the files it read.
    pub resumed: bool,
}

impl From<&Region> for bitask_upgrade_region {
    fn from(r: &Region) -> Self {
        bitask_upgrade_region {
            file_id: r.file.id,
            offset: r.offset,
            length: r.len,
            active_file: r.file.active,
            torn: r.torn,
        }
    }
}

impl From<&UpgradeReport> for bitask_upgrade_report {
    fn from(r: &UpgradeReport) -> Self {
        let mut out = bitask_upgrade_report {
            files_read: r.files.len() as u64,
            records_read: r.records_read,
            tombstones: r.tombstones,
            keys_converted: r.keys_converted,
            unreadable_bytes: r.unreadable_bytes(),
            torn_bytes: r.torn_bytes(),
            regions_total: r.regions.len() as u64,
            resumed: r.resumed,
            ..Default::default()
        };
        for (slot, region) in out.regions.iter_mut().zip(&r.regions) {
            *slot = region.into();
            out.regions_listed += 1;
        }
        out
    }
}

/// Converts the store of bitask 0.1.1 in the directory path into a store of this format,
/// in place, and fills *report_out with what it read.
///
/// Every data file of 0.1.1 is read, sealed files first and the active file last, and
/// every record's checksum is checked; the last record of each key wins, and a deletion
/// removes it. Damaged bytes do not stop the upgrade: they are counted and located in the
/// report, and never converted (a damaged put leaves its key with its earlier value, if
/// any). The new store is built inside the directory, in 0.bitask-upgrade, through the
/// library's ordinary write path and made durable, then put in place; the 0.1.1 files are
/// moved, byte for byte, into bitask-0.1.1-backup inside the directory, which stays until
/// the caller removes it. A crash at any point leaves either the 0.1.1 store or the
/// finished store (in between, bitask_open refuses the directory with
/// BITASK_ERR_INCOMPATIBLE and changes nothing), and calling bitask_upgrade again finishes
/// or redoes the upgrade (report_out->resumed tells which). The writer lock db.lock is held
/// throughout.
///
/// path: NUL-terminated, borrowed for the call; the directory must exist. report_out:
/// caller-owned, required; filled in on BITASK_OK, zeroed on any other status.
///
/// Returns BITASK_OK (a non-zero report_out->unreadable_bytes means some bytes could not
/// be read); BITASK_ERR_INVALID_ARGUMENT (path or report_out NULL, path empty);
/// BITASK_ERR_INCOMPATIBLE (the directory is not a store of bitask 0.1.1: a store of this
/// format, an already upgraded store included, an empty directory, one holding other files,
/// or a live value longer than BITASK_MAX_VALUE_LEN or key longer than BITASK_MAX_KEY_LEN;
/// the message names the file; nothing was changed); BITASK_ERR_WRITER_LOCK (a program has
/// the store open: bitask 0.1.1, or a writer of this library); BITASK_ERR_NO_SUCH_PATH;
/// BITASK_ERR_NOT_A_DIRECTORY; BITASK_ERR_PERMISSION; BITASK_ERR_NO_SPACE; BITASK_ERR_IO.
/// After any failure, calling it again is safe.
/// Thread safety: any thread. An upgrade holds the directory's writer lock, so a second
/// one of the same directory at the same time, from any thread or process, fails with
/// BITASK_ERR_WRITER_LOCK.
#[no_mangle]
pub extern "C" fn bitask_upgrade(
    path: *const c_char,
    report_out: *mut bitask_upgrade_report,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: report_out is NULL or writable, as the caller promises.
        unsafe { write_out(report_out, bitask_upgrade_report::default()) };
        require_out(report_out, "report_out")?;
        // SAFETY: path is NULL or a NUL-terminated string, as the caller promises.
        let path = unsafe { path_arg(path) }?;
        let report = crate::upgrade::upgrade(path).map_err(|e| from_upgrade_error(e, path))?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(report_out, (&report).into()) };
        Ok(())
    })
}

/// The status of a failed upgrade of `dir`; the writer lock's message names its file.
fn from_upgrade_error(e: Error, dir: &Path) -> bitask_status {
    match e {
        Error::WriterLock => fail(
            BITASK_ERR_WRITER_LOCK,
            format!(
                "{} is held: close the program that has the store open (bitask 0.1.1, or a \
                 writer of this library), then upgrade",
                dir.join(LOCK_FILE).display()
            ),
        ),
        e => from_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upgrade::LegacyFile;

    #[test]
    fn the_report_lists_the_first_regions_and_counts_them_all() {
        let region = |i: u64, torn| Region {
            file: LegacyFile {
                id: 100 + i,
                active: i % 2 == 0,
            },
            offset: i,
            len: 10 * i + 1,
            torn,
        };
        let r = UpgradeReport {
            records_read: 7,
            tombstones: 2,
            keys_converted: 3,
            regions: (0..11).map(|i| region(i, i == 10)).collect(),
            ..Default::default()
        };
        let c: bitask_upgrade_report = (&r).into();
        assert_eq!((c.records_read, c.tombstones, c.keys_converted), (7, 2, 3));
        assert_eq!((c.regions_total, c.regions_listed), (11, 8));
        assert_eq!(c.torn_bytes, 101);
        assert_eq!(c.unreadable_bytes, (0..10).map(|i| 10 * i + 1).sum::<u64>());
        for (i, slot) in c.regions.iter().enumerate() {
            assert_eq!(*slot, (&region(i as u64, false)).into());
        }
        let empty: bitask_upgrade_report = (&UpgradeReport::default()).into();
        assert_eq!(empty, bitask_upgrade_report::default());
    }

    #[test]
    fn the_folders_are_named_as_the_header_says() {
        let header = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/include/bitask.h"));
        for name in [crate::upgrade::BACKUP_DIR, crate::upgrade::STAGING_DIR] {
            assert!(header.contains(name), "{name}");
        }
    }

    #[test]
    fn null_arguments_are_refused_and_the_report_zeroed() {
        let mut r = bitask_upgrade_report {
            files_read: 9,
            ..Default::default()
        };
        let st = bitask_upgrade(std::ptr::null(), &mut r);
        assert_eq!(st, BITASK_ERR_INVALID_ARGUMENT);
        assert_eq!(r, bitask_upgrade_report::default());
        let st = bitask_upgrade(c"/nowhere".as_ptr(), std::ptr::null_mut());
        assert_eq!(st, BITASK_ERR_INVALID_ARGUMENT);
        let st = bitask_upgrade(c"/nowhere/at/all".as_ptr(), &mut r);
        assert_eq!(st, BITASK_ERR_NO_SUCH_PATH);
    }

    #[test]
    fn a_refusal_names_the_file_without_repeating_the_status() {
        let dir = tempfile::tempdir().unwrap();
        let path = std::ffi::CString::new(dir.path().as_os_str().as_encoded_bytes()).unwrap();
        let mut r = bitask_upgrade_report::default();
        assert_eq!(
            bitask_upgrade(path.as_ptr(), &mut r),
            BITASK_ERR_INCOMPATIBLE
        );
        let mut buf = [0 as c_char; 512];
        crate::ffi::messages::bitask_last_error_message(buf.as_mut_ptr(), buf.len());
        // SAFETY: the call NUL-terminated buf.
        let msg = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_str()
            .unwrap();
        let want = format!("{}: the directory holds no data file", dir.path().display());
        assert!(msg.starts_with(&want), "{msg}");
    }
}
