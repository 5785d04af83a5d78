//! Sealing a data file, the steps recovery and the writer share: the seal record written
//! after the last record, the file cut to it and made durable, renamed sealed, and the
//! rename made durable.

use std::path::Path;

use super::DataFile;
use crate::error::{Error, Result};
use crate::filename::{self, FileKind};
use crate::record;
use crate::vfs::Vfs;

/// Writes the seal of former active file `f` after its records (which end at `end`) and
/// publishes it (`publish_sealed_file`); returns the sealed file's length.
pub(crate) fn seal_file(
    vfs: &dyn Vfs,
    dir: &Path,
    f: &DataFile,
    end: u64,
    last_seq: u64,
) -> Result<u64> {
    let len = write_seal(f, end, last_seq).map_err(|s| s.error)?;
    publish_sealed_file(vfs, dir, f, len)?;
    Ok(len)
}

/// A seal's write that failed, and how cutting the file back to its records went.
pub(crate) struct SealFailed {
    pub error: Error,
    pub cut: Result<()>,
}

/// Writes the seal of active file `f` after its records, which end at `end`; returns the
/// sealed file's length. A failed write (a full disk, where the file's space is not reserved)
/// may have stored part of the seal, which no reader or recovery may take for a record: the
/// file is cut back to `end`, as it was before. Only when that cut fails too is the failure
/// not undone.
pub(crate) fn write_seal(f: &DataFile, end: u64, last_seq: u64) -> Result<u64, SealFailed> {
    let seal = record::encode_seal(f.id(), end, last_seq);
    let Err(e) = f.file.write_all_at(end, &[&seal]) else {
        return Ok(end + record::SEAL_LEN);
    };
    Err(SealFailed {
        error: Error::io("write seal of", f.path(), e),
        cut: f.truncate(end, "truncate after a failed seal"),
    })
}

/// Cuts former active file `f`, which ends with its seal, to `len`, makes it durable,
/// renames it sealed and makes the rename durable. The truncation happens here too: on ext4
/// it can wait for a journal commit.
pub(crate) fn publish_sealed_file(vfs: &dyn Vfs, dir: &Path, f: &DataFile, len: u64) -> Result<()> {
    f.truncate(len, "truncate")?;
    f.sync()?;
    let from = filename::path(dir, f.id(), FileKind::Active);
    let to = filename::path(dir, f.id(), FileKind::Sealed);
    vfs.rename(&from, &to)
        .map_err(|e| Error::io("rename", &from, e))?;
    f.set_path(to);
    vfs.sync_dir(dir)
        .map_err(|e| Error::io("sync directory", dir, e))
}
