//! Hint-file records hashed ahead, per shard, for the bulk load at open (`KeyDir::apply_batches`).

use super::hash::Hash;

/// Records waiting to be applied by `KeyDir::apply_batches`, hashed and grouped by shard as
/// they are pushed: a batch can be built on any thread, apart from the directory.
pub struct Batch {
    pub(super) seed: (u64, u64),
    pub(super) by_shard: Vec<Vec<BatchRecord>>,
}

/// 16 bytes: an open from hints holds one per record.
pub(super) struct BatchRecord {
    pub(super) h32: u32,
    pub(super) tag: u16,
    pub(super) offset: u32,
    /// The record's length, with `EXPIRES` set for a put that expires.
    pub(super) rec_len: u32,
    pub(super) tombstone: bool,
}

/// The bit of `BatchRecord::rec_len` marking a put that expires (records are shorter than
/// 2^29 bytes), which keeps a record at 16 bytes.
pub(super) const EXPIRES: u32 = 1 << 31;

impl Batch {
    /// Adds a record of `key`, at `offset` in the batch's file and `rec_len` bytes long (the
    /// record must be there when the batch is applied: its key may be read back).
    pub fn push(&mut self, key: &[u8], offset: u32, rec_len: u32, tombstone: bool) {
        self.push_record(key, offset, rec_len, tombstone, false)
    }

    /// `push`, telling whether the record is a put that expires.
    pub fn push_record(
        &mut self,
        key: &[u8],
        offset: u32,
        rec_len: u32,
        tombstone: bool,
        expires: bool,
    ) {
        let h = Hash::of(self.seed, key);
        self.by_shard[h.shard].push(BatchRecord {
            h32: h.h32,
            tag: h.tag,
            offset,
            rec_len: rec_len | if expires { EXPIRES } else { 0 },
            tombstone,
        });
    }

    pub fn len(&self) -> usize {
        self.by_shard.iter().map(Vec::len).sum()
    }
}
