//! Ordered scans: what a scan covers (`options`), the sorted runs it reads (`runs`: each
//! sealed file's sorted hint in place, and the keys of the other files in memory),
//! and their k-way merge (`merge`), each key checked against the key directory when the
//! iterator reaches it. A scan costs time in proportion to the keys it visits and memory in
//! proportion to the runs, not to the store.

mod merge;
mod options;
mod runs;

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::sync::Arc;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::keydir::Hash;
use merge::Merge;
pub use options::ScanOptions;

/// Iterator over `(key, value)` pairs in key byte order (or its reverse), from
/// [`crate::Bitask::iter`] or [`crate::Bitask::range`]. Keys are those present when the
/// iterator was made; a key removed since is skipped, and a key overwritten since yields its
/// newest value. A key written since it was made may or may not be visited.
pub struct Iter {
    shared: Arc<Engine>,
    scan: ScanOptions,
    merge: Merge,
    /// The key last taken from the merge: each key is visited once, and only in order.
    last: Option<Vec<u8>>,
    /// A buffer the merge writes its next key into.
    next: Vec<u8>,
    /// The next keys to visit, taken from the merge ahead of time so that their key
    /// directory slots and records load together (`AHEAD`), each with its hash.
    ahead: VecDeque<(Vec<u8>, Hash)>,
    /// Buffers of keys visited, for `ahead` to reuse.
    spare: Vec<Vec<u8>>,
    /// How many keys the next `look_ahead` takes: 1 after a positioning, doubling up to
    /// `AHEAD`, so a scan that reads one key (a seek) looks up one key.
    take: usize,
    /// A failure listing the runs, reported by the first `next`.
    failed: Option<Error>,
}

impl Iter {
    pub(crate) fn new(shared: Arc<Engine>, scan: &ScanOptions) -> Result<Iter> {
        let runs = runs::list_runs(&shared)?;
        let mut it = Iter {
            merge: Merge::new(runs, scan.reverse),
            shared,
            scan: scan.clone(),
            last: None,
            next: Vec::new(),
            ahead: VecDeque::new(),
            spare: Vec::new(),
            take: 1,
            failed: None,
        };
        it.position(None);
        Ok(it)
    }

    pub(crate) fn failed(shared: Arc<Engine>, error: Error) -> Iter {
        Iter {
            shared,
            scan: ScanOptions::default(),
            merge: Merge::new(Vec::new(), false),
            last: None,
            next: Vec::new(),
            ahead: VecDeque::new(),
            spare: Vec::new(),
            take: 1,
            failed: Some(error),
        }
    }

    /// Moves the iterator so that the next item is the first key `>= key` in a forward scan,
    /// or the last key `<= key` in a reverse one, within the scan's bounds. It may move
    /// backwards as well as forwards, and keys already visited are visited again.
    pub fn seek(&mut self, key: impl AsRef<[u8]>) {
        self.position(Some(key.as_ref()));
    }

    /// Starts the merge at `key` (see `seek`), or at the scan's own start.
    fn position(&mut self, key: Option<&[u8]>) {
        self.last = None;
        while let Some((k, _)) = self.ahead.pop_front() {
            self.spare.push(k);
        }
        self.take = 1;
        if self.scan.reverse {
            let bound = self.scan.reverse_start();
            let start = match (key, bound) {
                (Some(k), Some((b, after))) if b.as_slice() < k => Some((b, after)),
                (Some(k), _) => Some((k.to_vec(), true)),
                (None, bound) => bound,
            };
            match start {
                Some((k, after)) => self.merge.position(Some(&k), after),
                None => self.merge.position(None, false),
            }
        } else {
            let from = key.map_or(self.scan.start(), |k| k.max(self.scan.start()));
            let from = from.to_vec();
            self.merge.position(Some(&from), false);
        }
    }

    /// The merge's next key in the scan's order, each once; `None` at the end of the scan.
    fn next_candidate(&mut self) -> Option<&[u8]> {
        let want = if self.scan.reverse {
            Ordering::Less
        } else {
            Ordering::Greater
        };
        loop {
            if !self.merge.next_key(&mut self.next) {
                return None;
            }
            // The same key from several runs, or a run out of order (a hint changed under
            // its mapping), is passed over.
            if self
                .last
                .as_ref()
                .is_some_and(|l| self.merge.compare(&self.next, l) != want)
            {
                continue;
            }
            let last = self.last.get_or_insert_with(Vec::new);
            std::mem::swap(last, &mut self.next);
            let past = if self.scan.reverse {
                last.as_slice() < self.scan.start()
            } else {
                self.scan.past_end(last)
            };
            if past {
                self.merge.finish();
                return None;
            }
            if self.scan.covers(last) {
                return self.last.as_deref();
            }
        }
    }

    /// The next live key and its value (empty in a keys-only scan), written into the
    /// caller's buffers (reused across calls, so iteration allocates nothing per key).
    /// `Ok(false)` at the end.
    pub fn next_into(&mut self, key: &mut Vec<u8>, value: &mut Vec<u8>) -> Result<bool> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let keys_only = self.scan.keys_only;
        loop {
            if self.ahead.is_empty() {
                self.look_ahead();
            }
            let Some((k, h)) = self.ahead.pop_front() else {
                return Ok(false);
            };
            let found = if keys_only {
                value.clear();
                self.shared
                    .with_live_entry_hashed(h, &k, |_, _| Ok(()))?
                    .is_some()
            } else {
                self.shared.read_live_into(h, &k, value)?
            };
            if found {
                key.clear();
                key.extend_from_slice(&k);
            }
            self.spare.push(k);
            if found {
                return Ok(true);
            }
        }
    }

    /// Takes the next keys from the merge (`take` of them), starting to load the key
    /// directory slot of each, then its record: their cache misses overlap, as a multi-get's
    /// do, instead of costing one after the other. The scan's range bounds what is taken, so
    /// a short scan (a seek, a prefix) looks no further than its end.
    fn look_ahead(&mut self) {
        while self.ahead.len() < self.take {
            let mut buf = self.spare.pop().unwrap_or_default();
            let Some(k) = self.next_candidate() else {
                self.spare.push(buf);
                break;
            };
            buf.clear();
            buf.extend_from_slice(k);
            let h = self.shared.keydir.prefetch(&buf);
            self.ahead.push_back((buf, h));
        }
        for (_, h) in &self.ahead {
            self.shared.keydir.prefetch_record(*h);
        }
        self.take = (self.take * 2).min(AHEAD);
    }
}

/// Keys a scan takes from the merge ahead of the one it visits (see `Iter::look_ahead`).
const AHEAD: usize = 16;

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
