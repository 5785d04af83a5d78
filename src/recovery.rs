//! Opening a directory: decide which files hold the store, and load them into a key directory.
//!
//! Rules, in order:
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

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::datafile::{DataFile, Scanner, FILE_HEADER_LEN};
use crate::error::{Error, Result};
use crate::filename::{self, FileKind};
use crate::fileset::{load_key, FileEntry, FileSet};
use crate::hint;
use crate::keydir::{KeyDir, Location};
use crate::record;
use crate::vfs::{OpenMode, Vfs};

/// What loading a directory produced.
pub struct Recovered {
    pub files: FileSet,
    pub next_seq: u64,
    pub max_id: u64,
    pub torn_bytes: u64,
    /// The file a writer continues appending to, with the end of its valid records.
    pub active: Option<(u64, u64)>,
}

/// A directory entry the store owns.
struct Listed {
    id: u64,
    kind: FileKind,
}

fn list(vfs: &dyn Vfs, dir: &Path) -> Result<Vec<Listed>> {
    let names = vfs.list_dir(dir).map_err(|e| Error::io("list", dir, e))?;
    let mut out: Vec<Listed> = names
        .iter()
        .filter_map(|n| filename::parse(n))
        .map(|(id, kind)| Listed { id, kind })
        .collect();
    out.sort_by_key(|l| l.id);
    Ok(out)
}

fn remove(vfs: &dyn Vfs, dir: &Path, id: u64, kind: FileKind) -> Result<()> {
    let p = filename::path(dir, id, kind);
    match vfs.remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", p, e)),
    }
}

fn sync_dir(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    vfs.sync_dir(dir)
        .map_err(|e| Error::io("sync directory", dir, e))
}

/// True when an error means a file vanished between listing and opening (a writer renamed or
/// deleted it): a read-only handle lists again.
pub fn is_vanished(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
}

/// Loads the store in `dir` into `keydir`. A writer (`read_only == false`) also repairs: it
/// deletes temporary, stale and abandoned files, seals extra active files and truncates a
/// torn tail. A reader changes nothing on disk.
pub fn recover(vfs: &dyn Vfs, dir: &Path, read_only: bool, keydir: &KeyDir) -> Result<Recovered> {
    let listed = list(vfs, dir)?;
    let max_id = listed.iter().map(|l| l.id).max().unwrap_or(0);
    let mut repaired = false;
    if !read_only {
        for l in listed
            .iter()
            .filter(|l| matches!(l.kind, FileKind::TempData | FileKind::TempHint))
        {
            remove(vfs, dir, l.id, l.kind)?;
            repaired = true;
        }
    }
    let hints: BTreeMap<u64, ()> = listed
        .iter()
        .filter(|l| l.kind == FileKind::Hint)
        .map(|l| (l.id, ()))
        .collect();

    let mut opened: Vec<(DataFile, bool)> = Vec::new();
    for l in listed
        .iter()
        .filter(|l| matches!(l.kind, FileKind::Active | FileKind::Sealed))
    {
        let active = l.kind == FileKind::Active;
        let path = filename::path(dir, l.id, l.kind);
        let mode = match (active, read_only) {
            (false, _) => OpenMode::ReadSealed,
            (true, true) => OpenMode::ReadShared,
            (true, false) => OpenMode::Write,
        };
        match DataFile::open(vfs, &path, mode, l.id) {
            Ok(f) => opened.push((f, active)),
            // A crash right after creating an active file can leave it without a whole header.
            Err(Error::Corruption { offset: 0, .. }) if active => {
                if !read_only {
                    remove(vfs, dir, l.id, l.kind)?;
                    repaired = true;
                }
            }
            Err(e) => return Err(e),
        }
    }

    let (covered, abandoned) = merge_state(&opened);
    let mut keep = Vec::new();
    for (f, active) in opened {
        let id = f.id();
        let stale = id <= covered || abandoned.contains(&id);
        if !stale {
            keep.push((f, active));
        } else if !read_only {
            let kind = if active {
                FileKind::Active
            } else {
                FileKind::Sealed
            };
            drop(f);
            remove(vfs, dir, id, kind)?;
            remove(vfs, dir, id, FileKind::Hint)?;
            repaired = true;
        }
    }
    if repaired {
        sync_dir(vfs, dir)?;
    }
    keep.sort_by_key(|(f, _)| load_key(f));

    let newest_active = keep.iter().filter(|(_, a)| *a).map(|(f, _)| f.id()).max();
    let mut state = Recovered {
        files: FileSet::default(),
        next_seq: 1,
        max_id,
        torn_bytes: 0,
        active: None,
    };
    let mut max_seq = 0u64;
    for (f, active) in keep {
        if !f.header.is_merge_output() {
            max_seq = max_seq.max(f.header.seq_base.saturating_sub(1));
        }
        let no = state.files.alloc_no();
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
            let loaded = load_active(&file, no, keydir, max_seq, !read_only)?;
            max_seq = max_seq.max(loaded.max_seq);
            state.torn_bytes += loaded.torn_bytes;
            entry.scanned_to = loaded.end;
            if !read_only {
                if Some(file.id()) == newest_active {
                    if loaded.torn_bytes > 0 {
                        truncate(&file, loaded.end)?;
                    }
                    state.active = Some((file.id(), loaded.end));
                } else {
                    seal_leftover_active(vfs, dir, &file, loaded.end)?;
                    entry.active = false;
                }
            }
        } else {
            let hint_len = if hints.contains_key(&file.id()) {
                load_hint(vfs, dir, &file, no, keydir, &mut max_seq)?
            } else {
                None
            };
            match hint_len {
                Some(len) => entry.hint_len = len,
                None => max_seq = max_seq.max(load_sealed(&file, no, keydir)?),
            }
            entry.scanned_to = file
                .file
                .len()
                .map_err(|e| Error::io("stat", file.path(), e))?;
        }
        state.files.insert(entry);
    }
    state.next_seq = max_seq + 1;
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

fn location(no: u32, offset: u64, value_len: u32, seq: u64, path: &Path) -> Result<Location> {
    let offset = u32::try_from(offset)
        .map_err(|_| Error::corruption(path, offset, "record offset beyond 4 GiB"))?;
    Ok(Location {
        file: no,
        offset,
        value_len,
        seq,
    })
}

/// Scans a sealed file; every record must be whole and valid. Returns the largest sequence.
pub fn load_sealed(file: &DataFile, no: u32, keydir: &KeyDir) -> Result<u64> {
    let path = file.path();
    let mut scanner = file.scan()?;
    let mut max_seq = 0;
    loop {
        let next = scanner
            .next_record()
            .map_err(|e| Error::io("read", &path, e))?;
        match next {
            Ok(Some(r)) => {
                max_seq = max_seq.max(r.header.seq);
                let loc = location(no, r.offset, r.header.value_len, r.header.seq, &path)?;
                keydir.apply_if_newer(r.key, loc, r.header.is_tombstone());
            }
            Ok(None) => return Ok(max_seq),
            Err(stop) => return Err(Error::corruption(&path, stop.offset, stop.reason)),
        }
    }
}

/// Loads a sealed file's hint. `Ok(None)` when the hint is missing or fails a check (the
/// caller scans the data file instead); otherwise the hint file's length.
fn load_hint(
    vfs: &dyn Vfs,
    dir: &Path,
    file: &DataFile,
    no: u32,
    keydir: &KeyDir,
    max_seq: &mut u64,
) -> Result<Option<u64>> {
    let path = filename::path(dir, file.id(), FileKind::Hint);
    let bytes = match read_whole(vfs, &path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let data_len = file
        .file
        .len()
        .map_err(|e| Error::io("stat", file.path(), e))?;
    let Some((count, entries)) = hint::parse(&bytes, file.id(), data_len) else {
        return Ok(None);
    };
    keydir.reserve(count as usize);
    let data_path = file.path();
    for e in entries {
        *max_seq = (*max_seq).max(e.seq);
        let loc = location(no, e.offset, e.value_len, e.seq, &data_path)?;
        keydir.apply_if_newer(e.key, loc, e.tombstone);
    }
    Ok(Some(bytes.len() as u64))
}

pub fn read_whole(vfs: &dyn Vfs, path: &Path) -> io::Result<Vec<u8>> {
    let f = vfs.open(path, OpenMode::ReadSealed)?;
    let len = usize::try_from(f.len()?).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    let mut buf = vec![0u8; len];
    f.read_exact_at(0, &mut [&mut buf])?;
    Ok(buf)
}

/// What scanning an active file found.
pub struct ActiveLoad {
    /// End of the last valid record.
    pub end: u64,
    pub max_seq: u64,
    /// Non-zero bytes after `end` (a torn record).
    pub torn_bytes: u64,
}

/// Scans an active file from its start; `strict` as in `scan_active_from`.
pub fn load_active(
    file: &DataFile,
    no: u32,
    keydir: &KeyDir,
    min_seq: u64,
    strict: bool,
) -> Result<ActiveLoad> {
    let len = file
        .file
        .len()
        .map_err(|e| Error::io("stat", file.path(), e))?;
    scan_active_from(
        file,
        no,
        keydir,
        FILE_HEADER_LEN as u64,
        len,
        min_seq,
        strict,
    )
}

/// Scans `[start, end)` of an active file, applying records. With `strict_middle`, a bad
/// record followed by a valid one is corruption; without (a reader following a live writer),
/// the scan just stops at the first bad record, which may be a write in progress.
pub fn scan_active_from(
    file: &DataFile,
    no: u32,
    keydir: &KeyDir,
    start: u64,
    end: u64,
    min_seq: u64,
    strict_middle: bool,
) -> Result<ActiveLoad> {
    let path = file.path();
    let io_err = |e| Error::io("read", &path, e);
    let mut scanner = Scanner::new(&*file.file, start, end);
    let mut max_seq = min_seq;
    loop {
        let next = match scanner.next_record() {
            // The writer cut its file (sealing it) while we read: what we have is all there is.
            Err(e) if !strict_middle && e.kind() == io::ErrorKind::UnexpectedEof => {
                return Ok(ActiveLoad {
                    end: scanner.position(),
                    max_seq,
                    torn_bytes: 0,
                });
            }
            other => other.map_err(io_err)?,
        };
        match next {
            Ok(Some(r)) => {
                max_seq = max_seq.max(r.header.seq);
                let loc = location(no, r.offset, r.header.value_len, r.header.seq, &path)?;
                keydir.apply_if_newer(r.key, loc, r.header.is_tombstone());
            }
            Ok(None) => {
                return Ok(ActiveLoad {
                    end: scanner.position(),
                    max_seq,
                    torn_bytes: 0,
                });
            }
            Err(stop) => {
                if !strict_middle {
                    return Ok(ActiveLoad {
                        end: stop.offset,
                        max_seq,
                        torn_bytes: 0,
                    });
                }
                if scanner
                    .valid_record_after(stop.offset, max_seq)
                    .map_err(io_err)?
                {
                    return Err(Error::corruption(
                        &path,
                        stop.offset,
                        format!("{} followed by valid records", stop.reason),
                    ));
                }
                let torn = nonzero_tail(file, stop.offset, end).map_err(io_err)?;
                return Ok(ActiveLoad {
                    end: stop.offset,
                    max_seq,
                    torn_bytes: torn,
                });
            }
        }
    }
}

/// Bytes from `from` to the last non-zero byte before `end` (0 when all are zero).
fn nonzero_tail(file: &DataFile, from: u64, end: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; (end - from) as usize];
    file.file.read_exact_at(from, &mut [&mut buf])?;
    Ok(buf
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i as u64 + 1))
}

fn truncate(file: &DataFile, end: u64) -> Result<()> {
    file.file
        .set_len(end)
        .map_err(|e| Error::io("truncate", file.path(), e))?;
    file.file
        .sync_data()
        .map_err(|e| Error::io("sync", file.path(), e))
}

/// An older active file left by a crash: cut it to its valid records, make it durable and
/// publish it as sealed.
fn seal_leftover_active(vfs: &dyn Vfs, dir: &Path, file: &DataFile, end: u64) -> Result<()> {
    truncate(file, end)?;
    let from = filename::path(dir, file.id(), FileKind::Active);
    let to = filename::path(dir, file.id(), FileKind::Sealed);
    vfs.rename(&from, &to)
        .map_err(|e| Error::io("rename", &from, e))?;
    file.set_path(to);
    sync_dir(vfs, dir)
}

/// Records bytes: the sum of record lengths of live entries.
pub fn live_bytes(keydir: &KeyDir) -> u64 {
    let mut total = 0;
    keydir.for_each(|key, loc| total += record::record_len(key.len(), loc.value_len as usize));
    total
}
