//! The set of data files a handle has open, and the small numbers the key directory uses to
//! name them (a file's id is a 64-bit timestamp; its number is a dense 32-bit slot).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::datafile::DataFile;
use crate::error::{Error, Result};
use crate::keydir::MAX_FILES;

/// One open data file.
pub struct FileEntry {
    pub no: u32,
    pub file: Arc<DataFile>,
    /// Still being appended to (by this handle or, for a read-only handle, by the writer).
    pub active: bool,
    /// Size of its hint file, 0 when it has none.
    pub hint_len: u64,
    /// For read-only handles: how far the file has been scanned.
    pub scanned_to: u64,
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

impl FileSet {
    /// A number for the new file at `path`; an error when the key directory cannot number
    /// another file (`keydir::MAX_FILES` are open).
    pub fn alloc_no(&mut self, path: &Path) -> Result<u32> {
        if let Some(no) = self.free.pop() {
            return Ok(no);
        }
        if self.next_no >= MAX_FILES {
            let msg = format!(
                "{MAX_FILES} data files are open, the most a store can have; \
                 compact it, or use a larger max_file_size"
            );
            return Err(Error::io("open", path, std::io::Error::other(msg)));
        }
        self.next_no += 1;
        Ok(self.next_no - 1)
    }

    pub fn insert(&mut self, entry: FileEntry) {
        self.by_id.insert(entry.file.id(), entry);
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
        set.free.push(7);
        assert_eq!(set.alloc_no(path).unwrap(), 7);
    }
}
