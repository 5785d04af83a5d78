//! Taking a directory's writer lock (`db.lock`, an exclusive `flock`) for an open or an
//! upgrade, and letting go of it after one that changed nothing.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::filename::LOCK_FILE;
use crate::vfs::{FileLock, Vfs};

/// A directory's writer lock, as taken by an open or an upgrade.
pub(crate) struct WriterLock {
    pub held: Box<dyn FileLock>,
    path: PathBuf,
    /// The lock file did not exist before this taker made it (a new directory, or a store
    /// of bitask 0.1.1, which deleted it when it closed).
    made: bool,
}

impl WriterLock {
    /// Takes the lock of `dir`; `Error::WriterLock` while another handle holds it.
    pub fn take(vfs: &dyn Vfs, dir: &Path) -> Result<WriterLock> {
        let path = dir.join(LOCK_FILE);
        let made = matches!(vfs.is_dir(&path), Err(e) if e.kind() == io::ErrorKind::NotFound);
        let held = vfs.lock_exclusive(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::WouldBlock {
                Error::WriterLock
            } else {
                Error::io("lock", &path, e)
            }
        })?;
        Ok(WriterLock { held, path, made })
    }

    /// Releases the lock of an open or upgrade that failed having changed nothing, removing
    /// the lock file if it made it, so the directory is left as it was found. (Removing a
    /// lock file is safe only here: the directory is not a store this taker will write, so a
    /// second opener that locked the same file has nothing to race for.)
    pub fn abandon(self, vfs: &dyn Vfs) {
        drop(self.held);
        if self.made {
            let _ = vfs.remove_file(&self.path);
        }
    }
}
