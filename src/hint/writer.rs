//! Writing a version 2 hint file: entries pushed in any order, sorted by key at the end, the
//! newest entry of each key kept.

use super::entry::{HintEntry, HINT_MAGIC};
use super::sorted::{HEADER_LEN, INDEX_EVERY};

/// Builds a version 2 hint file in memory. Entries may come in any order and a key may come
/// more than once: `finish` keeps, for each key, the entry with the largest sequence number.
pub struct HintWriter {
    data_id: u64,
    /// The keys, back to back; entries refer to them by position.
    keys: Vec<u8>,
    entries: Vec<Pending>,
    /// The smallest and largest sequence numbers pushed (of every entry, kept or not).
    seqs: Option<(u64, u64)>,
}

struct Pending {
    seq: u64,
    offset: u64,
    value_len: u32,
    tombstone: bool,
    expiry: Option<u64>,
    key_at: usize,
    key_len: usize,
}

impl HintWriter {
    pub fn new(data_id: u64) -> HintWriter {
        HintWriter {
            data_id,
            keys: Vec::new(),
            entries: Vec::new(),
            seqs: None,
        }
    }

    #[cfg_attr(not(feature = "testkit"), allow(dead_code))]
    /// Entries pushed so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg_attr(not(feature = "testkit"), allow(dead_code))]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn push(&mut self, e: &HintEntry<'_>) {
        self.entries.push(Pending {
            seq: e.seq,
            offset: e.offset,
            value_len: e.value_len,
            tombstone: e.tombstone,
            expiry: e.expiry,
            key_at: self.keys.len(),
            key_len: e.key.len(),
        });
        self.keys.extend_from_slice(e.key);
        self.seqs = Some(match self.seqs {
            None => (e.seq, e.seq),
            Some((lo, hi)) => (lo.min(e.seq), hi.max(e.seq)),
        });
    }

    fn entry(&self, p: &Pending) -> HintEntry<'_> {
        HintEntry {
            seq: p.seq,
            offset: p.offset,
            value_len: p.value_len,
            tombstone: p.tombstone,
            expiry: p.expiry,
            key: &self.keys[p.key_at..p.key_at + p.key_len],
        }
    }

    /// The file's bytes, for a data file of `data_len` bytes: entries sorted by key (unsigned
    /// bytewise), the newest of each key only, then the sparse index and the trailer.
    pub fn finish(self, data_len: u64) -> Vec<u8> {
        let key = |p: &Pending| &self.keys[p.key_at..p.key_at + p.key_len];
        let mut order: Vec<usize> = (0..self.entries.len()).collect();
        // Newest first within a key, so the first of each run is the one kept.
        order.sort_unstable_by(|&a, &b| {
            let (a, b) = (&self.entries[a], &self.entries[b]);
            key(a).cmp(key(b)).then(b.seq.cmp(&a.seq))
        });
        order.dedup_by(|later, kept| key(&self.entries[*later]) == key(&self.entries[*kept]));
        let body: usize = order
            .iter()
            .map(|&i| self.entry(&self.entries[i]).encoded_len())
            .sum();
        let blocks = order.len().div_ceil(INDEX_EVERY);
        let mut buf = Vec::with_capacity(HEADER_LEN + body + 4 * blocks + 12);
        let (min_seq, max_seq) = self.seqs.unwrap_or((0, 0));
        buf.extend_from_slice(&HINT_MAGIC);
        buf.extend_from_slice(&super::HINT_VERSION.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        for word in [self.data_id, data_len, order.len() as u64, min_seq, max_seq] {
            buf.extend_from_slice(&word.to_le_bytes());
        }
        let mut index = Vec::with_capacity(4 * blocks);
        for (pos, &i) in order.iter().enumerate() {
            if pos % INDEX_EVERY == 0 {
                index.extend_from_slice(&((buf.len() - HEADER_LEN) as u32).to_le_bytes());
            }
            self.entry(&self.entries[i]).encode(&mut buf);
        }
        let index_at = buf.len() as u64;
        buf.extend_from_slice(&index);
        buf.extend_from_slice(&index_at.to_le_bytes());
        let crc = crc32fast::hash(&buf);
        buf.extend_from_slice(&crc.to_le_bytes());
        buf
    }
}
