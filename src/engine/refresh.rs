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
use crate::fileset::FileEntry;
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

/// Applies appends only; returns false when the directory changed in a way that needs a reload.
fn try_incremental(engine: &Engine) -> Result<bool> {
    let now = listing(engine)?;
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
        return Ok(false);
    }
    // Open the new files first, so a merge output among them sends us to a reload.
    let mut fresh = Vec::new();
    for &(id, active) in now.iter().filter(|(id, _)| *id > known_max) {
        let kind = if active {
            FileKind::Active
        } else {
            FileKind::Sealed
        };
        let mode = if active {
            OpenMode::ReadShared
        } else {
            OpenMode::ReadSealed
        };
        let path = filename::path(&engine.dir, id, kind);
        match DataFile::open(&*engine.opts.vfs, &path, mode, id) {
            Ok(f) if f.header.is_merge_output() => return Ok(false),
            Ok(f) => fresh.push((f, active)),
            Err(e) if recovery::is_vanished(&e) => return Ok(false),
            // A file the writer is creating this instant, its header not written yet: it is
            // picked up by the next refresh.
            Err(crate::Error::Corruption { offset: 0, .. }) if active => break,
            Err(e) => return Err(e),
        }
    }
    // Files still being written at the last look, then the new ones, oldest first:
    // (number, file, where to start reading, written to by the writer now, sealed and new).
    let mut todo: Vec<(u32, Arc<DataFile>, u64, bool, bool)> = lock(&engine.files)
        .by_id
        .values()
        .filter(|e| e.active)
        .map(|e| {
            let still_active = now.iter().any(|&(id, a)| id == e.file.id() && a);
            (e.no, e.file.clone(), e.scanned_to, still_active, false)
        })
        .collect();
    for (f, active) in fresh {
        let file = Arc::new(f);
        let no = {
            let mut files = lock(&engine.files);
            let no = files.alloc_no(&file.path())?;
            engine.keydir.add_file(no, file.clone());
            no
        };
        todo.push((
            no,
            file,
            crate::datafile::FILE_HEADER_LEN as u64,
            active,
            !active,
        ));
    }
    // How far each file is written, measured newest first: the writer fills a file before it
    // writes into a newer one, so whatever the newest files show, the older ones, read
    // afterwards, show everything written before it. Reading oldest first instead could see
    // an old file's end before the writer moved on and a newer file's records after.
    let mut ends = vec![0u64; todo.len()];
    for (i, (_, file, from, _, sealed)) in todo.iter().enumerate().rev() {
        let len = file
            .file
            .len()
            .map_err(|e| crate::Error::io("stat", file.path(), e))?;
        ends[i] = if *sealed {
            len
        } else {
            recovery::valid_end(file, *from, len)?
        };
    }
    let mut load = recovery::Loader::new(&engine.keydir, engine.loaded_seq.load(Ordering::Acquire));
    for ((no, file, from, active, sealed), end) in todo.into_iter().zip(ends) {
        let scanned_to = if sealed {
            load.sealed(&file, no)?;
            end
        } else {
            load.scan_active(&file, no, from, end, false)?.end
        };
        let mut files = lock(&engine.files);
        match files.by_id.get_mut(&file.id()) {
            Some(e) => {
                e.scanned_to = scanned_to;
                e.active = active;
            }
            None => files.insert(FileEntry {
                no,
                file,
                active,
                hint_len: 0,
                scanned_to,
            }),
        }
    }
    engine.loaded_seq.store(load.last_seq, Ordering::Release);
    engine
        .live_bytes
        .store(engine.keydir.live_bytes(), Ordering::Relaxed);
    Ok(true)
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
