//! The directory's entries named as the store's files, and the checks on the listing alone.

use std::io;
use std::path::Path;

use crate::error::{Error, Result};
use crate::filename::{self, FileKind};
use crate::identity::{self};
use crate::vfs::Vfs;

/// A directory entry named as one of the store's files.
pub(super) struct Listed {
    pub(super) id: u64,
    pub(super) kind: FileKind,
}

/// The entries the store owns. One that is not a regular file fails the open before anything
/// is changed: opening it would fail (or, a FIFO, wait) and deleting it (a temporary file)
/// would destroy something bitask never made.
pub(super) fn list(vfs: &dyn Vfs, dir: &Path) -> Result<Vec<Listed>> {
    let names = vfs
        .list_dir_typed(dir)
        .map_err(|e| Error::io("list", dir, e))?;
    let mut out = Vec::new();
    for (name, special) in &names {
        let Some((id, kind)) = filename::parse(name) else {
            continue;
        };
        if let Some(s) = special {
            return Err(Error::io("open", dir.join(name), s.error()));
        }
        out.push(Listed { id, kind });
    }
    out.sort_by_key(|l| l.id);
    Ok(out)
}

/// True when an error means a file vanished between listing and opening (a writer renamed or
/// deleted it): a read-only handle lists again.
pub fn is_vanished(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
}

/// True when `dir` holds a store: its identity file, or any file named as a store's.
pub fn holds_store(vfs: &dyn Vfs, dir: &Path) -> Result<bool> {
    Ok(identity::read(vfs, dir)?.is_some() || !list(vfs, dir)?.is_empty())
}

/// Sealing and activating rename a file atomically, so no crash leaves one id under two
/// names: the directory was changed by other means, and neither file can be chosen safely.
pub(super) fn refuse_duplicate_ids(dir: &Path, data: &[&Listed]) -> Result<()> {
    match data.windows(2).find(|w| w[0].id == w[1].id) {
        Some(w) => Err(Error::corruption(
            filename::path(dir, w[0].id, w[0].kind),
            0,
            format!("{} exists too", filename::name(w[1].id, w[1].kind)),
        )),
        None => Ok(()),
    }
}
