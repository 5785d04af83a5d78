//! Version 1 hint files, written by compaction before version 2: entries in file order, one
//! per record copied. Still read when opening a store (never for scans); replaced by a
//! version 2 hint when the writer next opens the store.
//!
//! ```text
//! header   [u8; 8] magic "BITASKHI", u32 version (1), u32 zero,
//!          u64 id of the data file, u64 length of the data file
//! entries  u64 seq, u64 offset of the record, u32 value length, u32 key length, u8 flags, key
//! trailer  u64 entry count, u32 crc32 of every byte before it
//! ```

use super::entry::{decode, described_len, u64_at, HintEntry, ENTRY_TOMBSTONE, FLAGS_AT};

pub const VERSION: u32 = 1;
pub const HEADER_LEN: usize = 32;
const TRAILER_LEN: usize = 12;

/// Builds a version 1 hint file in memory: what earlier versions wrote, for tests of the
/// upgrade path.
#[cfg(any(test, feature = "testkit"))]
pub struct HintWriter {
    buf: Vec<u8>,
    count: u64,
}

#[cfg(any(test, feature = "testkit"))]
impl HintWriter {
    pub fn new(data_id: u64) -> HintWriter {
        let mut buf = Vec::with_capacity(1 << 16);
        buf.extend_from_slice(&super::entry::HINT_MAGIC);
        buf.extend_from_slice(&VERSION.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(&data_id.to_le_bytes());
        buf.extend_from_slice(&0u64.to_le_bytes()); // data length, set by finish
        HintWriter { buf, count: 0 }
    }

    pub fn push(&mut self, e: &HintEntry<'_>) {
        HintEntry { expiry: None, ..*e }.encode(&mut self.buf);
        self.count += 1;
    }

    /// The file's bytes, for a data file of `data_len` bytes.
    pub fn finish(mut self, data_len: u64) -> Vec<u8> {
        self.buf[24..32].copy_from_slice(&data_len.to_le_bytes());
        self.buf.extend_from_slice(&self.count.to_le_bytes());
        let crc = crc32fast::hash(&self.buf);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf
    }
}

/// Checks a whole version 1 hint file for data file `data_id` of `data_len` bytes and
/// returns its entries, or `None` when anything is off (the caller then scans the data file).
pub fn parse(bytes: &[u8], data_id: u64, data_len: u64) -> Option<(u64, EntryIter<'_>)> {
    if bytes.len() < HEADER_LEN + TRAILER_LEN
        || super::version(bytes) != Some(VERSION)
        || described_len(bytes, data_id)? != data_len
    {
        return None;
    }
    // The reserved word must be zero: a hint with bits this version does not know is not
    // trusted (the data file is scanned instead).
    if bytes[FLAGS_AT..FLAGS_AT + 4] != [0; 4] {
        return None;
    }
    let count = u64_at(bytes, bytes.len() - TRAILER_LEN);
    // Walk once to prove every entry is well formed and the count matches.
    let mut n = 0u64;
    let mut it = entries(bytes);
    loop {
        match it.next_checked() {
            Ok(Some(e)) => {
                if e.offset.checked_add(e.value_len as u64)? > data_len {
                    return None;
                }
                n += 1
            }
            Ok(None) => break,
            Err(()) => return None,
        }
    }
    (n == count).then(|| (count, entries(bytes)))
}

/// The entries of a hint file, between its header and trailer (which the caller has checked
/// are there).
fn entries(bytes: &[u8]) -> EntryIter<'_> {
    EntryIter {
        buf: &bytes[HEADER_LEN..bytes.len() - TRAILER_LEN],
    }
}

/// Iterates the entries of a checked hint file.
pub struct EntryIter<'a> {
    buf: &'a [u8],
}

impl<'a> EntryIter<'a> {
    fn next_checked(&mut self) -> Result<Option<HintEntry<'a>>, ()> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let (e, len) = decode(self.buf, ENTRY_TOMBSTONE).ok_or(())?;
        self.buf = &self.buf[len..];
        Ok(Some(e))
    }
}

impl<'a> Iterator for EntryIter<'a> {
    type Item = HintEntry<'a>;

    fn next(&mut self) -> Option<HintEntry<'a>> {
        self.next_checked().ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::MAX_VALUE_LEN;

    fn entry(seq: u64, offset: u64, value_len: u32, tombstone: bool, key: &[u8]) -> HintEntry<'_> {
        HintEntry {
            seq,
            offset,
            value_len,
            tombstone,
            expiry: None,
            key,
        }
    }

    fn sample() -> Vec<u8> {
        let mut w = HintWriter::new(9);
        w.push(&entry(1, 52, 3, false, b"a"));
        w.push(&entry(4, 90, 0, true, b"bb"));
        w.finish(200)
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let (count, it) = parse(&bytes, 9, 200).unwrap();
        let got: Vec<_> = it.collect();
        assert_eq!(count, 2);
        assert_eq!(got[0], entry(1, 52, 3, false, b"a"));
        assert_eq!(got[1].key, b"bb");
        assert!(got[1].tombstone);
    }

    #[test]
    fn a_value_past_the_limit_is_refused_and_no_hint_is_longer_than_its_data() {
        assert!(sample().len() as u64 <= super::super::max_len(200));
        let mut w = HintWriter::new(9);
        w.push(&entry(1, 52, MAX_VALUE_LEN as u32 + 1, false, b"a"));
        let data_len = 52 + MAX_VALUE_LEN as u64 + 100;
        assert!(parse(&w.finish(data_len), 9, data_len).is_none());
    }

    #[test]
    fn any_damage_or_mismatch_is_refused() {
        let bytes = sample();
        assert!(parse(&bytes, 8, 200).is_none(), "wrong data file id");
        assert!(parse(&bytes, 9, 199).is_none(), "wrong data file length");
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(parse(&bad, 9, 200).is_none(), "flip at {i} accepted");
        }
        for cut in 0..bytes.len() {
            assert!(
                parse(&bytes[..cut], 9, 200).is_none(),
                "cut at {cut} accepted"
            );
        }
    }
}
