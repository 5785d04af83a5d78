//! Hint files: for a sealed data file, the key directory entries of its records without the
//! values, so opening a store costs time in proportion to its keys, not its bytes. A hint is a
//! shortcut only: one that fails any check is ignored and its data file scanned instead.
//!
//! Layout (little-endian), see `docs/format.md`:
//! ```text
//! header   [u8; 8] magic "BITASKHI", u32 version (1), u32 zero,
//!          u64 id of the data file, u64 length of the data file
//! entries  u64 seq, u64 offset of the record, u32 value length, u32 key length, u8 flags, key
//! trailer  u64 entry count, u32 crc32 of every byte before it
//! ```

use crate::options::{MAX_KEY_LEN, MAX_VALUE_LEN};
use crate::record::FLAG_TOMBSTONE;

pub const HINT_MAGIC: [u8; 8] = *b"BITASKHI";
pub const HINT_VERSION: u32 = 1;
pub const HEADER_LEN: usize = 32;
const ENTRY_FIXED: usize = 25;
const TRAILER_LEN: usize = 12;

/// One record as a hint file describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HintEntry<'a> {
    pub seq: u64,
    pub offset: u64,
    pub value_len: u32,
    pub tombstone: bool,
    pub key: &'a [u8],
}

/// Builds a hint file in memory.
pub struct HintWriter {
    buf: Vec<u8>,
    count: u64,
}

impl HintWriter {
    pub fn new(data_id: u64) -> HintWriter {
        let mut buf = Vec::with_capacity(1 << 16);
        buf.extend_from_slice(&HINT_MAGIC);
        buf.extend_from_slice(&HINT_VERSION.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(&data_id.to_le_bytes());
        buf.extend_from_slice(&0u64.to_le_bytes()); // data length, set by finish
        HintWriter { buf, count: 0 }
    }

    pub fn push(&mut self, e: &HintEntry<'_>) {
        self.buf.extend_from_slice(&e.seq.to_le_bytes());
        self.buf.extend_from_slice(&e.offset.to_le_bytes());
        self.buf.extend_from_slice(&e.value_len.to_le_bytes());
        self.buf
            .extend_from_slice(&(e.key.len() as u32).to_le_bytes());
        self.buf.push(if e.tombstone { FLAG_TOMBSTONE } else { 0 });
        self.buf.extend_from_slice(e.key);
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

/// True when `header` (a hint file's first `HEADER_LEN` bytes) is a hint header of this
/// format for data file `data_id`.
pub fn header_names(header: &[u8; HEADER_LEN], data_id: u64) -> bool {
    let version = u32::from_le_bytes(header[8..12].try_into().unwrap());
    let id = u64::from_le_bytes(header[16..24].try_into().unwrap());
    header[0..8] == HINT_MAGIC && version == HINT_VERSION && id == data_id
}

/// The longest hint file of a data file of `data_len` bytes: an entry (25 bytes and the key)
/// is shorter than the record it describes (29 bytes, the key and the value), so a longer
/// file is no hint of it, and is not read.
pub fn max_len(data_len: u64) -> u64 {
    (HEADER_LEN + TRAILER_LEN) as u64 + data_len
}

/// The length of data file `data_id` that an intact hint file (magic, checksum, version and
/// file id all good) describes: when it differs from the data file's length, the data file
/// was cut or extended after it was published.
pub fn described_len(bytes: &[u8], data_id: u64) -> Option<u64> {
    if bytes.len() < HEADER_LEN + TRAILER_LEN || bytes[0..8] != HINT_MAGIC {
        return None;
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if u32::from_le_bytes(crc.try_into().ok()?) != crc32fast::hash(body) {
        return None;
    }
    let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap());
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    (version == HINT_VERSION && u64_at(16) == data_id).then(|| u64_at(24))
}

/// Checks a whole hint file for data file `data_id` of `data_len` bytes and returns its
/// entries, or `None` when anything is off (the caller then scans the data file).
pub fn parse(bytes: &[u8], data_id: u64, data_len: u64) -> Option<(u64, EntryIter<'_>)> {
    if described_len(bytes, data_id)? != data_len {
        return None;
    }
    // The reserved word must be zero: a hint with bits this version does not know is not
    // trusted (the data file is scanned instead).
    if bytes[12..16] != [0; 4] {
        return None;
    }
    let count_at = bytes.len() - TRAILER_LEN;
    let count = u64::from_le_bytes(bytes[count_at..count_at + 8].try_into().unwrap());
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
        if self.buf.len() < ENTRY_FIXED {
            return Err(());
        }
        let b = self.buf;
        let key_len = u32::from_le_bytes(b[20..24].try_into().unwrap()) as usize;
        let flags = b[24];
        let value_len = u32::from_le_bytes(b[16..20].try_into().unwrap());
        if key_len == 0
            || key_len > MAX_KEY_LEN
            || value_len as usize > MAX_VALUE_LEN
            || flags & !FLAG_TOMBSTONE != 0
            || b.len() < ENTRY_FIXED + key_len
        {
            return Err(());
        }
        let e = HintEntry {
            seq: u64::from_le_bytes(b[0..8].try_into().unwrap()),
            offset: u64::from_le_bytes(b[8..16].try_into().unwrap()),
            value_len,
            tombstone: flags & FLAG_TOMBSTONE != 0,
            key: &b[ENTRY_FIXED..ENTRY_FIXED + key_len],
        };
        self.buf = &b[ENTRY_FIXED + key_len..];
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

    fn sample() -> Vec<u8> {
        let mut w = HintWriter::new(9);
        w.push(&HintEntry {
            seq: 1,
            offset: 52,
            value_len: 3,
            tombstone: false,
            key: b"a",
        });
        w.push(&HintEntry {
            seq: 4,
            offset: 90,
            value_len: 0,
            tombstone: true,
            key: b"bb",
        });
        w.finish(200)
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let (count, it) = parse(&bytes, 9, 200).unwrap();
        let got: Vec<_> = it.collect();
        assert_eq!(count, 2);
        assert_eq!(
            got[0],
            HintEntry {
                seq: 1,
                offset: 52,
                value_len: 3,
                tombstone: false,
                key: b"a"
            }
        );
        assert_eq!(got[1].key, b"bb");
        assert!(got[1].tombstone);
    }

    #[test]
    fn a_value_past_the_limit_is_refused_and_no_hint_is_longer_than_its_data() {
        assert!(sample().len() as u64 <= max_len(200));
        let mut w = HintWriter::new(9);
        w.push(&HintEntry {
            seq: 1,
            offset: 52,
            value_len: MAX_VALUE_LEN as u32 + 1,
            tombstone: false,
            key: b"a",
        });
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
