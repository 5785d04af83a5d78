//! The sorted runs a scan merges: one per sealed file with a sorted hint, walked in place
//! through its mapping (`MappedHint`), and one in memory (`KeyRun`) for the other files.
//! A run yields the keys of puts, each once, in key order both ways; tombstones and puts
//! expired when the scan was made are passed over (if such a key is live, its live record is
//! newer, in a file whose own run names it).

use std::sync::Arc;

use crate::datafile::hint_map::MappedHint;
use crate::datafile::key_run::KeyRun;
use crate::datafile::{DataFile, FILE_HEADER_LEN};
use crate::engine::Engine;
use crate::error::Result;
use crate::fileset::SortedRun;
use crate::hint::HintEntry;
use crate::record::is_expired;
use crate::util::sync::lock;

pub(super) enum Run {
    Hint {
        hint: Arc<MappedHint>,
        /// The cursor, as `Cursor::raw` gives it.
        at: (usize, usize),
        now: u64,
    },
    Keys {
        keys: Arc<KeyRun>,
        /// Keys before the cursor.
        pos: usize,
    },
}

impl Run {
    /// The smallest and the largest key the run holds; `None` when it holds none.
    pub(super) fn key_range(&self) -> Option<(&[u8], &[u8])> {
        match self {
            Run::Hint { hint, .. } => hint.key_range(),
            Run::Keys { keys, .. } => Some((keys.get(0)?, keys.get(keys.len().checked_sub(1)?)?)),
        }
    }

    /// Moves the cursor before the first key `>= key` (`after`: `> key`).
    pub(super) fn seek(&mut self, key: &[u8], after: bool) {
        match self {
            Run::Hint { hint, at, .. } => {
                let view = hint.view();
                let c = if after {
                    view.seek_after(key)
                } else {
                    view.seek(key)
                };
                *at = c.raw();
            }
            Run::Keys { keys, pos } => *pos = keys.rank(key, after),
        }
    }

    /// Moves the cursor to the end (`reverse`) or the start.
    pub(super) fn rewind(&mut self, reverse: bool) {
        match self {
            Run::Hint { hint, at, .. } => {
                let view = hint.view();
                *at = view.cursor_at(if reverse { view.len() } else { 0 }).raw();
            }
            Run::Keys { keys, pos } => *pos = if reverse { keys.len() } else { 0 },
        }
    }

    /// The key after the cursor (`reverse`: before it), into `out`, moving past it; false
    /// at the end.
    pub(super) fn step(&mut self, reverse: bool, out: &mut Vec<u8>) -> bool {
        let key = match self {
            Run::Hint { hint, at, now } => {
                let mut c = hint.view().cursor_raw(*at);
                let wanted = |e: &HintEntry<'_>| !e.tombstone && !is_expired(e.expiry, *now);
                let found = loop {
                    let e = if reverse { c.prev() } else { c.next() };
                    match e {
                        Some(e) if wanted(&e) => break Some(e.key),
                        Some(_) => {}
                        None => break None,
                    }
                };
                *at = c.raw();
                found
            }
            Run::Keys { keys, pos } => {
                if reverse {
                    pos.checked_sub(1).map(|p| {
                        *pos = p;
                        keys.get(p).expect("within the run")
                    })
                } else {
                    keys.get(*pos).inspect(|_| *pos += 1)
                }
            }
        };
        match key {
            Some(k) => {
                out.clear();
                out.extend_from_slice(k);
                true
            }
            None => false,
        }
    }
}

/// The runs of every file the handle has now: the sealed files' hints (each mapped once
/// and kept in its `FileEntry` for later scans), and for the other files their keys, read
/// from their records (an active file's kept in its entry too, and only its new records read
/// by later scans). Each run holds what it reads (a mapping, or a copy): it stays readable
/// when compaction or the writer deletes its file.
pub(super) fn list_runs(shared: &Engine) -> Result<Vec<Run>> {
    let now = shared.now();
    let listed = list_files(shared);
    let mut runs = Vec::with_capacity(listed.len() + 1);
    for f in listed {
        let end = match f.kind {
            Listed::Active(end) => end,
            Listed::Sealed(sorted) => match mapped_hint(shared, &f.file, sorted)? {
                Some(hint) => {
                    runs.push(Run::Hint {
                        hint,
                        at: (0, 0),
                        now,
                    });
                    continue;
                }
                None => f.file.len()?,
            },
        };
        for keys in key_runs(shared, &f.file, f.keys_read, end, now)? {
            runs.push(Run::Keys { keys, pos: 0 });
        }
    }
    Ok(runs)
}

/// The keys of `file` up to `end`, as one or two sorted runs: what an earlier scan read
/// (`read`), and the records since, merged into it once they are many (and the merged run
/// recorded for the next scan).
fn key_runs(
    shared: &Engine,
    file: &Arc<DataFile>,
    read: Option<Arc<KeyRun>>,
    end: u64,
    now: u64,
) -> Result<Vec<Arc<KeyRun>>> {
    let Some(read) = read else {
        let keys = Arc::new(KeyRun::read(file, FILE_HEADER_LEN as u64, end, now)?);
        keep_keys_read(shared, file, &keys, true);
        return Ok(vec![keys]);
    };
    if read.end() >= end {
        return Ok(vec![read]);
    }
    let since = KeyRun::read(file, read.end(), end, now)?;
    // Merging costs a copy of the run: worth it once the new keys are an eighth of it, so a
    // scan reads each record a bounded number of times.
    if since.len() * 8 < read.len() {
        return Ok(vec![read, Arc::new(since)]);
    }
    let merged = Arc::new(read.merged(&since));
    keep_keys_read(shared, file, &merged, false);
    Ok(vec![merged])
}

/// Records `keys` as what scans have read of `file`, when it reads further than what its
/// entry has; `first`: only for an active file (a sealed file's keys are kept only while
/// they were kept for it as an active file, until its hint is written).
fn keep_keys_read(shared: &Engine, file: &Arc<DataFile>, keys: &Arc<KeyRun>, first: bool) {
    let mut files = lock(&shared.files);
    let Some(e) = files.by_id.get_mut(&file.id()) else {
        return;
    };
    if !Arc::ptr_eq(&e.file, file) || (first && !e.active) {
        return;
    }
    if e.keys_read.as_ref().is_none_or(|k| k.end() < keys.end()) {
        e.keys_read = Some(keys.clone());
    }
}

struct ListedFile {
    file: Arc<DataFile>,
    kind: Listed,
    keys_read: Option<Arc<KeyRun>>,
}

enum Listed {
    /// Still appended to: its records end here.
    Active(u64),
    Sealed(SortedRun),
}

/// The handle's files, with where an active file's records end: for the writer, the end of
/// what it has appended (read after the listing: the writer's lock is never taken under the
/// file set's); for a read-only handle, how far its last refresh read.
fn list_files(shared: &Engine) -> Vec<ListedFile> {
    let mut listed: Vec<ListedFile> = lock(&shared.files)
        .by_id
        .values()
        .map(|e| ListedFile {
            file: e.file.clone(),
            kind: if e.active {
                Listed::Active(e.scanned_to)
            } else {
                Listed::Sealed(e.sorted_run.clone())
            },
            keys_read: e.keys_read.clone(),
        })
        .collect();
    if let Some(writer) = &shared.writer {
        let writing = lock(writer).active.as_ref().map(|a| (a.file.id(), a.end));
        for f in &mut listed {
            if let Listed::Active(end) = &mut f.kind {
                *end = match writing {
                    Some((id, written)) if id == f.file.id() => written,
                    // Sealed since the listing: every record is whole.
                    _ => f.file.len().unwrap_or(*end),
                };
            }
        }
    }
    listed
}

/// The mapped sorted hint of sealed file `file`, mapping it (and recording the mapping in
/// its entry) the first time; `None` when it has none a scan can use.
fn mapped_hint(
    shared: &Engine,
    file: &Arc<DataFile>,
    sorted: SortedRun,
) -> Result<Option<Arc<MappedHint>>> {
    let checked_before = match sorted {
        SortedRun::Mapped(hint) => return Ok(Some(hint)),
        SortedRun::Checked => true,
        SortedRun::Unknown => false,
    };
    let data_len = file.len()?;
    let Some(hint) = MappedHint::open(shared.vfs(), &shared.dir, file, data_len, checked_before)
    else {
        return Ok(None);
    };
    let hint = Arc::new(hint);
    // Only a mapping is kept: a copy (past the mapping budget) would hold the hint in memory
    // for as long as the handle has the file; it goes with the scan instead.
    if hint.is_mapped() {
        if let Some(e) = lock(&shared.files).by_id.get_mut(&file.id()) {
            if Arc::ptr_eq(&e.file, file) {
                e.sorted_run = SortedRun::Mapped(hint.clone());
            }
        }
    }
    Ok(Some(hint))
}
