//! The sorted run in memory: the keys of the files a scan has no sorted hint for (the
//! active file, sealed files whose hint is missing or of version 1), read from their records
//! when the scan is made and sorted.

use crate::datafile::{DataFile, Found, Scanner, FILE_HEADER_LEN};
use crate::error::{Error, Result};
use crate::record::is_expired;

/// Sorted keys, each once, stored back to back.
#[derive(Default, Debug)]
pub(super) struct KeyRun {
    bytes: Vec<u8>,
    spans: Vec<(usize, u32)>,
}

impl KeyRun {
    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    pub(super) fn get(&self, i: usize) -> Option<&[u8]> {
        self.spans
            .get(i)
            .map(|&(s, l)| &self.bytes[s..s + l as usize])
    }

    /// The number of keys `< key` (`after`: `<= key`): the position before the first key
    /// `>= key` (`> key`).
    pub(super) fn rank(&self, key: &[u8], after: bool) -> usize {
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

    /// The keys of the puts in `files` (each with the end of its records), unexpired at
    /// `now`, sorted. A record is only a candidate: the scan asks the key directory for
    /// each key it reaches, so keys of records that are no longer live cost a lookup and
    /// nothing else. The scan of a file stops at the first record that does not verify (the
    /// end of an active file's records, or damage the key directory knows about anyway).
    pub(super) fn read(files: &[(&DataFile, u64)], now: u64) -> Result<KeyRun> {
        let mut run = KeyRun::default();
        for &(file, end) in files {
            let mut scanner = Scanner::new(&*file.file, FILE_HEADER_LEN as u64, end);
            loop {
                match scanner.next_record() {
                    Ok(Found::Record(r)) => {
                        let h = &r.header;
                        if !h.is_tombstone() && !h.is_seal() && !h.is_commit() {
                            if !is_expired(h.expiry(), now) {
                                run.push(r.key);
                            }
                        }
                    }
                    Ok(Found::End | Found::Bad(_)) => break,
                    Err(e) => return Err(Error::io("read", file.path(), e)),
                }
            }
        }
        run.sort_dedup();
        Ok(run)
    }
}
