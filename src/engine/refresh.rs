//! `refresh` for read-only handles: catch up with a writer in another process.
//!
//! When the writer only appended (to its active file, or to new files after rotating), the
//! new records are scanned and applied in sequence order. When files vanished or merge
//! outputs appeared (the writer compacted), the handle reloads the directory into a fresh key
//! directory and swaps it in shard by shard; reads in flight keep the old files open.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::open::load_retrying;
use super::state::Engine;
use crate::datafile::DataFile;
use crate::error::Result;
use crate::filename::{self, FileKind};
use crate::fileset::{FileEntry, SortedRun};
use crate::recovery;
use crate::util::sync::lock;
use crate::vfs::OpenMode;

impl Engine {
    /// Loads what the writer wrote since the open or the last refresh (`Bitask::refresh`).
    pub(crate) fn refresh(&self) -> Result<()> {
        refresh(self)
    }
}

fn refresh(engine: &Engine) -> Result<()> {
    let _one_at_a_time = lock(&engine.refreshing);
    if !try_incremental(engine)? {
        reload(engine)?;
    }
    Ok(())
}

/// The data files now in the directory: (id, is active).
fn listing(engine: &Engine) -> Result<Vec<(u64, bool)>> {
    let names = engine
        .opts
        .vfs
        .list_dir(&engine.dir)
        .map_err(|e| crate::Error::io("list", &engine.dir, e))?;
    let mut v: Vec<(u64, bool)> = names
        .iter()
        .filter_map(|n| filename::parse(n))
        .filter(|(_, k)| matches!(k, FileKind::Active | FileKind::Sealed))
        .map(|(id, k)| (id, k == FileKind::Active))
        .collect();
    v.sort_unstable();
    v.dedup_by_key(|(id, _)| *id);
    Ok(v)
}

/// A file an incremental refresh reads on from where the last look stopped.
struct Pending {
    no: u32,
    file: Arc<DataFile>,
    /// Where to start reading.
    from: u64,
    /// The writer is still appending to it.
    active: bool,
    /// New since the last look, and sealed: read whole, to its seal.
    sealed: bool,
}

/// Applies appends only; returns false when the directory changed in a way that needs a reload.
fn try_incremental(engine: &Engine) -> Result<bool> {
    let now = listing(engine)?;
    let Some(fresh) = open_new_files(engine, &now)? else {
        return Ok(false);
    };
    let mut todo = still_active(engine, &now);
    for (f, active) in fresh {
        let file = Arc::new(f);
        let no = lock(&engine.files).stage(&engine.keydir, &file)?;
        todo.push(Pending {
            no,
            file,
            from: crate::datafile::FILE_HEADER_LEN as u64,
            active,
            sealed: !active,
        });
    }
    let ends = written_ends(&todo)?;
    let loaded = engine.loaded_seq.load(Ordering::Acquire);
    let mut load = recovery::Loader::new(&engine.keydir, loaded);
    for (p, end) in todo.into_iter().zip(ends) {
        let scanned_to = if p.sealed {
            load.sealed(&p.file, p.no)?;
            end
        } else {
            load.scan_active(&p.file, p.no, p.from, end, false)?.end
        };
        record_progress(engine, p, scanned_to);
    }
    engine.loaded_seq.store(load.last_seq, Ordering::Release);
    engine
        .live_bytes
        .store(engine.keydir.live_bytes(), Ordering::Relaxed);
    Ok(true)
}

/// The files that appeared since the last look, opened, oldest first; `None` when the
/// directory changed in a way only a reload follows (a known file vanished, a merge output
/// appeared, a new file vanished before it was opened).
fn open_new_files(engine: &Engine, now: &[(u64, bool)]) -> Result<Option<Vec<(DataFile, bool)>>> {
    let (known_max, vanished) = {
        let files = lock(&engine.files);
        let known_max = files.by_id.keys().next_back().copied().unwrap_or(0);
        let vanished = files
            .by_id
            .keys()
            .any(|id| !now.iter().any(|(n, _)| n == id));
        (known_max, vanished)
    };
    if vanished {
        return Ok(None);
    }
    // Opened before anything is read, so a merge output among them sends us to a reload.
    let mut fresh = Vec::new();
    for &(id, active) in now.iter().filter(|(id, _)| *id > known_max) {
        let (kind, mode) = if active {
            (FileKind::Active, OpenMode::ReadShared)
        } else {
            (FileKind::Sealed, OpenMode::ReadSealed)
        };
        let path = filename::path(&engine.dir, id, kind);
        match DataFile::open(&*engine.opts.vfs, &path, mode, id) {
            Ok(f) if f.header.is_merge_output() => return Ok(None),
            Ok(f) => fresh.push((f, active)),
            Err(e) if recovery::is_vanished(&e) => return Ok(None),
            // A file the writer is creating this instant, its header not written yet: it is
            // picked up by the next refresh.
            Err(crate::Error::Corruption { offset: 0, .. }) if active => break,
            Err(e) => return Err(e),
        }
    }
    Ok(Some(fresh))
}

/// The files still being written at the last look, to read on from where it stopped.
fn still_active(engine: &Engine, now: &[(u64, bool)]) -> Vec<Pending> {
    lock(&engine.files)
        .by_id
        .values()
        .filter(|e| e.active)
        .map(|e| Pending {
            no: e.no,
            file: e.file.clone(),
            from: e.scanned_to,
            active: now.iter().any(|&(id, a)| id == e.file.id() && a),
            sealed: false,
        })
        .collect()
}

/// How far each file is written, measured newest first: the writer fills a file before it
/// writes into a newer one, so whatever the newest files show, the older ones, read
/// afterwards, show everything written before it. Reading oldest first instead could see an
/// old file's end before the writer moved on and a newer file's records after.
fn written_ends(todo: &[Pending]) -> Result<Vec<u64>> {
    let mut ends = vec![0u64; todo.len()];
    for (i, p) in todo.iter().enumerate().rev() {
        let len = p.file.len()?;
        ends[i] = if p.sealed {
            len
        } else {
            recovery::valid_end(&p.file, p.from, len)?
        };
    }
    Ok(ends)
}

/// Records in the file set how far a file was read, adding it when it is new.
fn record_progress(engine: &Engine, p: Pending, scanned_to: u64) {
    let mut files = lock(&engine.files);
    match files.by_id.get_mut(&p.file.id()) {
        Some(e) => {
            e.scanned_to = scanned_to;
            e.active = p.active;
        }
        None => files.insert(FileEntry {
            no: p.no,
            file: p.file,
            active: p.active,
            hint_len: 0,
            sorted_run: SortedRun::Unknown,
            keys_read: None,
            scanned_to,
            kept_bytes: None,
        }),
    }
}

/// Reloads the whole directory and swaps it in.
fn reload(engine: &Engine) -> Result<()> {
    let (keydir, rec) = load_retrying(&*engine.opts.vfs, &engine.dir, true, || {
        engine.keydir.new_like()
    })?;
    let live = keydir.live_bytes();
    let mut files = lock(&engine.files);
    engine.keydir.replace_with(keydir);
    *files = rec.files;
    engine.live_bytes.store(live, Ordering::Relaxed);
    engine.loaded_seq.store(rec.next_seq - 1, Ordering::Release);
    Ok(())
}
