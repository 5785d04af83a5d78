//! The keys a scan covers, taken once when the iterator is made and sorted: from the sealed
//! files' sorted hints where they have one (`hinted`), else read back from the records the
//! key directory points at (the key directory keeps no keys).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::Arc;

use super::hinted::keys_from_hint;
use super::options::ScanOptions;
use crate::datafile::DataFile;
use crate::engine::Engine;
use crate::error::Result;
use crate::keydir::Records;
use crate::util::sync::lock;

/// Sorted keys, stored back to back.
#[derive(Default, Debug)]
pub(super) struct KeySnapshot {
    bytes: Vec<u8>,
    spans: Vec<(usize, u32)>,
}

impl KeySnapshot {
    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    pub(super) fn get(&self, i: usize) -> Option<&[u8]> {
        self.spans
            .get(i)
            .map(|&(s, l)| &self.bytes[s..s + l as usize])
    }

    /// The number of keys `< key` (`inclusive`: `<= key`), which is where a forward scan
    /// seeking `key` resumes, and one past where a reverse scan does.
    pub(super) fn rank(&self, key: &[u8], inclusive: bool) -> usize {
        let bytes = &self.bytes;
        self.spans.partition_point(|&(s, l)| {
            let k = &bytes[s..s + l as usize];
            if inclusive {
                k <= key
            } else {
                k < key
            }
        })
    }

    pub(super) fn push(&mut self, key: &[u8]) {
        self.spans.push((self.bytes.len(), key.len() as u32));
        self.bytes.extend_from_slice(key);
    }

    /// The keys of sorted runs, merged into one sorted run, each key once: a heap of one
    /// cursor per run, so the cost is the keys times the logarithm of the runs (a few dozen
    /// per GiB of data files), reading each run front to back.
    fn merge(runs: &[KeySnapshot]) -> KeySnapshot {
        let mut out = KeySnapshot {
            bytes: Vec::with_capacity(runs.iter().map(|r| r.bytes.len()).sum()),
            spans: Vec::with_capacity(runs.iter().map(|r| r.len()).sum()),
        };
        let mut heads: BinaryHeap<Reverse<(&[u8], usize, usize)>> = runs
            .iter()
            .enumerate()
            .filter_map(|(r, run)| Some(Reverse((run.get(0)?, r, 0))))
            .collect();
        while let Some(Reverse((key, r, i))) = heads.pop() {
            if out.last() != Some(key) {
                out.push(key);
            }
            if let Some(next) = runs[r].get(i + 1) {
                heads.push(Reverse((next, r, i + 1)));
            }
        }
        out
    }

    fn last(&self) -> Option<&[u8]> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    fn sort_dedup(&mut self) {
        let bytes = &self.bytes;
        let key = |&(s, l): &(usize, u32)| &bytes[s..s + l as usize];
        self.spans.sort_unstable_by(|a, b| key(a).cmp(key(b)));
        self.spans.dedup_by(|a, b| key(a) == key(b));
    }
}

/// The files a scan listed, by address: the key directory hands out `&DataFile`s.
type Listed = HashSet<*const DataFile>;

/// The keys the scan covers, sorted. The files are listed once (each held by its `Arc`,
/// so it stays readable even once compaction or the writer deletes it); each sealed file with
/// a sorted hint gives its keys in the scan's range by a search in that hint
/// (`hinted::keys_from_hint`). The keys of the other files (the active one, sealed files
/// whose hint is missing or of version 1) are read back from their records: the key directory
/// gives every live record in one pass, each with its file, and the records of those files,
/// and of files made since the listing, are read in file order. A key from a hint may have
/// been removed since its record was written: the iterator skips it when it finds it absent.
/// Neither refresh nor compaction waits for a snapshot; a key written meanwhile may or may
/// not be included.
pub(super) fn snapshot(shared: &Engine, scan: &ScanOptions) -> Result<KeySnapshot> {
    let files = listed_files(shared);
    let listed: Listed = files.iter().map(|(f, _)| Arc::as_ptr(f)).collect();
    // One sorted run per hinted file, and one for the keys read back (sorted here).
    let mut runs = Vec::new();
    let mut unhinted: Listed = Listed::new();
    for (file, active) in &files {
        let mut run = KeySnapshot::default();
        if !active && keys_from_hint(shared, file, scan, &mut |k| run.push(k))? {
            runs.push(run);
        } else {
            unhinted.insert(Arc::as_ptr(file));
        }
    }
    if !unhinted.is_empty() {
        let read_back = |f: *const DataFile| unhinted.contains(&f) || !listed.contains(&f);
        let mut run = KeySnapshot::default();
        keys_from_records(shared, scan, read_back, &mut run)?;
        run.sort_dedup();
        runs.push(run);
    }
    Ok(KeySnapshot::merge(&runs))
}

/// The handle's data files, each with whether it is still being appended to.
fn listed_files(shared: &Engine) -> Vec<(Arc<DataFile>, bool)> {
    let files = lock(&shared.files);
    files
        .by_id
        .values()
        .map(|e| (e.file.clone(), e.active))
        .collect()
}

/// Pushes the keys `scan` covers of the live records in the files `read_back` picks.
fn keys_from_records(
    shared: &Engine,
    scan: &ScanOptions,
    read_back: impl Fn(*const DataFile) -> bool,
    snap: &mut KeySnapshot,
) -> Result<()> {
    let Records { files, mut records } = shared.keydir.records();
    let picked: Vec<bool> = files.iter().map(|f| read_back(Arc::as_ptr(f))).collect();
    records.retain(|&(file, _)| picked[file as usize]);
    records.sort_unstable();
    let mut key = Vec::new();
    for (file, offset) in records {
        files[file as usize].read_key(offset as u64, &mut key)?;
        if scan.covers(&key) {
            snap.push(&key);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::KeySnapshot;

    fn run(keys: &[&str]) -> KeySnapshot {
        let mut r = KeySnapshot::default();
        keys.iter().for_each(|k| r.push(k.as_bytes()));
        r
    }

    #[test]
    fn merging_runs_sorts_and_keeps_each_key_once() {
        let runs = [
            run(&["a", "c", "e"]),
            run(&[]),
            run(&["b", "c", "f"]),
            run(&["a", "d"]),
        ];
        let merged = KeySnapshot::merge(&runs);
        let keys: Vec<&[u8]> = (0..merged.len()).map(|i| merged.get(i).unwrap()).collect();
        let want: Vec<&[u8]> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|k| k.as_bytes())
            .collect();
        assert_eq!(keys, want);
        assert_eq!(KeySnapshot::merge(&[]).len(), 0);
    }
}
