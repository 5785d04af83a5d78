//! The keys of a stretch of a data file's puts, sorted, each once: the sorted run an ordered
//! scan uses for a file without a sorted hint (the active file, a sealed file whose hint is
//! missing or of version 1). The active file's run is kept in its `FileEntry` and extended
//! by later scans with the records appended since, so a scan never reads it all again.

use std::cmp::Ordering;

use super::{DataFile, Found, Scanner};
use crate::error::{Error, Result};
use crate::record::is_expired;

/// Sorted keys, each once, stored back to back; read from a file's records up to `end`.
#[derive(Default, Debug)]
pub struct KeyRun {
    bytes: Vec<u8>,
    spans: Vec<(usize, u32)>,
    end: u64,
}

impl KeyRun {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    // Only for the `testkit` build, where the type is public (and `len` asks for it).
    #[cfg(feature = "testkit")]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Where the records read end: a record boundary, from where the file's later records
    /// can be read.
    pub fn end(&self) -> u64 {
        self.end
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.spans
            .get(i)
            .map(|&(s, l)| &self.bytes[s..s + l as usize])
    }

    /// The number of keys `< key` (`after`: `<= key`): the position before the first key
    /// `>= key` (`> key`).
    pub fn rank(&self, key: &[u8], after: bool) -> usize {
        let bytes = &self.bytes;
        self.spans.partition_point(|&(s, l)| {
            let k = &bytes[s..s + l as usize];
            if after {
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

    /// The keys of the puts of `file` from `from` (a record boundary) to `end`, unexpired at
    /// `now`. A record is only a candidate: the scan asks the key directory for each key it
    /// reaches, so the key of a record no longer live costs a lookup and nothing else. The
    /// read stops at the first record that does not verify (the torn end of an active file,
    /// or damage the key directory knows about anyway) or at the file's end, and the run
    /// ends there.
    pub fn read(file: &DataFile, from: u64, end: u64, now: u64) -> Result<KeyRun> {
        let mut run = KeyRun::default();
        let mut scanner = Scanner::new(&*file.file, from, end);
        run.end = loop {
            match scanner.next_record() {
                Ok(Found::Record(r)) => {
                    let h = &r.header;
                    let put = !h.is_tombstone() && !h.is_seal() && !h.is_commit();
                    if put && !is_expired(h.expiry(), now) {
                        run.push(r.key);
                    }
                }
                Ok(Found::End) => break end,
                Ok(Found::Bad(bad)) => break bad.offset,
                // Cut short since `end` was read (a writer sealing its active file drops the
                // reserved tail): every record is before the cut.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    break scanner.position()
                }
                Err(e) => return Err(Error::io("read", file.path(), e)),
            }
        };
        run.sort_dedup();
        Ok(run)
    }

    /// The keys of both runs, sorted, each once, ending where `later` (read after `self`)
    /// ends.
    pub fn merged(&self, later: &KeyRun) -> KeyRun {
        let mut out = KeyRun {
            bytes: Vec::with_capacity(self.bytes.len() + later.bytes.len()),
            spans: Vec::with_capacity(self.len() + later.len()),
            end: later.end,
        };
        let (mut i, mut j) = (0, 0);
        loop {
            let next = match (self.get(i), later.get(j)) {
                (Some(a), Some(b)) => match a.cmp(b) {
                    Ordering::Less => (a, 1, 0),
                    Ordering::Greater => (b, 0, 1),
                    Ordering::Equal => (a, 1, 1),
                },
                (Some(a), None) => (a, 1, 0),
                (None, Some(b)) => (b, 0, 1),
                (None, None) => break,
            };
            out.push(next.0);
            i += next.1;
            j += next.2;
        }
        out
    }
}
