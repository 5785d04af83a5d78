//! The keys a scan covers, taken once when the iterator is made: the key directory keeps no
//! keys, so they are read back from the data files (one sequential pass over the records the
//! directory points at) and sorted.

use super::options::ScanOptions;
use crate::engine::Engine;
use crate::error::Result;
use crate::keydir::Records;

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

    fn push(&mut self, key: &[u8]) {
        self.spans.push((self.bytes.len(), key.len() as u32));
        self.bytes.extend_from_slice(key);
    }

    fn sort_dedup(&mut self) {
        let bytes = &self.bytes;
        let key = |&(s, l): &(usize, u32)| &bytes[s..s + l as usize];
        self.spans.sort_unstable_by(|a, b| key(a).cmp(key(b)));
        self.spans.dedup_by(|a, b| key(a) == key(b));
    }
}

/// The live keys the scan covers, sorted. The key directory gives the live records in one
/// pass, each with the file it is in; their keys are read back in file order. The directory
/// hands out the files themselves, not their numbers: a number can mean another file by the
/// time it is looked up (a refresh renumbers, a compaction frees numbers), while a file held
/// open stays readable even once compaction has deleted it. So neither refresh nor
/// compaction has to wait for a snapshot; a key written meanwhile may or may not be included.
pub(super) fn snapshot(shared: &Engine, scan: &ScanOptions) -> Result<KeySnapshot> {
    let Records { files, mut records } = shared.keydir.records();
    records.sort_unstable();
    let mut snap = KeySnapshot::default();
    let mut key = Vec::new();
    for (file, offset) in records {
        files[file as usize].read_key(offset as u64, &mut key)?;
        if scan.covers(&key) {
            snap.push(&key);
        }
    }
    snap.sort_dedup();
    Ok(snap)
}
