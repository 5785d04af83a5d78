//! Ordered iteration: a sorted snapshot of the keys, values read as the iterator reaches them.

use std::sync::Arc;

use crate::db::Shared;
use crate::error::Result;
use crate::keydir::KeySnapshot;

/// Iterator over `(key, value)` pairs in key byte order, from [`crate::Bitask::iter`]. Keys
/// are those present when the iterator was made; a key removed since is skipped, and a key
/// overwritten since yields its newest value.
pub struct Iter {
    shared: Arc<Shared>,
    keys: KeySnapshot,
    pos: usize,
}

impl Iter {
    pub(crate) fn new(shared: Arc<Shared>, prefix: &[u8]) -> Iter {
        let keys = shared.keydir.keys_with_prefix(prefix);
        Iter {
            shared,
            keys,
            pos: 0,
        }
    }

    /// Number of keys in the snapshot not yet visited.
    pub fn remaining(&self) -> usize {
        self.keys.len() - self.pos
    }

    /// The next live key and its value, written into the caller's buffers (reused across
    /// calls, so iteration allocates nothing per key). `Ok(false)` at the end.
    pub fn next_into(&mut self, key: &mut Vec<u8>, value: &mut Vec<u8>) -> Result<bool> {
        while let Some(k) = self.keys.get(self.pos) {
            self.pos += 1;
            let found = self.shared.keydir.with_entry(k, |entry| {
                let Some((loc, shard)) = entry else {
                    return Ok(false);
                };
                let file = shard
                    .file(loc.file)
                    .expect("the key directory's files are open");
                value.resize(loc.value_len as usize, 0);
                file.read_value(loc.offset as u64, k, value)?;
                Ok::<bool, crate::Error>(true)
            })?;
            if found {
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
