//! Opening a directory: decide which files hold the store, and load them into a key directory.
//!
//! Rules, in order:
//! 0. Ownership first (`Owner`): recovery deletes or truncates only files it has proved are
//!    the store's (`identity`); anything else is `Error::Incompatible` with nothing changed.
//!    Every repair is planned while reading (`Repair`) and carried out only once the open
//!    has decided to succeed.
//! 1. Temporary files (`*.tmp`) are unfinished merge outputs: the writer deletes them.
//! 2. A merge is committed when all of its output parts are published. Every data file whose
//!    id is at most the merge base of a committed merge was one of its inputs and is stale;
//!    outputs of a merge that is not complete are abandoned. The writer deletes both.
//! 3. The remaining files load in load order (see `fileset::load_key`), so records are met in
//!    sequence order; a record replaces a key's entry only with a greater sequence number.
//! 4. A sealed file is loaded from its hint file when the hint passes every check, else
//!    scanned; any bad record in a sealed file is `Error::Corruption`.
//! 5. An active file is scanned up to its first bad record. If nothing valid follows, that is a
//!    torn tail: counted, and truncated away by the writer. A valid record after a bad one is
//!    corruption in the middle of the log, reported, never skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::datafile::seal;
use crate::datafile::{DataFile, FileHeader, Scanned, Scanner, FILE_HEADER_LEN};
use crate::error::{Error, Result};
use crate::filename::{self, FileKind};
use crate::fileset::{load_key, FileEntry, FileSet};
use crate::hint;
use crate::identity::{self, Identity};
use crate::keydir::{Batch, KeyDir, Location};
use crate::record;
use crate::util::parallel;
use crate::vfs::{OpenMode, Vfs};

/// From this many data files on, an open checks them two at a time.
const PARALLEL_FILES: usize = 8;
/// After applying this many hint records (a megabyte or more of batches), the freed heap
/// memory is handed back to the kernel.
const TRIM_AFTER_RECORDS: usize = 64 * 1024;

/// What loading a directory produced.
pub struct Recovered {
    pub files: FileSet,
    /// One more than the largest sequence number loaded.
    pub next_seq: u64,
    pub max_id: u64,
    pub torn_bytes: u64,
    /// The file a writer continues appending to, with the end of its valid records.
    pub active: Option<(u64, u64)>,
    /// Whose files these are: new data files carry its tag.
    pub identity: Identity,
}

/// A directory entry named as one of the store's files.
struct Listed {
    id: u64,
    kind: FileKind,
}

/// The entries the store owns. One that is not a regular file fails the open before anything
/// is changed: opening it would fail (or, a FIFO, wait) and deleting it (a temporary file)
/// would destroy something bitask never made.
fn list(vfs: &dyn Vfs, dir: &Path) -> Result<Vec<Listed>> {
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

fn remove(vfs: &dyn Vfs, path: &Path) -> Result<()> {
    match vfs.remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

fn sync_dir(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    vfs.sync_dir(dir)
        .map_err(|e| Error::io("sync directory", dir, e))
}

/// True when anything after the header of the data file at `path` is a valid record.
fn holds_records(vfs: &dyn Vfs, path: &Path) -> Result<bool> {
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

/// True when an error means a file vanished between listing and opening (a writer renamed or
/// deleted it): a read-only handle lists again.
pub fn is_vanished(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
}

/// True when `dir` holds a store: its identity file, or any file named as a store's.
pub fn holds_store(vfs: &dyn Vfs, dir: &Path) -> Result<bool> {
    Ok(identity::read(vfs, dir)?.is_some() || !list(vfs, dir)?.is_empty())
}

/// Whose files a directory holds, decided before anything in it is touched.
#[derive(Clone, Copy, Debug)]
enum Owner {
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
    fn establish(vfs: &dyn Vfs, dir: &Path, listed: &[Listed]) -> Result<Owner> {
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
    fn identity(&self) -> Identity {
        match self {
            Owner::Known(id) => *id,
            Owner::New | Owner::Untagged => Identity::UNTAGGED,
        }
    }

    /// Makes sure the directory has its `db.id` (a writer's open that has decided to
    /// succeed); returns the identity new files carry.
    fn settle(&self, vfs: &dyn Vfs, dir: &Path) -> Result<Identity> {
        match self {
            Owner::Known(id) => Ok(*id),
            Owner::New => identity::create(vfs, dir, false),
            Owner::Untagged => identity::create(vfs, dir, true),
        }
    }

    /// Checks that an opened data file is the store's.
    fn check(&self, f: &DataFile) -> Result<()> {
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
fn not_a_store(path: PathBuf, why: &str) -> Error {
    Error::Incompatible {
        reason: format!(
            "{why}, and the directory has no {}: it is not a bitask store of this format, \
             and nothing in it was changed",
            filename::ID_FILE
        ),
        path,
    }
}

/// What a writer changes on disk to finish what a crash interrupted. Planned while the
/// directory is read, carried out only once the open has decided to succeed: a refused
/// open changes nothing.
enum Repair {
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

fn carry_out(vfs: &dyn Vfs, dir: &Path, repairs: Vec<Repair>, files: &mut FileSet) -> Result<()> {
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
    }
    Ok(())
}

/// Plans the removal of a writer's temporary files (unfinished merge outputs): only those
/// proved to be the store's. In a store with its `db.id`, a temporary file is the store's
/// unless its header names another store (a crash may have left its header unwritten); in
/// an untagged store, its header must be one this format writes.
fn plan_temp_removal(
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
enum TempHeader {
    /// A valid data file header carrying this store tag.
    Tagged(u32),
    /// A valid header of a kind that carries no store tag (a hint file's).
    Untagged,
    /// No valid header: cut short, torn, or not this format's.
    Unreadable,
}

fn read_prefix(vfs: &dyn Vfs, path: &Path, buf: &mut [u8]) -> Result<bool> {
    let f = vfs
        .open(path, OpenMode::ReadShared)
        .map_err(|e| Error::io("open", path, e))?;
    match f.read_exact_at(0, &mut [buf]) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

fn temp_data_header(vfs: &dyn Vfs, path: &Path, id: u64) -> Result<TempHeader> {
    let mut b = [0u8; FILE_HEADER_LEN];
    if !read_prefix(vfs, path, &mut b)? {
        return Ok(TempHeader::Unreadable);
    }
    Ok(match FileHeader::decode(&b, path) {
        Ok(h) if h.id == id => TempHeader::Tagged(h.store),
        _ => TempHeader::Unreadable,
    })
}

fn temp_hint_header(vfs: &dyn Vfs, path: &Path, id: u64) -> Result<TempHeader> {
    let mut b = [0u8; hint::HEADER_LEN];
    if !read_prefix(vfs, path, &mut b)? {
        return Ok(TempHeader::Unreadable);
    }
    Ok(if hint::header_names(&b, id) {
        TempHeader::Untagged
    } else {
        TempHeader::Unreadable
    })
}

/// Sealing and activating rename a file atomically, so no crash leaves one id under two
/// names: the directory was changed by other means, and neither file can be chosen safely.
fn refuse_duplicate_ids(dir: &Path, data: &[&Listed]) -> Result<()> {
    match data.windows(2).find(|w| w[0].id == w[1].id) {
        Some(w) => Err(Error::corruption(
            filename::path(dir, w[0].id, w[0].kind),
            0,
            format!("{} exists too", filename::name(w[1].id, w[1].kind)),
        )),
        None => Ok(()),
    }
}

/// Opens the data files (open, stat, map, read the header: independent of each other, two
/// at a time) and decides, in order, what to do about each that fails to open.
fn open_data_files(
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
fn foreign_file_reason(vfs: &dyn Vfs, path: &Path, reason: &str) -> String {
    if legacy_record_at_start(vfs, path) {
        return "it holds records of bitask 0.1.1, not of this format".into();
    }
    format!("not a data file of this format ({reason})")
}

/// True when the file starts with a whole, checksummed record of bitask 0.1.1 (crc32 of key
/// and value u32, timestamp u64, key length u32, value length u32, key, value).
fn legacy_record_at_start(vfs: &dyn Vfs, path: &Path) -> bool {
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

/// Loads the store in `dir` into `keydir`. A writer (`read_only == false`) also repairs what
/// a crash left (temporary, stale and abandoned files, extra active files, a torn tail), but
/// only in a directory proved to be the store's, and only once the open has decided to
/// succeed; it also gives a new store its `db.id`. A reader changes nothing on disk.
pub fn recover(vfs: &dyn Vfs, dir: &Path, read_only: bool, keydir: &KeyDir) -> Result<Recovered> {
    let listed = list(vfs, dir)?;
    let data_file = |l: &&Listed| {
        matches!(
            l.kind,
            FileKind::Active | FileKind::Sealed | FileKind::Prepared
        )
    };
    let data: Vec<&Listed> = listed.iter().filter(data_file).collect();
    refuse_duplicate_ids(dir, &data)?;
    let owner = Owner::establish(vfs, dir, &listed)?;
    let mut repairs = Vec::new();
    if !read_only {
        plan_temp_removal(vfs, dir, &listed, &owner, &mut repairs)?;
    }
    let opened = open_data_files(vfs, dir, &data, read_only, &owner, &mut repairs)?;
    let keep = set_aside_stale(dir, opened, &mut repairs);
    let hints: BTreeSet<u64> = listed
        .iter()
        .filter(|l| l.kind == FileKind::Hint)
        .map(|l| l.id)
        .collect();
    let max_id = listed.iter().map(|l| l.id).max().unwrap_or(0);
    let mut state = load(vfs, dir, keep, &hints, read_only, keydir, &mut repairs)?;
    state.max_id = max_id;
    state.identity = owner.identity();
    if !read_only {
        state.identity = owner.settle(vfs, dir)?;
        carry_out(vfs, dir, repairs, &mut state.files)?;
    }
    Ok(state)
}

/// Splits off the inputs of committed merges and the outputs of abandoned ones (a writer
/// removes both); returns the rest in load order.
fn set_aside_stale(
    dir: &Path,
    opened: Vec<(DataFile, bool)>,
    repairs: &mut Vec<Repair>,
) -> Vec<(DataFile, bool)> {
    let (covered, abandoned) = merge_state(&opened);
    let mut keep = Vec::new();
    for (f, active) in opened {
        let id = f.id();
        if id <= covered || abandoned.contains(&id) {
            let kind = if active {
                FileKind::Active
            } else {
                FileKind::Sealed
            };
            repairs.push(Repair::Remove(filename::path(dir, id, kind)));
            repairs.push(Repair::Remove(filename::path(dir, id, FileKind::Hint)));
        } else {
            keep.push((f, active));
        }
    }
    keep.sort_by_key(|(f, _)| load_key(f));
    keep
}

/// Loads the files kept, in load order, from hints where they pass their checks; plans the
/// repairs of active files.
fn load(
    vfs: &dyn Vfs,
    dir: &Path,
    keep: Vec<(DataFile, bool)>,
    hints: &BTreeSet<u64>,
    read_only: bool,
    keydir: &KeyDir,
    repairs: &mut Vec<Repair>,
) -> Result<Recovered> {
    // The writer appends to an active file only when it is the last file in load order. A
    // power cut while an older active file was being sealed in the background can leave it
    // behind a newer sealed file; appending to it would break sequence order, so it is sealed
    // too and the writer starts a new file.
    let newest_active = keep.last().filter(|(_, a)| *a).map(|(f, _)| f.id());
    let mut state = Recovered {
        files: FileSet::default(),
        next_seq: 1,
        max_id: 0,
        torn_bytes: 0,
        active: None,
        identity: Identity::UNTAGGED,
    };
    // A reader measures how far the writer's active files are written before loading any,
    // newest first (see `refresh`): read oldest first, an older file could show its end from
    // before the writer moved on while a newer one shows records written after.
    let mut reader_ends = BTreeMap::new();
    if read_only {
        for (f, _) in keep.iter().rev().filter(|(_, active)| *active) {
            let len = f.file.len().map_err(|e| Error::io("stat", f.path(), e))?;
            reader_ends.insert(f.id(), valid_end(f, FILE_HEADER_LEN as u64, len)?);
        }
    }
    // Checking a sealed file's hint (a CRC over it, its entries against the data file, the
    // data file's seal) is most of an open's work besides the key directory, and independent
    // per file: two at a time, used below in load order.
    let checked_hints = parallel::map_in_order(&keep, PARALLEL_FILES, |(f, active)| {
        (!active && hints.contains(&f.id())).then(|| check_hint(vfs, dir, f, keydir))
    });
    let mut load = Loader::new(keydir, 0);
    for ((f, active), checked_hint) in keep.into_iter().zip(checked_hints) {
        if !f.header.is_merge_output() {
            load.last_seq = load.last_seq.max(f.header.seq_base.saturating_sub(1));
        }
        let no = state.files.alloc_no(&f.path())?;
        let file = Arc::new(f);
        keydir.add_file(no, file.clone());
        let mut entry = FileEntry {
            no,
            file: file.clone(),
            active,
            hint_len: 0,
            scanned_to: FILE_HEADER_LEN as u64,
        };
        if active {
            load.flush()?;
            let end = match reader_ends.get(&file.id()) {
                Some(&end) => end,
                None => file
                    .file
                    .len()
                    .map_err(|e| Error::io("stat", file.path(), e))?,
            };
            let start = FILE_HEADER_LEN as u64;
            let loaded = load.scan_active(&file, no, start, end, !read_only)?;
            state.torn_bytes += loaded.torn_bytes;
            entry.scanned_to = loaded.end;
            if !read_only {
                if loaded.sealed {
                    repairs.push(Repair::FinishSeal(file.clone(), loaded.end));
                } else if Some(file.id()) == newest_active {
                    if loaded.torn_bytes > 0 {
                        repairs.push(Repair::Truncate(file.clone(), loaded.end));
                    }
                    state.active = Some((file.id(), loaded.end));
                } else {
                    repairs.push(Repair::Seal(file.clone(), loaded.end, load.last_seq));
                }
            }
        } else {
            match checked_hint.transpose()?.flatten() {
                Some(hint) => entry.hint_len = load.hint(hint, &file, no)?,
                None => {
                    load.flush()?;
                    load.sealed(&file, no)?
                }
            }
            entry.scanned_to = sealed_len(&file)?;
        }
        state.files.insert(entry);
    }
    load.flush()?;
    state.next_seq = load.last_seq + 1;
    Ok(state)
}

/// (largest merge base of a committed merge, ids of outputs of uncommitted merges)
fn merge_state(files: &[(DataFile, bool)]) -> (u64, Vec<u64>) {
    let mut merges: BTreeMap<u64, Vec<&DataFile>> = BTreeMap::new();
    for (f, _) in files {
        if f.header.is_merge_output() {
            merges.entry(f.header.merge_base).or_default().push(f);
        }
    }
    let complete = |parts: &Vec<&DataFile>| {
        let n = parts[0].header.merge_parts;
        let mut seen: Vec<u32> = parts
            .iter()
            .filter(|p| p.header.merge_parts == n)
            .map(|p| p.header.merge_part)
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len() as u64 == n as u64 && seen.iter().enumerate().all(|(i, &p)| p as usize == i)
    };
    let covered = merges
        .iter()
        .filter(|(_, p)| complete(p))
        .map(|(&b, _)| b)
        .max()
        .unwrap_or(0);
    let abandoned = merges
        .iter()
        .filter(|(_, p)| !complete(p))
        .flat_map(|(_, p)| p.iter().map(|f| f.id()))
        .filter(|&id| id > covered)
        .collect();
    (covered, abandoned)
}

fn location(no: u32, offset: u64, rec_len: u64, path: &Path) -> Result<Location> {
    Ok(Location {
        file: no,
        offset: record_offset(offset, path)?,
        rec_len: rec_len as u32,
    })
}

/// A record's offset as the key directory keeps it (data files stay within 2 GiB; no record
/// starts inside the file header, and offset 0 marks an empty slot).
fn record_offset(offset: u64, path: &Path) -> Result<u32> {
    let reason = if offset >= crate::keydir::MAX_OFFSET {
        "record offset beyond 2 GiB"
    } else if offset < FILE_HEADER_LEN as u64 {
        "record offset inside the file header"
    } else {
        return Ok(offset as u32);
    };
    Err(Error::corruption(path, offset, reason))
}

/// Applies records to a key directory in load order. Load order is sequence order, so each
/// record is newer than every record applied before it and simply replaces (or, for a
/// tombstone, removes) the key's entry; a sequence number that does not grow means the
/// directory holds files that do not belong together, and is reported rather than guessed at.
pub struct Loader<'k> {
    keydir: &'k KeyDir,
    /// The largest sequence number applied so far.
    pub last_seq: u64,
    /// Records of hint files not yet applied, with their files' numbers: applied in bulk (see
    /// `KeyDir::apply_batches`) before any other file loads, which keeps the order.
    batches: Vec<(u32, Batch)>,
}

impl<'k> Loader<'k> {
    pub fn new(keydir: &'k KeyDir, last_seq: u64) -> Loader<'k> {
        Loader {
            keydir,
            last_seq,
            batches: Vec::new(),
        }
    }

    /// Applies the pending hint entries.
    pub fn flush(&mut self) -> Result<()> {
        if self.batches.is_empty() {
            return Ok(());
        }
        self.keydir.apply_batches(&self.batches)?;
        let records: usize = self.batches.iter().map(|(_, b)| b.len()).sum();
        self.batches = Vec::new();
        if records >= TRIM_AFTER_RECORDS {
            crate::util::sys::release_free_heap();
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        key: &[u8],
        no: u32,
        offset: u64,
        rec_len: u64,
        seq: u64,
        tombstone: bool,
        path: &Path,
    ) -> Result<()> {
        if seq <= self.last_seq {
            return Err(out_of_order(path, offset, seq, self.last_seq));
        }
        self.last_seq = seq;
        if tombstone {
            self.keydir.remove(key)?;
        } else {
            self.keydir
                .insert(key, location(no, offset, rec_len, path)?)?;
        }
        Ok(())
    }

    fn apply_scanned(&mut self, r: &Scanned<'_>, no: u32, path: &Path) -> Result<()> {
        let h = r.header;
        self.apply(
            r.key,
            no,
            r.offset,
            h.record_len(),
            h.seq,
            h.is_tombstone(),
            path,
        )
    }

    /// Scans a sealed file; every record must be whole and valid, and the last one must be
    /// the file's seal: without it the file was cut short, perhaps exactly between records.
    pub fn sealed(&mut self, file: &DataFile, no: u32) -> Result<()> {
        let path = file.path();
        let mut scanner = file.scan()?;
        let mut seal = SealCheck::default();
        loop {
            let next = scanner
                .next_record()
                .map_err(|e| Error::io("read", &path, e))?;
            match next {
                Ok(Some(r)) => {
                    if !seal.admit(&r, file.id(), &path)? {
                        self.apply_scanned(&r, no, &path)?
                    }
                }
                Ok(None) if seal.seen => return Ok(()),
                Ok(None) => {
                    let reason = "sealed file ends without its seal record: it was cut short";
                    return Err(Error::corruption(&path, scanner.position(), reason));
                }
                Err(stop) => return Err(Error::corruption(&path, stop.offset, stop.reason)),
            }
        }
    }

    /// Queues the records of a sealed file's hint that `check_hint` accepted; returns the
    /// hint file's length.
    fn hint(&mut self, hint: CheckedHint, file: &DataFile, no: u32) -> Result<u64> {
        if let Some(seqs) = &hint.seqs {
            if seqs.first <= self.last_seq {
                let path = file.path();
                return Err(out_of_order(
                    &path,
                    seqs.first_offset,
                    seqs.first,
                    self.last_seq,
                ));
            }
        }
        if let Some(e) = hint.failure {
            return Err(e);
        }
        if let Some(seqs) = hint.seqs {
            self.last_seq = seqs.last;
        }
        self.batches.push((no, hint.batch));
        Ok(hint.len)
    }

    /// Scans `[start, end)` of an active file, applying records. With `strict`, a bad record
    /// followed by a valid one is corruption and a torn tail is measured; without (a reader
    /// following a live writer), the scan just stops at the first bad record, which may be a
    /// write in progress, or at the end of a file the writer has just cut.
    pub fn scan_active(
        &mut self,
        file: &DataFile,
        no: u32,
        start: u64,
        mut end: u64,
        strict: bool,
    ) -> Result<ActiveLoad> {
        let path = file.path();
        let io_err = |e| Error::io("read", &path, e);
        let mut scanner = Scanner::new(&*file.file, start, end);
        let mut seal = SealCheck::default();
        loop {
            let next = match scanner.next_record() {
                Err(e) if !strict && e.kind() == io::ErrorKind::UnexpectedEof => {
                    // The writer cut the file to its records (sealing it) after its length
                    // was read, and a read reaching past the new end failed: scan on to the
                    // new end. Stopping here would skip this file's records while later
                    // files load, and the next refresh would meet them out of order.
                    let now = file.file.len().map_err(io_err)?;
                    if now < end {
                        end = now;
                        scanner = Scanner::new(&*file.file, scanner.position(), end);
                        continue;
                    }
                    return Ok(ActiveLoad {
                        end: scanner.position(),
                        torn_bytes: 0,
                        sealed: seal.seen,
                    });
                }
                other => other.map_err(io_err)?,
            };
            let stop = match next {
                Ok(Some(r)) => {
                    if !seal.admit(&r, file.id(), &path)? {
                        self.apply_scanned(&r, no, &path)?;
                    }
                    continue;
                }
                Ok(None) => {
                    return Ok(ActiveLoad {
                        end: scanner.position(),
                        torn_bytes: 0,
                        sealed: seal.seen,
                    })
                }
                Err(stop) => stop,
            };
            if !strict {
                return Ok(ActiveLoad {
                    end: stop.offset,
                    torn_bytes: 0,
                    sealed: seal.seen,
                });
            }
            if scanner
                .valid_record_after(stop.offset, self.last_seq)
                .map_err(io_err)?
            {
                let reason = format!("{} followed by valid records", stop.reason);
                return Err(Error::corruption(&path, stop.offset, reason));
            }
            let torn = nonzero_tail(file, stop.offset, end).map_err(io_err)?;
            return Ok(ActiveLoad {
                end: stop.offset,
                torn_bytes: torn,
                sealed: seal.seen,
            });
        }
    }
}

/// The end of the valid records of a file another process writes, reading from `start`
/// (which must start a record) up to `len` bytes.
pub fn valid_end(file: &DataFile, start: u64, len: u64) -> Result<u64> {
    let mut scanner = Scanner::new(&*file.file, start, len);
    loop {
        match scanner.next_record() {
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) => return Ok(scanner.position()),
            Ok(Err(stop)) => return Ok(stop.offset),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(scanner.position()),
            Err(e) => return Err(Error::io("read", file.path(), e)),
        }
    }
}

/// A sealed file's hint file that passed every check, with its records ready to apply: they
/// stand in for a scan of the data file.
struct CheckedHint {
    /// The hint file's length.
    len: u64,
    batch: Batch,
    /// `None` without records.
    seqs: Option<SeqRange>,
    /// A record from which on the hint is unusable (out of order within the file, or
    /// impossible): reported by `Loader::hint` after the first record's order check, as a
    /// scan in load order would.
    failure: Option<Error>,
}

/// The sequence numbers of a hint's records. They must grow within the file, and the first
/// must be greater than every record loaded before, which `Loader::hint` checks in load
/// order.
struct SeqRange {
    first: u64,
    first_offset: u64,
    last: u64,
}

/// Checks a sealed file's hint and hashes its records for the key directory (independent of
/// other files: runs on any thread). `Ok(None)` when the hint is missing or fails a check
/// (the caller scans the data file instead); an error when the hint is intact and proves the
/// data file damaged.
fn check_hint(
    vfs: &dyn Vfs,
    dir: &Path,
    file: &DataFile,
    keydir: &KeyDir,
) -> Result<Option<CheckedHint>> {
    let path = filename::path(dir, file.id(), FileKind::Hint);
    let data_len = sealed_len(file)?;
    let bytes = match read_whole(vfs, &path, hint::max_len(data_len)) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let bytes = &bytes[..];
    let Some((count, entries)) = hint::parse(bytes, file.id(), data_len) else {
        // A sealed file cut at a record boundary scans clean: its intact hint is the
        // evidence that records are missing.
        if let Some(described) = hint::described_len(bytes, file.id()) {
            if described != data_len {
                return Err(Error::corruption(
                    file.path(),
                    described.min(data_len),
                    format!("data file is {data_len} bytes, its hint file says {described}"),
                ));
            }
        }
        return Ok(None);
    };
    check_ends_with_seal(file, data_len)?;
    let data_path = file.path();
    let mut batch = keydir.new_batch(count as usize);
    let mut seqs: Option<SeqRange> = None;
    let mut failure = None;
    for e in entries {
        let in_order = match &mut seqs {
            None => {
                seqs = Some(SeqRange {
                    first: e.seq,
                    first_offset: e.offset,
                    last: e.seq,
                });
                Ok(())
            }
            Some(r) if e.seq <= r.last => Err(out_of_order(&data_path, e.offset, e.seq, r.last)),
            Some(r) => {
                r.last = e.seq;
                Ok(())
            }
        };
        match in_order.and_then(|()| record_offset(e.offset, &data_path)) {
            Ok(offset) => {
                let rec_len = record::record_len(e.key.len(), e.value_len as usize);
                batch.push(e.key, offset, rec_len as u32, e.tombstone);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    Ok(Some(CheckedHint {
        len: bytes.len() as u64,
        batch,
        seqs,
        failure,
    }))
}

fn out_of_order(path: &Path, offset: u64, seq: u64, last_seq: u64) -> Error {
    Error::corruption(
        path,
        offset,
        format!("sequence number {seq} after {last_seq}: records out of order"),
    )
}

/// A sealed file's length: the one its read-only mapping was made with (nothing changes a
/// sealed file while it is open), else from the file system.
fn sealed_len(file: &DataFile) -> Result<u64> {
    match file.file.as_bytes() {
        Some(b) => Ok(b.len() as u64),
        None => file
            .file
            .len()
            .map_err(|e| Error::io("stat", file.path(), e)),
    }
}

/// A whole (small, immutable) file, read with one positioned read: cheaper than mapping it,
/// touching its pages once and unmapping it again. `None` when it is longer than `max` or
/// there is no memory for it: a hint is only a shortcut, and the scan that replaces it reads
/// through a buffer of fixed size.
fn read_whole(vfs: &dyn Vfs, path: &Path, max: u64) -> io::Result<Option<Vec<u8>>> {
    let f = vfs.open(path, OpenMode::ReadShared)?;
    let len = f.len()?;
    let Some(Ok(mut buf)) = usize::try_from(len)
        .ok()
        .filter(|_| len <= max)
        .map(crate::datafile::zeroed)
    else {
        return Ok(None);
    };
    f.read_exact_at(0, &mut [&mut buf])?;
    Ok(Some(buf))
}

/// A sealed file loaded from its hint is not scanned, but its last bytes must still be its
/// seal: one read that catches a data file cut or replaced behind its hint's back.
fn check_ends_with_seal(file: &DataFile, len: u64) -> Result<()> {
    let cut = |offset| {
        Error::corruption(
            file.path(),
            offset,
            "sealed file does not end with its seal record",
        )
    };
    let Some(at) = len.checked_sub(record::SEAL_LEN) else {
        return Err(cut(0));
    };
    if at < FILE_HEADER_LEN as u64 {
        return Err(cut(at));
    }
    // The scanner checks the header and the CRC, as for any record.
    let mut scanner = Scanner::new(&*file.file, at, len);
    match scanner.next_record() {
        Ok(Ok(Some(r))) if r.header.is_seal() && record::seal_matches(r.value, file.id(), at) => {
            Ok(())
        }
        Ok(_) => Err(cut(at)),
        Err(e) => Err(Error::io("read", file.path(), e)),
    }
}

/// What scanning an active file found.
pub struct ActiveLoad {
    /// End of the last valid record.
    pub end: u64,
    /// Non-zero bytes after `end` (a torn record).
    pub torn_bytes: u64,
    /// The file ends with its seal: sealing it was interrupted after the seal was written.
    pub sealed: bool,
}

/// Tracks the seal while a file is scanned: it must name its file and offset, and no
/// record may follow it.
#[derive(Default)]
struct SealCheck {
    seen: bool,
}

impl SealCheck {
    /// True when `r` is the seal (which applies nothing); errors when it is out of place.
    fn admit(&mut self, r: &Scanned<'_>, file_id: u64, path: &Path) -> Result<bool> {
        if self.seen {
            return Err(Error::corruption(path, r.offset, "a record after the seal"));
        }
        if !r.header.is_seal() {
            return Ok(false);
        }
        if !record::seal_matches(r.value, file_id, r.offset) {
            let reason = "a seal record that belongs to another file or place";
            return Err(Error::corruption(path, r.offset, reason));
        }
        self.seen = true;
        Ok(true)
    }
}

/// Bytes from `from` to the last non-zero byte before `end` (0 when all are zero), read
/// through one buffer of `TAIL_CHUNK` bytes: after a crash the tail is the active file's
/// whole reserved space, up to `max_file_size` (2 GiB).
fn nonzero_tail(file: &DataFile, from: u64, end: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; TAIL_CHUNK];
    let mut last = None;
    let mut at = from;
    while at < end {
        let n = (end - at).min(TAIL_CHUNK as u64) as usize;
        file.file.read_exact_at(at, &mut [&mut buf[..n]])?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b != 0) {
            last = Some(at + i as u64);
        }
        at += n as u64;
    }
    Ok(last.map_or(0, |l| l + 1 - from))
}

/// See `nonzero_tail`.
const TAIL_CHUNK: usize = 64 * 1024;

fn truncate(file: &DataFile, end: u64) -> Result<()> {
    file.file
        .set_len(end)
        .map_err(|e| Error::io("truncate", file.path(), e))?;
    file.file
        .sync_data()
        .map_err(|e| Error::io("sync", file.path(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nonzero_tail_is_measured_through_a_fixed_buffer() {
        let vfs = crate::vfs::sim::SimVfs::new();
        vfs.create_dir_all(Path::new("/d")).unwrap();
        let header = crate::datafile::FileHeader {
            id: 1,
            ..Default::default()
        };
        let path = Path::new("/d/1.active.log");
        let f = DataFile::create(&vfs, path, header, None).unwrap();
        let chunk = TAIL_CHUNK as u64;
        let len = 3 * chunk + 100;
        f.file.set_len(len).unwrap();
        let from = FILE_HEADER_LEN as u64;
        assert_eq!(nonzero_tail(&f, from, len).unwrap(), 0);
        for at in [from, chunk - 1, chunk, 2 * chunk + 7, len - 1] {
            f.file.write_all_at(at, &[&[1]]).unwrap();
            assert_eq!(nonzero_tail(&f, from, len).unwrap(), at + 1 - from, "{at}");
        }
        assert_eq!(nonzero_tail(&f, from, chunk).unwrap(), chunk - from);
    }

    #[test]
    fn a_record_offset_the_key_directory_cannot_hold_is_corruption() {
        let path = Path::new("/db/7.log");
        let last = crate::keydir::MAX_OFFSET - 1;
        assert_eq!(record_offset(last, path).unwrap() as u64, last);
        let err = record_offset(last + 1, path).unwrap_err();
        assert!(
            matches!(err, Error::Corruption { offset, .. } if offset == last + 1),
            "{err}"
        );
        let first = FILE_HEADER_LEN as u64;
        assert_eq!(record_offset(first, path).unwrap() as u64, first);
        for inside in [0, first - 1] {
            let err = record_offset(inside, path).unwrap_err();
            assert!(err.to_string().contains("file header"), "{err}");
        }
    }
}
