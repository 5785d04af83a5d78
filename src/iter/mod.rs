//! Ordered scans: the keys a scan covers (`options`), taken as a sorted snapshot when the
//! iterator is made (`snapshot`), values read as the iterator reaches them.

mod hinted;
mod options;
mod snapshot;

use std::sync::Arc;

use crate::engine::Engine;
use crate::error::{Error, Result};
pub use options::ScanOptions;
use snapshot::{snapshot, KeySnapshot};

/// Iterator over `(key, value)` pairs in key byte order (or its reverse), from
/// [`crate::Bitask::iter`] or [`crate::Bitask::range`]. Keys are those present when the
/// iterator was made; a key removed since is skipped, and a key overwritten since yields its
/// newest value.
pub struct Iter {
    shared: Arc<Engine>,
    keys: KeySnapshot,
    /// Forward: the index of the next key. Reverse: one past it (0 is the end).
    pos: usize,
    reverse: bool,
    keys_only: bool,
    /// A failure taking the snapshot, reported by the first `next`.
    failed: Option<Error>,
}

impl Iter {
    pub(crate) fn new(shared: Arc<Engine>, scan: &ScanOptions) -> Result<Iter> {
        let keys = snapshot(&shared, scan)?;
        let pos = if scan.reverse { keys.len() } else { 0 };
        Ok(Iter {
            shared,
            keys,
            pos,
            reverse: scan.reverse,
            keys_only: scan.keys_only,
            failed: None,
        })
    }

    pub(crate) fn failed(shared: Arc<Engine>, error: Error) -> Iter {
        Iter {
            shared,
            keys: KeySnapshot::default(),
            pos: 0,
            reverse: false,
            keys_only: false,
            failed: Some(error),
        }
    }

    /// Number of keys in the snapshot not yet visited.
    pub fn remaining(&self) -> usize {
        if self.reverse {
            self.pos
        } else {
            self.keys.len() - self.pos
        }
    }

    /// Moves the iterator so that the next item is the first key `>= key` in a forward scan,
    /// or the last key `<= key` in a reverse one, within the scan's bounds. It may move
    /// backwards as well as forwards, and keys already visited are visited again.
    pub fn seek(&mut self, key: impl AsRef<[u8]>) {
        let key = key.as_ref();
        self.pos = self.keys.rank(key, self.reverse);
    }

    /// The index of the next key in the snapshot, moving past it; `None` at the end.
    fn advance(&mut self) -> Option<usize> {
        if self.reverse {
            self.pos = self.pos.checked_sub(1)?;
            Some(self.pos)
        } else if self.pos < self.keys.len() {
            self.pos += 1;
            Some(self.pos - 1)
        } else {
            None
        }
    }

    /// The next live key and its value (empty in a keys-only scan), written into the
    /// caller's buffers (reused across calls, so iteration allocates nothing per key).
    /// `Ok(false)` at the end.
    pub fn next_into(&mut self, key: &mut Vec<u8>, value: &mut Vec<u8>) -> Result<bool> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        while let Some(i) = self.advance() {
            let k = self.keys.get(i).expect("advance stays within the snapshot");
            let keys_only = self.keys_only;
            let found = self.shared.with_live_entry(k, |loc, file| {
                if keys_only {
                    value.clear();
                    return Ok(());
                }
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
