//! Opening a directory: decide which files hold the store, and load them into a key directory.
//!
//! Rules, in order:
//! 0. Ownership first (`Owner`): recovery deletes or truncates only files it has proved are
//!    the store's (`identity`); anything else is `Error::Incompatible` with nothing changed.
//!    Every repair is planned while reading (`Repair`) and carried out only once the open
//!    has decided to succeed.
//! 1. Temporary files (`*.tmp`) are unfinished merge outputs: the writer deletes them.
//! 2. A merge is committed when all of its output parts are published. Every data file whose
//!    id lies in the range a committed merge replaced (`datafile::merges`) was one of its
//!    inputs and is stale; outputs of a merge that is not complete are abandoned. The writer
//!    deletes both.
//! 3. The remaining files load in load order (see `fileset::load_key`), so records are met in
//!    sequence order; a record replaces a key's entry only with a greater sequence number.
//! 4. A sealed file is loaded from its hint file when the hint passes every check, else
//!    scanned; any bad record in a sealed file is `Error::Corruption`.
//! 5. An active file is scanned up to its first bad record. If nothing valid follows, that is a
//!    torn tail: counted, and truncated away by the writer. A valid record after a bad one is
//!    corruption in the middle of the log, reported, never skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use crate::datafile::merges::Merges;
use crate::datafile::{DataFile, FILE_HEADER_LEN};
use crate::error::Result;
use crate::filename::{self, FileKind};
use crate::fileset::{load_key, FileEntry, FileSet, SortedRun};
use crate::identity::Identity;
use crate::keydir::KeyDir;
use crate::util::parallel;
use crate::vfs::Vfs;

mod hints;
mod listing;
mod loader;
mod ownership;
mod repair;

use hints::{check_hint, sealed_len};
pub use listing::{holds_store, is_vanished};
use listing::{list, refuse_duplicate_ids, Listed};
use loader::ActiveLoad;
pub use loader::{valid_end, Loader};
use ownership::{open_data_files, plan_temp_removal, Owner, PARALLEL_FILES};
use repair::{carry_out, Repair};

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
    /// Sealed files loaded without a valid version 2 hint (none, version 1, damaged): a
    /// writer writes theirs in the background.
    pub unhinted: Vec<u64>,
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
        let sealed = carry_out(vfs, dir, repairs, &mut state.files)?;
        state.unhinted.extend(sealed);
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
    let merges = Merges::of(opened.iter().map(|(f, _)| &f.header));
    let mut keep = Vec::new();
    for (f, active) in opened {
        let id = f.id();
        if merges.left_out(id) {
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
        unhinted: Vec::new(),
    };
    // A reader measures how far the writer's active files are written before loading any,
    // newest first (see `refresh`): read oldest first, an older file could show its end from
    // before the writer moved on while a newer one shows records written after.
    let mut reader_ends = BTreeMap::new();
    if read_only {
        for (f, _) in keep.iter().rev().filter(|(_, active)| *active) {
            let len = f.len()?;
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
        let file = Arc::new(f);
        let no = state.files.stage(keydir, &file)?;
        let mut entry = FileEntry {
            no,
            file: file.clone(),
            active,
            hint_len: 0,
            sorted_run: SortedRun::Unknown,
            keys_read: None,
            scanned_to: FILE_HEADER_LEN as u64,
            kept_bytes: None,
        };
        if active {
            let end = reader_ends.get(&file.id()).copied();
            let loaded = load_active(&mut load, &file, no, end, read_only)?;
            state.torn_bytes += loaded.torn_bytes;
            entry.scanned_to = loaded.end;
            if !read_only {
                if let Some(end) = plan_active_repair(&loaded, &file, newest_active, &load, repairs)
                {
                    state.active = Some((file.id(), end));
                }
            }
        } else {
            let mut checked = checked_hint.transpose()?.flatten();
            let sorted = checked.as_ref().is_some_and(|h| h.sorted);
            let mapped = checked.as_mut().and_then(|h| h.mapped.take());
            match checked
                .map(|h| load.hint(h, &file, no))
                .transpose()?
                .flatten()
            {
                Some(len) => entry.hint_len = len,
                None => {
                    load.flush()?;
                    load.sealed(&file, no)?
                }
            }
            if !sorted || entry.hint_len == 0 {
                state.unhinted.push(file.id());
            } else {
                entry.sorted_run = mapped.map_or(SortedRun::Checked, SortedRun::Mapped);
            }
            entry.scanned_to = sealed_len(&file)?;
        }
        state.files.insert(entry);
    }
    load.flush()?;
    state.next_seq = load.last_seq + 1;
    Ok(state)
}

/// Scans an active file from its first record to `end` (a reader's measure of how far the
/// writer had written), or to its length.
fn load_active(
    load: &mut Loader<'_>,
    file: &Arc<DataFile>,
    no: u32,
    end: Option<u64>,
    read_only: bool,
) -> Result<ActiveLoad> {
    load.flush()?;
    let end = match end {
        Some(end) => end,
        None => file.len()?,
    };
    load.scan_active(file, no, FILE_HEADER_LEN as u64, end, !read_only)
}

/// What a writer does with an active file it loaded: finishes its seal when the seal is
/// there, seals it when a newer file follows it, or goes on appending to it (cut after its
/// last valid record): then returns where the next record goes.
fn plan_active_repair(
    loaded: &ActiveLoad,
    file: &Arc<DataFile>,
    newest_active: Option<u64>,
    load: &Loader<'_>,
    repairs: &mut Vec<Repair>,
) -> Option<u64> {
    if loaded.sealed {
        repairs.push(Repair::FinishSeal(file.clone(), loaded.end));
        None
    } else if Some(file.id()) == newest_active {
        if loaded.torn_bytes > 0 {
            repairs.push(Repair::Truncate(file.clone(), loaded.end));
        }
        Some(loaded.end)
    } else {
        repairs.push(Repair::Seal(file.clone(), loaded.end, load.last_seq));
        None
    }
}
