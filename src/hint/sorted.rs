//! Reading a version 2 hint file: a checked view over its bytes, with a cursor that moves
//! both ways and seeks by key.
//!
//! ```text
//! header   [u8; 8] magic "BITASKHI", u32 version (2), u32 flags (0),
//!          u64 id of the data file, u64 length of the data file, u64 entry count,
//!          u64 smallest seq, u64 largest seq                          (56 bytes)
//! entries  sorted by key, each key once (see `entry`)
//! index    u32 offset (from the start of the entries) of entries 0, 16, 32, ...
//! trailer  u64 offset of the index from the start of the file, u32 crc32 of all before it
//! ```

use std::cmp::Ordering;

use super::entry::{
    decode, described_len, u32_at, u64_at, version, HintEntry, ENTRY_EXPIRES, ENTRY_TOMBSTONE,
    FLAGS_AT,
};
use crate::record::{record_len, SEAL_LEN};

pub(super) const HEADER_LEN: usize = 56;
const COUNT_AT: usize = 32;
const MIN_SEQ_AT: usize = 40;
const MAX_SEQ_AT: usize = 48;
const TRAILER_LEN: usize = 12;
/// Entries per block of the sparse index.
pub const INDEX_EVERY: usize = 16;

/// Where a parsed hint's entries and index lie in its bytes (`SortedHint::layout`).
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    index_at: usize,
    len: usize,
    min_seq: u64,
    max_seq: u64,
}

/// A version 2 hint file that passed every check: its checksum, header, every entry (well
/// formed, its record inside the data file before the seal, its sequence number within the
/// header's range), strict key order, the index. Cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct SortedHint<'a> {
    /// The entries, back to back.
    entries: &'a [u8],
    /// The sparse index, `INDEX_EVERY` entries apart, as byte offsets into `entries`.
    index: &'a [u8],
    len: usize,
    min_seq: u64,
    max_seq: u64,
}

impl<'a> SortedHint<'a> {
    /// Checks `bytes`, a whole version 2 hint file, for data file `data_id` of `data_len`
    /// bytes; `None` when anything is off (the caller scans the data file instead).
    pub fn parse(bytes: &'a [u8], data_id: u64, data_len: u64) -> Option<SortedHint<'a>> {
        let hint = SortedHint::parse_layout(bytes, data_id, data_len)?;
        hint.check_entries(data_len)?;
        Some(hint)
    }

    /// The layout of a hint checked in full before (by `parse`, when the store was opened,
    /// or made by this process from a checked scan): the header, the trailer and the index's
    /// size only, in constant time, so a scan can use the hint of every file without reading
    /// them all first. The file is immutable; if it has changed nonetheless, decoding stays
    /// in bounds: an entry that does not decode ends the run, and the scan checks every key
    /// against the key directory, so a changed hint can hide keys but never show wrong data.
    pub fn parse_checked_before(
        bytes: &'a [u8],
        data_id: u64,
        data_len: u64,
    ) -> Option<SortedHint<'a>> {
        SortedHint::parse_layout(bytes, data_id, data_len)
    }

    fn parse_layout(bytes: &'a [u8], data_id: u64, data_len: u64) -> Option<SortedHint<'a>> {
        if bytes.len() < HEADER_LEN + TRAILER_LEN
            || version(bytes) != Some(super::HINT_VERSION)
            || bytes[FLAGS_AT..FLAGS_AT + 4] != [0; 4]
            || described_len(bytes, data_id)? != data_len
        {
            return None;
        }
        let count = usize::try_from(u64_at(bytes, COUNT_AT)).ok()?;
        let index_at = usize::try_from(u64_at(bytes, bytes.len() - TRAILER_LEN)).ok()?;
        let index_end = bytes.len() - TRAILER_LEN;
        if index_at < HEADER_LEN || index_at > index_end {
            return None;
        }
        // Never trust a length read from disk: the count must fit the entries' bytes before
        // it decides the index's size.
        let entries = &bytes[HEADER_LEN..index_at];
        if count > entries.len() / super::entry::ENTRY_FIXED
            || index_end - index_at != 4 * count.div_ceil(INDEX_EVERY)
        {
            return None;
        }
        Some(SortedHint {
            entries,
            index: &bytes[index_at..index_end],
            len: count,
            min_seq: u64_at(bytes, MIN_SEQ_AT),
            max_seq: u64_at(bytes, MAX_SEQ_AT),
        })
    }

    /// Where the parts of this hint lie in its bytes, for `with_layout`.
    pub fn layout(&self) -> Layout {
        Layout {
            index_at: HEADER_LEN + self.entries.len(),
            len: self.len,
            min_seq: self.min_seq,
            max_seq: self.max_seq,
        }
    }

    /// The hint `layout` describes in `bytes`, which it was taken from: a view without any
    /// check but the slices' bounds.
    pub fn with_layout(bytes: &'a [u8], layout: Layout) -> Option<SortedHint<'a>> {
        let index_end = bytes.len().checked_sub(TRAILER_LEN)?;
        Some(SortedHint {
            entries: bytes.get(HEADER_LEN..layout.index_at)?,
            index: bytes.get(layout.index_at..index_end)?,
            len: layout.len,
            min_seq: layout.min_seq,
            max_seq: layout.max_seq,
        })
    }

    /// Walks every entry once: well formed, in strict key order, records inside the data
    /// file, sequence numbers in range (the largest reached), the index pointing at them.
    fn check_entries(&self, data_len: u64) -> Option<()> {
        let records_end = data_len.checked_sub(SEAL_LEN)?;
        let mut at = 0;
        let mut prev: Option<&[u8]> = None;
        let mut newest = None;
        for pos in 0..self.len {
            if pos % INDEX_EVERY == 0 && self.block_start(pos / INDEX_EVERY) != at {
                return None;
            }
            let (e, n) = decode(&self.entries[at..], ENTRY_TOMBSTONE | ENTRY_EXPIRES)?;
            let end = e
                .offset
                .checked_add(record_len(e.key.len(), e.value_len as usize))?;
            if prev.is_some_and(|p| p >= e.key)
                || end > records_end
                || (e.tombstone && e.value_len != 0)
                || e.seq < self.min_seq
                || e.seq > self.max_seq
            {
                return None;
            }
            newest = newest.max(Some(e.seq));
            prev = Some(e.key);
            at += n;
        }
        let range_ok = match newest {
            Some(s) => s == self.max_seq,
            None => self.min_seq == 0 && self.max_seq == 0,
        };
        (at == self.entries.len() && range_ok).then_some(())
    }

    fn block_start(&self, block: usize) -> usize {
        u32_at(self.index, 4 * block) as usize
    }

    /// Entries (keys) in the file.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The smallest sequence number of the data file's records the hint was made from (0
    /// when it has none).
    pub fn min_seq(&self) -> u64 {
        self.min_seq
    }

    /// The largest sequence number in the data file (0 when it has no records): the newest
    /// record of the file is the newest of its key, so it is always an entry.
    pub fn max_seq(&self) -> u64 {
        self.max_seq
    }

    /// A cursor before entry `pos` (`len()` for the end).
    pub fn cursor_at(&self, pos: usize) -> Cursor<'a> {
        let pos = pos.min(self.len);
        let mut c = Cursor {
            hint: *self,
            pos: pos - pos % INDEX_EVERY,
            at: 0,
        };
        if c.pos < self.len {
            c.at = self.block_start(c.pos / INDEX_EVERY);
        } else {
            c.at = self.entries.len();
        }
        // A hint not checked entry by entry may stop decoding short of `pos`.
        while c.pos < pos && c.next().is_some() {}
        c
    }

    /// The cursor whose `Cursor::raw` gave `(pos, at)`: a scan keeps the two numbers instead
    /// of a borrow of the hint.
    pub fn cursor_raw(&self, (pos, at): (usize, usize)) -> Cursor<'a> {
        Cursor {
            hint: *self,
            pos,
            at,
        }
    }

    /// A cursor before the first entry.
    pub fn iter(&self) -> Cursor<'a> {
        self.cursor_at(0)
    }

    #[cfg_attr(not(feature = "testkit"), allow(dead_code))]
    /// Entry `pos`, if there is one.
    pub fn entry(&self, pos: usize) -> Option<HintEntry<'a>> {
        self.cursor_at(pos).next()
    }

    /// A cursor before the first entry whose key is at least `key` (at the end when there is
    /// none): a binary search over the index, then at most `INDEX_EVERY` entries forward.
    pub fn seek(&self, key: &[u8]) -> Cursor<'a> {
        self.seek_by(|k| k.cmp(key) == Ordering::Less)
    }

    /// A cursor before the first entry whose key is above `key` (after the last entry whose
    /// key is at most `key`, where a reverse scan from `key` starts).
    pub fn seek_after(&self, key: &[u8]) -> Cursor<'a> {
        self.seek_by(|k| k <= key)
    }

    /// A cursor before the first entry whose key is not `below` (true up to some key of the
    /// order, then false).
    fn seek_by(&self, below: impl Fn(&[u8]) -> bool) -> Cursor<'a> {
        let blocks = self.len.div_ceil(INDEX_EVERY);
        // Blocks whose first key is below: the answer lies in the last of them, or is the
        // first entry of the next.
        let below_blocks = partition_point(blocks, |b| {
            self.cursor_at(b * INDEX_EVERY)
                .peek()
                .is_some_and(|e| below(e.key))
        });
        let mut c = self.cursor_at(below_blocks.saturating_sub(1) * INDEX_EVERY);
        while c.peek().is_some_and(|e| below(e.key)) {
            c.next();
        }
        c
    }
}

/// The first of `0..n` for which `below` is false (`below` is true up to some point, then
/// false).
fn partition_point(n: usize, below: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// A position between two entries of a `SortedHint` (or before the first, or after the
/// last): `next` returns the entry after it and moves past it, `prev` the entry before it
/// and moves back before it.
#[derive(Clone, Copy, Debug)]
pub struct Cursor<'a> {
    hint: SortedHint<'a>,
    /// Entries before the cursor.
    pos: usize,
    /// Byte offset of entry `pos` in the entries.
    at: usize,
}

impl<'a> Cursor<'a> {
    #[cfg_attr(not(feature = "testkit"), allow(dead_code))]
    /// Entries before the cursor.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The cursor as two numbers, for `SortedHint::cursor_raw`.
    pub fn raw(&self) -> (usize, usize) {
        (self.pos, self.at)
    }

    /// The entry after the cursor, without moving.
    pub fn peek(&self) -> Option<HintEntry<'a>> {
        if self.pos >= self.hint.len {
            return None;
        }
        // In bounds even for a hint not checked entry by entry (`parse_checked_before`).
        decode(
            self.hint.entries.get(self.at..)?,
            ENTRY_TOMBSTONE | ENTRY_EXPIRES,
        )
        .map(|(e, _)| e)
    }

    /// The entry before the cursor, moving the cursor back before it. Decodes from the
    /// start of its index block: at most `INDEX_EVERY` entries.
    pub fn prev(&mut self) -> Option<HintEntry<'a>> {
        if self.pos == 0 {
            return None;
        }
        *self = self.hint.cursor_at(self.pos - 1);
        self.peek()
    }
}

impl<'a> Iterator for Cursor<'a> {
    type Item = HintEntry<'a>;

    /// The entry after the cursor, moving the cursor past it.
    fn next(&mut self) -> Option<HintEntry<'a>> {
        if self.pos >= self.hint.len {
            return None;
        }
        let (e, n) = decode(
            self.hint.entries.get(self.at..)?,
            ENTRY_TOMBSTONE | ENTRY_EXPIRES,
        )?;
        self.pos += 1;
        self.at += n;
        Some(e)
    }
}
