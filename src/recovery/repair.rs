//! What a writer's open changes on disk to finish what a crash interrupted: planned while
//! the directory is read, carried out once the open has decided to succeed.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::datafile::seal;
use crate::datafile::DataFile;
use crate::error::{Error, Result};
use crate::filename::{self, FileKind};
use crate::fileset::FileSet;
use crate::vfs::Vfs;

/// What a writer changes on disk to finish what a crash interrupted. Planned while the
/// directory is read, carried out only once the open has decided to succeed: a refused
/// open changes nothing.
pub(super) enum Repair {
    /// A temporary, stale or abandoned file, or an active file holding no record.
    Remove(PathBuf),
    /// An active file ending with its seal (a crash before the rename): publish it sealed.
    FinishSeal(Arc<DataFile>, u64),
    /// An older active file left behind a newer one by a crash: seal it after its records.
    Seal(Arc<DataFile>, u64, u64),
    /// A torn tail after the active file's last valid record.
    Truncate(Arc<DataFile>, u64),
    /// A file prepared ahead that holds records: its rename to the active name did not
    /// reach the disk. Carried out before the repairs that seal active files by name.
    Activate(u64),
}

/// Carries out `repairs`; returns the ids of the files it sealed (they have no hint yet).
pub(super) fn carry_out(
    vfs: &dyn Vfs,
    dir: &Path,
    repairs: Vec<Repair>,
    files: &mut FileSet,
) -> Result<Vec<u64>> {
    let mut sealed = Vec::new();
    let mut removed = false;
    for r in &repairs {
        if let Repair::Remove(path) = r {
            remove(vfs, path)?;
            removed = true;
        }
    }
    let mut activated = false;
    for r in &repairs {
        if let Some(file) = match r {
            Repair::Activate(id) => files.by_id.get(id).map(|e| e.file.clone()),
            _ => None,
        } {
            let to = filename::path(dir, file.id(), FileKind::Active);
            vfs.rename(&file.path(), &to)
                .map_err(|e| Error::io("rename", file.path(), e))?;
            file.set_path(to);
            activated = true;
        }
    }
    if removed || activated {
        sync_dir(vfs, dir)?;
    }
    for r in repairs {
        let (file, len) = match r {
            Repair::Remove(_) | Repair::Activate(_) => continue,
            Repair::Truncate(file, end) => {
                truncate(&file, end)?;
                continue;
            }
            Repair::FinishSeal(file, end) => {
                seal::publish_sealed_file(vfs, dir, &file, end)?;
                (file, end)
            }
            Repair::Seal(file, end, last_seq) => {
                let len = seal::seal_file(vfs, dir, &file, end, last_seq)?;
                (file, len)
            }
        };
        if let Some(e) = files.by_id.get_mut(&file.id()) {
            e.active = false;
            e.scanned_to = len;
        }
        sealed.push(file.id());
    }
    Ok(sealed)
}

pub(super) fn remove(vfs: &dyn Vfs, path: &Path) -> Result<()> {
    match vfs.remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

pub(super) fn sync_dir(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    vfs.sync_dir(dir)
        .map_err(|e| Error::io("sync directory", dir, e))
}

pub(super) fn truncate(file: &DataFile, end: u64) -> Result<()> {
    file.truncate(end, "truncate")?;
    file.sync()
}
