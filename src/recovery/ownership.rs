//! Whose files a directory holds, decided before anything is changed (see `identity`): the
//! store's own, a store of an earlier version, or not a store at all; and the data files
//! opened under that verdict.

use std::io;
use std::path::{Path, PathBuf};

use super::listing::Listed;
use super::repair::Repair;
use crate::datafile::{DataFile, FileHeader, Scanner, FILE_HEADER_LEN};
use crate::error::{Error, Result};
use crate::filename::{self, FileKind};
use crate::hint;
use crate::identity::{self, Identity};
use crate::util::parallel;
use crate::vfs::{OpenMode, Vfs};

/// From this many data files on, an open checks them two at a time.
pub(super) const PARALLEL_FILES: usize = 8;

/// Whose files a directory holds, decided before anything in it is touched.
#[derive(Clone, Copy, Debug)]
pub(super) enum Owner {
    /// The directory has its `db.id`: files carrying its tag are the store's.
    Known(Identity),
    /// No `db.id` and no file named as a store's: a new store.
    New,
    /// No `db.id`, but files named as a store's: a store of an earlier version, whose data
    /// files all have valid headers of this format and tag 0. Anything else in it means the
    /// directory is not a store, and nothing is changed.
    Untagged,
}

impl Owner {
    pub(super) fn establish(vfs: &dyn Vfs, dir: &Path, listed: &[Listed]) -> Result<Owner> {
        if let Some(id) = identity::read(vfs, dir)? {
            return Ok(Owner::Known(id));
        }
        if listed.is_empty() {
            return Ok(Owner::New);
        }
        let is_data = |l: &&Listed| matches!(l.kind, FileKind::Active | FileKind::Sealed);
        if !listed.iter().any(|l| is_data(&l)) {
            let l = &listed[0];
            return Err(not_a_store(
                filename::path(dir, l.id, l.kind),
                "named as a bitask file, beside no data file",
            ));
        }
        Ok(Owner::Untagged)
    }

    /// The identity files are checked against.
    pub(super) fn identity(&self) -> Identity {
        match self {
            Owner::Known(id) => *id,
            Owner::New | Owner::Untagged => Identity::UNTAGGED,
        }
    }

    /// Makes sure the directory has its `db.id` (a writer's open that has decided to
    /// succeed); returns the identity new files carry.
    pub(super) fn settle(&self, vfs: &dyn Vfs, dir: &Path) -> Result<Identity> {
        match self {
            Owner::Known(id) => Ok(*id),
            Owner::New => identity::create(vfs, dir, false),
            Owner::Untagged => identity::create(vfs, dir, true),
        }
    }

    /// Checks that an opened data file is the store's.
    pub(super) fn check(&self, f: &DataFile) -> Result<()> {
        let tag = f.header.store;
        if self.identity().owns(tag) {
            return Ok(());
        }
        let reason = match self {
            Owner::Known(id) => format!(
                "it belongs to another store (store tag {tag:08x}; this store's is {:08x})",
                id.tag
            ),
            Owner::New | Owner::Untagged => format!(
                "it belongs to a store (store tag {tag:08x}) whose {} is not in this directory",
                filename::ID_FILE
            ),
        };
        Err(Error::Incompatible {
            path: f.path(),
            reason,
        })
    }
}

/// A directory that is not a store (or not one this library can prove is a store): nothing
/// in it is touched.
pub(super) fn not_a_store(path: PathBuf, why: &str) -> Error {
    Error::Incompatible {
        reason: format!(
            "{why}, and the directory has no {}: it is not a bitask store of this format, \
             and nothing in it was changed",
            filename::ID_FILE
        ),
        path,
    }
}

/// Plans the removal of a writer's temporary files (unfinished merge outputs): only those
/// proved to be the store's. In a store with its `db.id`, a temporary file is the store's
/// unless its header names another store (a crash may have left its header unwritten); in
/// an untagged store, its header must be one this format writes.
pub(super) fn plan_temp_removal(
    vfs: &dyn Vfs,
    dir: &Path,
    listed: &[Listed],
    owner: &Owner,
    repairs: &mut Vec<Repair>,
) -> Result<()> {
    for l in listed {
        let path = filename::path(dir, l.id, l.kind);
        let verdict = match l.kind {
            FileKind::TempData => temp_data_header(vfs, &path, l.id)?,
            FileKind::TempHint => temp_hint_header(vfs, &path, l.id)?,
            _ => continue,
        };
        let ours = match (owner, verdict) {
            (_, TempHeader::Tagged(tag)) => owner.identity().owns(tag),
            (_, TempHeader::Untagged) => true,
            (Owner::Known(_), TempHeader::Unreadable) => true,
            (_, TempHeader::Unreadable) => false,
        };
        if !ours {
            return Err(match owner {
                Owner::Known(_) => Error::Incompatible {
                    path,
                    reason: "a temporary file of another store".into(),
                },
                _ => not_a_store(path, "not a temporary file this format writes"),
            });
        }
        repairs.push(Repair::Remove(path));
    }
    Ok(())
}

/// What a temporary file's header says of its owner.
pub(super) enum TempHeader {
    /// A valid data file header carrying this store tag.
    Tagged(u32),
    /// A valid header of a kind that carries no store tag (a hint file's).
    Untagged,
    /// No valid header: cut short, torn, or not this format's.
    Unreadable,
}

pub(super) fn read_prefix(vfs: &dyn Vfs, path: &Path, buf: &mut [u8]) -> Result<bool> {
    let f = vfs
        .open(path, OpenMode::ReadShared)
        .map_err(|e| Error::io("open", path, e))?;
    match f.read_exact_at(0, &mut [buf]) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

pub(super) fn temp_data_header(vfs: &dyn Vfs, path: &Path, id: u64) -> Result<TempHeader> {
    let mut b = [0u8; FILE_HEADER_LEN];
    if !read_prefix(vfs, path, &mut b)? {
        return Ok(TempHeader::Unreadable);
    }
    Ok(match FileHeader::decode(&b, path) {
        Ok(h) if h.id == id => TempHeader::Tagged(h.store),
        _ => TempHeader::Unreadable,
    })
}

pub(super) fn temp_hint_header(vfs: &dyn Vfs, path: &Path, id: u64) -> Result<TempHeader> {
    let mut b = [0u8; hint::PREFIX_LEN];
    if !read_prefix(vfs, path, &mut b)? {
        return Ok(TempHeader::Unreadable);
    }
    Ok(if hint::header_names(&b, id) {
        TempHeader::Untagged
    } else {
        TempHeader::Unreadable
    })
}

/// True when anything after the header of the data file at `path` is a valid record.
pub(super) fn holds_records(vfs: &dyn Vfs, path: &Path) -> Result<bool> {
    let io = |e| Error::io("read", path, e);
    let f = vfs.open(path, OpenMode::ReadShared).map_err(io)?;
    let len = f.len().map_err(io)?;
    let start = FILE_HEADER_LEN as u64;
    if len <= start {
        return Ok(false);
    }
    Scanner::new(&*f, start, len)
        .valid_record_after(start - 1, 0)
        .map_err(io)
}

/// Opens the data files (open, stat, map, read the header: independent of each other, two
/// at a time) and decides, in order, what to do about each that fails to open.
pub(super) fn open_data_files(
    vfs: &dyn Vfs,
    dir: &Path,
    data: &[&Listed],
    read_only: bool,
    owner: &Owner,
    repairs: &mut Vec<Repair>,
) -> Result<Vec<(DataFile, bool)>> {
    let open_mode = |l: &Listed| match (l.kind != FileKind::Sealed, read_only) {
        (false, _) => OpenMode::ReadSealed,
        (true, true) => OpenMode::ReadShared,
        (true, false) => OpenMode::Write,
    };
    let open_results = parallel::map_in_order(data, PARALLEL_FILES, |l| {
        let path = filename::path(dir, l.id, l.kind);
        DataFile::open(vfs, &path, open_mode(l), l.id)
    });
    let mut opened: Vec<(DataFile, bool)> = Vec::new();
    for (l, result) in data.iter().zip(open_results) {
        let active = l.kind != FileKind::Sealed;
        let path = filename::path(dir, l.id, l.kind);
        let e = match result {
            Ok(f) => {
                owner.check(&f)?;
                if l.kind == FileKind::Prepared && !holds_records(vfs, &path)? {
                    // Made ahead of a rotation that never came: nothing in it.
                    repairs.push(Repair::Remove(path));
                    continue;
                }
                if l.kind == FileKind::Prepared {
                    repairs.push(Repair::Activate(l.id));
                }
                opened.push((f, active));
                continue;
            }
            Err(e) => e,
        };
        match (owner, e) {
            // Only in a store proved by its db.id is a damaged header the store's own damage;
            // elsewhere it is a file of another format.
            (Owner::New | Owner::Untagged, Error::Corruption { reason, .. }) => {
                return Err(not_a_store(
                    path.clone(),
                    &foreign_file_reason(vfs, &path, &reason),
                ))
            }
            // A crash right after creating an active file can leave its header unwritten: cut
            // short, or zeros or garbage where the length reached the disk and the data did
            // not. Such a file holds no record yet. One whose records survived is corrupt.
            (Owner::Known(_), e @ Error::Corruption { offset: 0, .. }) if active => {
                if holds_records(vfs, &path)? {
                    // A reader may also meet a file the writer was creating that instant.
                    // The header is written before any record, so now it opens.
                    if read_only {
                        opened.push((DataFile::open(vfs, &path, open_mode(l), l.id)?, active));
                        continue;
                    }
                    return Err(e);
                }
                repairs.push(Repair::Remove(path));
            }
            (_, e) => return Err(e),
        }
    }
    Ok(opened)
}

/// Why a file named as a data file is not one, in words a user can act on.
pub(super) fn foreign_file_reason(vfs: &dyn Vfs, path: &Path, reason: &str) -> String {
    if legacy_record_at_start(vfs, path) {
        return "it holds records of bitask 0.1.1, not of this format".into();
    }
    format!("not a data file of this format ({reason})")
}

/// True when the file starts with a whole, checksummed record of bitask 0.1.1 (crc32 of key
/// and value u32, timestamp u64, key length u32, value length u32, key, value).
pub(super) fn legacy_record_at_start(vfs: &dyn Vfs, path: &Path) -> bool {
    let mut head = [0u8; 20];
    if !read_prefix(vfs, path, &mut head).unwrap_or(false) {
        return false;
    }
    let u32_at = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().unwrap()) as usize;
    let (klen, vlen) = (u32_at(12), u32_at(16));
    if klen == 0 || klen > crate::options::MAX_KEY_LEN || vlen > crate::options::MAX_VALUE_LEN {
        return false;
    }
    let mut body = vec![0u8; 20 + klen + vlen];
    read_prefix(vfs, path, &mut body).unwrap_or(false)
        && crc32fast::hash(&body[20..]) as usize == u32_at(0)
}
