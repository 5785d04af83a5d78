//! Writing a hot backup (`Bitask::checkpoint`, `bitask_checkpoint`, `bitask DIR backup
//! DEST`) from a snapshot of the store's files that the engine takes under its locks
//! (`engine/checkpoint.rs`): sealed data files and hints are hard-linked into the destination
//! where the file system allows (copied otherwise), the active file's records up to the
//! snapshot are copied. The copy is the same store: it keeps `db.id`, so its files carry the
//! tag they were written with, and a later backup into it can prove which files are its own.
//!
//! A destination must be missing, empty, or an earlier backup of this same store (its `db.id`
//! equal to the source's, every file named as a store's carrying the store's tag); anything
//! else is refused with `Error::Incompatible`, nothing changed. Into an earlier backup only
//! what is new is linked or copied, and the store's files the snapshot no longer holds are
//! removed. Every file and the destination directory are fsynced before success.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::datafile::DataFile;
use crate::error::{Error, Result};
use crate::filecopy::{self, Placed};
use crate::filename::{self, FileKind, ID_FILE, LOCK_FILE};
use crate::identity::{self, Identity};
use crate::record::SEAL_LEN;
use crate::vfs::{OpenMode, Vfs};
use crate::writer_lock::WriterLock;

/// The files of a store at one moment, as the engine saw them under its locks.
pub(crate) struct Snapshot {
    pub dir: PathBuf,
    pub identity: Identity,
    /// Ids of the sealed data files; none of them is deleted while the snapshot is written.
    pub sealed: Vec<u64>,
    /// The active file and the end of its records at the snapshot.
    pub active: Option<(Arc<DataFile>, u64)>,
}

/// What a checkpoint did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckpointReport {
    /// Files hard-linked into the destination.
    pub linked: u64,
    /// Files copied (the active file's records, or files a link could not reach).
    pub copied: u64,
    /// Files an earlier backup had already placed there, left as they are.
    pub kept: u64,
    /// Files of the store removed from the destination: no longer in the store.
    pub removed: u64,
    /// Bytes copied.
    pub bytes_copied: u64,
}

/// Writes `snap` into `dest` (see the module documentation).
pub(crate) fn write(vfs: &dyn Vfs, snap: &Snapshot, dest: &Path) -> Result<CheckpointReport> {
    let made = prepare_dest(vfs, snap, dest)?;
    let lock = WriterLock::take(vfs, dest)?;
    let mut report = CheckpointReport::default();
    let done = place_all(vfs, snap, dest, &mut report);
    if done.is_err() && made {
        lock.abandon(vfs);
    }
    done.map(|()| report)
}

/// Checks the destination, making it when missing; true when this call made it.
fn prepare_dest(vfs: &dyn Vfs, snap: &Snapshot, dest: &Path) -> Result<bool> {
    match vfs.is_dir(dest) {
        Ok(true) => {}
        Ok(false) => {
            let e = io::Error::from(io::ErrorKind::NotADirectory);
            return Err(Error::io("back up into", dest, e));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            vfs.create_dir_all(dest)
                .map_err(|e| Error::io("create", dest, e))?;
            return Ok(true);
        }
        Err(e) => return Err(Error::io("back up into", dest, e)),
    }
    if same_dir(vfs, &snap.dir, dest) {
        return Err(Error::InvalidArgument(format!(
            "{}: a store cannot be backed up into its own directory",
            dest.display()
        )));
    }
    let names = vfs.list_dir(dest).map_err(|e| Error::io("list", dest, e))?;
    let store_named: Vec<&String> = names
        .iter()
        .filter(|n| n.as_str() != LOCK_FILE && n.as_str() != ID_FILE)
        .collect();
    let foreign = |name: &str, why: &str| Error::Incompatible {
        path: dest.join(name),
        reason: format!("the destination holds {why}; back up into an empty directory"),
    };
    let dest_id = identity::read(vfs, dest)?;
    if dest_id.is_some_and(|d| d != snap.identity) {
        return Err(foreign(ID_FILE, "another store"));
    }
    for name in store_named {
        match filename::parse(name) {
            None => return Err(foreign(name, "a file that is not a store's")),
            Some(_) if dest_id.is_none() => return Err(foreign(name, "a store without db.id")),
            Some((id, kind)) => {
                if !owned(vfs, dest, id, kind, &snap.identity) {
                    return Err(foreign(name, "a file of another store"));
                }
            }
        }
    }
    Ok(false)
}

/// Whether `dest`'s file `id` of `kind` is proved this store's: a data file by the tag in
/// its header, any other file by a data file of the same id that is.
fn owned(vfs: &dyn Vfs, dest: &Path, id: u64, kind: FileKind, identity: &Identity) -> bool {
    let tag_of = |k| {
        let path = filename::path(dest, id, k);
        DataFile::open(vfs, &path, OpenMode::ReadShared, id).map(|f| f.header.store)
    };
    match kind {
        FileKind::Sealed | FileKind::Active | FileKind::TempData | FileKind::Prepared => {
            tag_of(kind).is_ok_and(|t| identity.owns(t))
        }
        FileKind::Hint | FileKind::TempHint => [FileKind::Sealed, FileKind::Active]
            .into_iter()
            .any(|k| tag_of(k).is_ok_and(|t| identity.owns(t))),
    }
}

fn place_all(
    vfs: &dyn Vfs,
    snap: &Snapshot,
    dest: &Path,
    report: &mut CheckpointReport,
) -> Result<()> {
    if identity::read(vfs, dest)?.is_none() {
        place(vfs, &snap.dir.join(ID_FILE), &dest.join(ID_FILE), report)?;
    }
    let mut wanted: Vec<String> = Vec::new();
    for &id in &snap.sealed {
        for kind in [FileKind::Sealed, FileKind::Hint] {
            let from = filename::path(&snap.dir, id, kind);
            if kind == FileKind::Hint && vfs.open(&from, OpenMode::ReadShared).is_err() {
                continue;
            }
            let to = filename::path(dest, id, kind);
            if already_there(vfs, &from, &to, kind) {
                report.kept += 1;
            } else {
                remove_if_present(vfs, &to)?;
                place(vfs, &from, &to, report)?;
            }
            wanted.push(filename::name(id, kind));
        }
    }
    if let Some((file, end)) = &snap.active {
        let id = file.id();
        let tmp = filename::path(dest, id, FileKind::TempData);
        remove_if_present(vfs, &tmp)?;
        filecopy::copy_prefix(vfs, &*file.file, &file.path(), &tmp, *end)?;
        let to = filename::path(dest, id, FileKind::Active);
        vfs.rename(&tmp, &to)
            .map_err(|e| Error::io("rename", &tmp, e))?;
        report.copied += 1;
        report.bytes_copied += end;
        wanted.push(filename::name(id, FileKind::Active));
    }
    remove_the_rest(vfs, dest, &wanted, report)?;
    vfs.sync_dir(dest)
        .map_err(|e| Error::io("sync directory", dest, e))
}

/// Links or copies `from` to the new name `to`, counting which.
fn place(vfs: &dyn Vfs, from: &Path, to: &Path, report: &mut CheckpointReport) -> Result<()> {
    match filecopy::link_or_copy(vfs, from, to)? {
        Placed::Linked => report.linked += 1,
        Placed::Copied => {
            report.copied += 1;
            report.bytes_copied += vfs
                .open(to, OpenMode::ReadShared)
                .and_then(|f| f.len())
                .unwrap_or(0);
        }
    }
    Ok(())
}

/// True when `to` already holds what `from` holds: the same file, or (a sealed data file
/// never changes) one of the same length ending in the same seal; a hint byte for byte.
fn already_there(vfs: &dyn Vfs, from: &Path, to: &Path, kind: FileKind) -> bool {
    if vfs.same_file(from, to) {
        return true;
    }
    let tail = |p: &Path| -> io::Result<(u64, Vec<u8>)> {
        let f = vfs.open(p, OpenMode::ReadShared)?;
        let len = f.len()?;
        let keep = if kind == FileKind::Sealed {
            SEAL_LEN.min(len)
        } else {
            len.min(1 << 24)
        };
        let mut buf = vec![0u8; keep as usize];
        f.read_exact_at(len - keep, &mut [&mut buf])?;
        Ok((len, buf))
    };
    matches!((tail(from), tail(to)), (Ok(a), Ok(b)) if a == b)
}

fn remove_if_present(vfs: &dyn Vfs, path: &Path) -> Result<()> {
    match vfs.remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

/// Removes the files named as the store's that the snapshot does not hold (they were proved
/// the store's before anything was placed).
fn remove_the_rest(
    vfs: &dyn Vfs,
    dest: &Path,
    wanted: &[String],
    report: &mut CheckpointReport,
) -> Result<()> {
    let names = vfs.list_dir(dest).map_err(|e| Error::io("list", dest, e))?;
    for name in names {
        if filename::parse(&name).is_some() && !wanted.contains(&name) {
            remove_if_present(vfs, &dest.join(&name))?;
            report.removed += 1;
        }
    }
    Ok(())
}

/// Whether `a` and `b` are the same directory.
fn same_dir(vfs: &dyn Vfs, a: &Path, b: &Path) -> bool {
    vfs.same_file(a, b) || std::path::absolute(a).ok() == std::path::absolute(b).ok()
}
