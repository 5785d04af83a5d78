//! The set of data files a handle has open, and the small numbers the key directory uses to
//! name them (a file's id is a 64-bit timestamp; its number is a dense slot, below
//! `keydir::MAX_FILES`).
//!
//! This is the one place a file becomes known and is forgotten: `stage` (a number, and the
//! key directory's file tables pointing it at the file, before records naming it load),
//! `insert` (the set's entry, once loaded), `admit` (both at once, for a file the writer made),
//! `replace` (the same file opened anew), `forget` (gone from both).
//!
//! The set gives numbers out and takes them back; it is not where a number found in the key
//! directory is looked up. Only each shard's own file table, under the shard's lock, says
//! which file an entry's number means (`KeyDir::with_entry`, `KeyDir::records`): the set and
//! the tables change at different moments (a refresh fills the tables before it records the
//! files here, and swaps a reloaded directory in shard by shard).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::datafile::hint_map::MappedHint;
use crate::datafile::key_run::KeyRun;
use crate::datafile::DataFile;
use crate::error::{Error, Result};
use crate::keydir::{KeyDir, MAX_FILES};

/// One open data file.
pub struct FileEntry {
    pub no: u32,
    pub file: Arc<DataFile>,
    /// Still being appended to (by this handle or, for a read-only handle, by the writer).
    pub active: bool,
    /// Size of its hint file, 0 when it has none.
    pub hint_len: u64,
    /// What ordered scans can use of its sorted hint.
    pub sorted_run: SortedRun,
    /// For a file without a sorted hint a scan can use (the active file; a file sealed since
    /// and not hinted yet): its keys as the last scan read them, which the next extends.
    pub keys_read: Option<Arc<KeyRun>>,
    /// For read-only handles: how far the file has been scanned.
    pub scanned_to: u64,
    /// For an output of a window merge: bytes of the tombstones it holds, which a merge of a
    /// later window copies again (`merge_policy::FileFigures::kept_bytes`); `None` until
    /// counted.
    pub kept_bytes: Option<u64>,
}

/// What an ordered scan can use of a sealed file's sorted hint (`iter::runs`): the hint is
/// checked in full once, then mapped once, and every later scan uses the mapping.
#[derive(Clone, Default)]
pub enum SortedRun {
    /// Not known to be checked: a scan opens the hint, if there is one, and checks every
    /// entry. Failing that, the scan reads the data file's records; the next scan looks
    /// again (the writer may have written the hint meanwhile, and a failed open costs
    /// nothing beside a read of the data file).
    #[default]
    Unknown,
    /// Checked in full already (by the open, or made by this handle from a checked scan of
    /// the data file): a scan maps it and checks its layout only.
    Checked,
    /// Mapped and ready.
    Mapped(Arc<MappedHint>),
}

/// Position of a file in load order: merge outputs sort with the newest file they replaced,
/// so loading in this order meets records in sequence order.
pub fn load_key(file: &DataFile) -> (u64, u64) {
    let h = &file.header;
    if h.is_merge_output() {
        (h.merge_base, h.id)
    } else {
        (h.id, h.id)
    }
}

/// Files by id.
#[derive(Default)]
pub struct FileSet {
    pub by_id: BTreeMap<u64, FileEntry>,
    free: Vec<u32>,
    next_no: u32,
}

/// File numbers a writer leaves unused for compaction outputs: a store whose writer has run
/// out of numbers for new active files can still be compacted (into at most this many files).
pub const KEPT_FOR_COMPACTION: u32 = 4096;

impl FileSet {
    /// A number for the new file at `path`; an error when the key directory cannot number
    /// another file (`keydir::MAX_FILES` are open).
    pub fn alloc_no(&mut self, path: &Path) -> Result<u32> {
        self.alloc_below(MAX_FILES, path)
    }

    /// A number for a new active file at `path`: `alloc_no`, short of the last
    /// `KEPT_FOR_COMPACTION` numbers.
    pub fn alloc_active_no(&mut self, path: &Path) -> Result<u32> {
        self.alloc_below(MAX_FILES - KEPT_FOR_COMPACTION, path)
    }

    fn alloc_below(&mut self, limit: u32, path: &Path) -> Result<u32> {
        if self.in_use() >= limit {
            let msg = format!(
                "{} data files are open, the most this store can number{}; compact it, or \
                 use a larger max_file_size",
                self.in_use(),
                if limit < MAX_FILES {
                    " for new writes"
                } else {
                    ""
                }
            );
            return Err(Error::TooManyFiles {
                path: path.into(),
                reason: msg,
            });
        }
        if let Some(no) = self.free.pop() {
            return Ok(no);
        }
        self.next_no += 1;
        Ok(self.next_no - 1)
    }

    /// Gives back a number `alloc_no` returned whose file was never inserted.
    pub fn release_no(&mut self, no: u32) {
        self.free.push(no);
    }

    /// Numbers a compaction can count on for its outputs: what is free, less what the writer
    /// may still take for active files meanwhile.
    pub fn numbers_for_compaction(&self) -> u32 {
        (MAX_FILES - self.in_use()).min(KEPT_FOR_COMPACTION)
    }

    fn in_use(&self) -> u32 {
        self.next_no - self.free.len() as u32
    }

    pub fn insert(&mut self, entry: FileEntry) {
        self.by_id.insert(entry.file.id(), entry);
    }

    /// Numbers `file` (at `path`) and points the key directory's file tables at it, so the
    /// records that name the number can load; its entry is `insert`ed once they have.
    pub fn stage(&mut self, keydir: &KeyDir, file: &Arc<DataFile>) -> Result<u32> {
        let no = self.alloc_no(&file.path())?;
        keydir.add_file(no, file.clone());
        Ok(no)
    }

    /// Makes a file the writer made known under number `no` (from `alloc_no` or
    /// `alloc_active_no`): to the key directory's file tables and to this set.
    pub fn admit(&mut self, keydir: &KeyDir, entry: FileEntry) {
        keydir.add_file(entry.no, entry.file.clone());
        self.insert(entry);
    }

    /// Puts `file` in place of the open file with its id (the same file, opened anew), in the
    /// key directory's file tables and in this set. Readers holding the old one keep it.
    pub fn replace(&mut self, keydir: &KeyDir, file: Arc<DataFile>) {
        if let Some(e) = self.by_id.get_mut(&file.id()) {
            keydir.add_file(e.no, file.clone());
            e.file = file;
        }
    }

    /// Forgets file `id`: out of the key directory's file tables and this set, its number
    /// free again.
    pub fn forget(&mut self, keydir: &KeyDir, id: u64) {
        if let Some(e) = self.remove(id) {
            keydir.remove_file(e.no);
        }
    }

    /// Forgets a file and frees its number.
    pub fn remove(&mut self, id: u64) -> Option<FileEntry> {
        let e = self.by_id.remove(&id)?;
        self.free.push(e.no);
        Some(e)
    }

    /// The sealed files in load order.
    pub fn sealed_in_load_order(&self) -> Vec<(u64, u32, Arc<DataFile>)> {
        let mut v: Vec<_> = self
            .by_id
            .values()
            .filter(|e| !e.active)
            .map(|e| (e.file.id(), e.no, e.file.clone()))
            .collect();
        v.sort_by_key(|(_, _, f)| load_key(f));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_run_out_at_what_the_key_directory_can_hold_and_are_reused() {
        let mut set = FileSet::default();
        let path = Path::new("/db/1.log");
        for want in 0..MAX_FILES {
            assert_eq!(set.alloc_no(path).unwrap(), want);
        }
        let err = set.alloc_no(path).unwrap_err().to_string();
        assert!(
            err.contains("/db/1.log") && err.contains("data files"),
            "{err}"
        );
        set.release_no(7);
        assert_eq!(set.alloc_no(path).unwrap(), 7);
    }

    #[test]
    fn the_writer_leaves_numbers_for_compaction() {
        let mut set = FileSet::default();
        let path = Path::new("/db/1.active.log");
        let writable = MAX_FILES - KEPT_FOR_COMPACTION;
        for want in 0..writable {
            assert_eq!(set.alloc_active_no(path).unwrap(), want);
        }
        assert_eq!(set.numbers_for_compaction(), KEPT_FOR_COMPACTION);
        assert!(set.alloc_active_no(path).is_err());
        assert_eq!(
            set.alloc_no(path).unwrap(),
            writable,
            "compaction may take them"
        );
        assert_eq!(set.numbers_for_compaction(), KEPT_FOR_COMPACTION - 1);
        set.release_no(3);
        assert!(set.alloc_active_no(path).is_err(), "still as many in use");
        set.release_no(writable);
        assert_eq!(set.alloc_active_no(path).unwrap(), writable);
        assert_eq!(set.numbers_for_compaction(), KEPT_FOR_COMPACTION);
    }
}
