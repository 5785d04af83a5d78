//! Ordered iteration: a sorted snapshot of the live keys, values read as the iterator reaches
//! them. The key directory keeps no keys, so the snapshot reads them back from the data files
//! (one sequential pass), keeping each record the directory still points at.

use std::sync::Arc;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::keydir::Records;

/// Iterator over `(key, value)` pairs in key byte order, from [`crate::Bitask::iter`]. Keys
/// are those present when the iterator was made; a key removed since is skipped, and a key
/// overwritten since yields its newest value.
pub struct Iter {
    shared: Arc<Engine>,
    keys: KeySnapshot,
    pos: usize,
    /// A failure taking the snapshot, reported by the first `next`.
    failed: Option<Error>,
}

impl Iter {
    pub(crate) fn new(shared: Arc<Engine>, prefix: &[u8]) -> Result<Iter> {
        let keys = snapshot(&shared, prefix)?;
        Ok(Iter {
            shared,
            keys,
            pos: 0,
            failed: None,
        })
    }

    pub(crate) fn failed(shared: Arc<Engine>, error: Error) -> Iter {
        Iter {
            shared,
            keys: KeySnapshot::default(),
            pos: 0,
            failed: Some(error),
        }
    }

    /// Number of keys in the snapshot not yet visited.
    pub fn remaining(&self) -> usize {
        self.keys.len() - self.pos
    }

    /// The next live key and its value, written into the caller's buffers (reused across
    /// calls, so iteration allocates nothing per key). `Ok(false)` at the end.
    pub fn next_into(&mut self, key: &mut Vec<u8>, value: &mut Vec<u8>) -> Result<bool> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        while let Some(k) = self.keys.get(self.pos) {
            self.pos += 1;
            let found = self.shared.keydir.with_entry(k, |loc, file| {
                crate::datafile::resize_zeroed(value, loc.value_len(k.len()))
                    .map_err(|e| Error::io("read", file.path(), e))?;
                file.read_value(loc.offset as u64, k, value)
            })?;
            if found.is_some() {
                key.clear();
                key.extend_from_slice(k);
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl Iterator for Iter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let (mut k, mut v) = (Vec::new(), Vec::new());
        match self.next_into(&mut k, &mut v) {
            Ok(true) => Some(Ok((k, v))),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// Sorted keys, stored back to back.
#[derive(Default, Debug)]
struct KeySnapshot {
    bytes: Vec<u8>,
    spans: Vec<(usize, u32)>,
}

impl KeySnapshot {
    fn len(&self) -> usize {
        self.spans.len()
    }

    fn get(&self, i: usize) -> Option<&[u8]> {
        self.spans
            .get(i)
            .map(|&(s, l)| &self.bytes[s..s + l as usize])
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

/// The live keys starting with `prefix`, sorted. The key directory gives the live records in
/// one pass, each with the file it is in; their keys are read back in file order. The
/// directory hands out the files themselves, not their numbers: a number can mean another
/// file by the time it is looked up (a refresh renumbers, a compaction frees numbers), while
/// a file held open stays readable even once compaction has deleted it. So neither refresh
/// nor compaction has to wait for a snapshot; a key written meanwhile may or may not be
/// included.
fn snapshot(shared: &Engine, prefix: &[u8]) -> Result<KeySnapshot> {
    let Records { files, mut records } = shared.keydir.records();
    records.sort_unstable();
    let mut snap = KeySnapshot::default();
    let mut key = Vec::new();
    for (file, offset) in records {
        files[file as usize].read_key(offset as u64, &mut key)?;
        if key.starts_with(prefix) {
            snap.push(&key);
        }
    }
    snap.sort_dedup();
    Ok(snap)
}
