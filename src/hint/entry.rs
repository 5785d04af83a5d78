//! What both hint versions share: the entry type, the first 24 bytes of the header and the
//! checksum at the end, and the encoding of one entry.
//!
//! ```text
//! prefix   [u8; 8] magic "BITASKHI", u32 version, u32 flags (0), u64 id of the data file,
//!          u64 length of the data file       (both versions; 32 bytes)
//! entry    u64 seq, u64 offset, u32 value length, u32 key length, u8 flags,
//!          [u64 expiry, when flags bit 1], key bytes
//! trailer  ..., u32 crc32 of every byte before it (last 4 bytes of the file)
//! ```

use crate::options::{MAX_KEY_LEN, MAX_VALUE_LEN};
use crate::record::FLAG_TOMBSTONE;

pub const HINT_MAGIC: [u8; 8] = *b"BITASKHI";
/// Magic, version, flags and data file id: enough to tell whose hint a file is.
pub const PREFIX_LEN: usize = 24;
/// Offset of the data file's length in the header.
pub(super) const DATA_LEN_AT: usize = 24;
pub(super) const VERSION_AT: usize = 8;
pub(super) const FLAGS_AT: usize = 12;
pub(super) const DATA_ID_AT: usize = 16;
/// Entry bytes before the optional expiry and the key.
pub(super) const ENTRY_FIXED: usize = 25;
/// Entry flag: the record is a tombstone.
pub(super) const ENTRY_TOMBSTONE: u8 = FLAG_TOMBSTONE;
/// Entry flag: the key expires; a u64 (ms since the epoch) follows the flags.
pub(super) const ENTRY_EXPIRES: u8 = 2;

/// One record as a hint file describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HintEntry<'a> {
    pub seq: u64,
    pub offset: u64,
    pub value_len: u32,
    pub tombstone: bool,
    /// When the key expires (ms since the epoch); `None` for keys that do not.
    pub expiry: Option<u64>,
    pub key: &'a [u8],
}

impl HintEntry<'_> {
    /// Bytes of its encoding.
    pub(super) fn encoded_len(&self) -> usize {
        ENTRY_FIXED + if self.expiry.is_some() { 8 } else { 0 } + self.key.len()
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.value_len.to_le_bytes());
        out.extend_from_slice(&(self.key.len() as u32).to_le_bytes());
        let mut flags = if self.tombstone { ENTRY_TOMBSTONE } else { 0 };
        if self.expiry.is_some() {
            flags |= ENTRY_EXPIRES;
        }
        out.push(flags);
        if let Some(at) = self.expiry {
            out.extend_from_slice(&at.to_le_bytes());
        }
        out.extend_from_slice(self.key);
    }
}

pub(super) fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
}

pub(super) fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
}

/// Decodes the entry at the start of `b`, with the flags `allowed`; returns it and its
/// length, or `None` when it is malformed or does not fit.
pub(super) fn decode(b: &[u8], allowed: u8) -> Option<(HintEntry<'_>, usize)> {
    if b.len() < ENTRY_FIXED {
        return None;
    }
    let value_len = u32_at(b, 16);
    let key_len = u32_at(b, 20) as usize;
    let flags = b[24];
    if key_len == 0
        || key_len > MAX_KEY_LEN
        || value_len as usize > MAX_VALUE_LEN
        || flags & !allowed != 0
    {
        return None;
    }
    let mut at = ENTRY_FIXED;
    let expiry = if flags & ENTRY_EXPIRES != 0 {
        let e = b.get(at..at + 8)?;
        at += 8;
        Some(u64::from_le_bytes(e.try_into().unwrap()))
    } else {
        None
    };
    let key = b.get(at..at + key_len)?;
    let e = HintEntry {
        seq: u64_at(b, 0),
        offset: u64_at(b, 8),
        value_len,
        tombstone: flags & ENTRY_TOMBSTONE != 0,
        expiry,
        key,
    };
    Some((e, at + key_len))
}

/// The version of a hint file that starts with the magic, else `None`.
pub fn version(bytes: &[u8]) -> Option<u32> {
    (bytes.len() >= PREFIX_LEN && bytes[0..8] == HINT_MAGIC).then(|| u32_at(bytes, VERSION_AT))
}

/// True when `prefix` (a hint file's first `PREFIX_LEN` bytes) starts a hint of a version
/// this build reads, for data file `data_id`.
pub fn header_names(prefix: &[u8; PREFIX_LEN], data_id: u64) -> bool {
    matches!(version(prefix), Some(1 | 2)) && u64_at(prefix, DATA_ID_AT) == data_id
}

/// The longest hint file of a data file of `data_len` bytes: an entry (25 bytes, an expiry
/// of 8 and the key, and 4 bytes of index per 16) is never twice the record it describes
/// (29 bytes, the key and the value), so a longer file is no hint of it, and is not read.
pub fn max_len(data_len: u64) -> u64 {
    128 + 2 * data_len
}

/// The length of data file `data_id` that an intact hint file (magic, checksum, a version
/// this build reads, file id all good) describes: when it differs from the data file's
/// length, the data file was cut or extended after it was published.
pub fn described_len(bytes: &[u8], data_id: u64) -> Option<u64> {
    if bytes.len() < DATA_LEN_AT + 8 + 4 || !matches!(version(bytes), Some(1 | 2)) {
        return None;
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if u32::from_le_bytes(crc.try_into().ok()?) != crc32fast::hash(body) {
        return None;
    }
    (u64_at(bytes, DATA_ID_AT) == data_id).then(|| u64_at(bytes, DATA_LEN_AT))
}
