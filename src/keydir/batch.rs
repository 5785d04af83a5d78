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
    pub(super) rec_len: u32,
    pub(super) tombstone: bool,
}

impl Batch {
    /// Adds a record of `key`, at `offset` in the batch's file and `rec_len` bytes long (the
    /// record must be there when the batch is applied: its key may be read back).
    pub fn push(&mut self, key: &[u8], offset: u32, rec_len: u32, tombstone: bool) {
        let h = Hash::of(self.seed, key);
        self.by_shard[h.shard].push(BatchRecord {
            h32: h.h32,
            tag: h.tag,
            offset,
            rec_len,
            tombstone,
        });
    }

    pub fn len(&self) -> usize {
        self.by_shard.iter().map(Vec::len).sum()
    }
}
