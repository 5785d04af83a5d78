//! A write batch: puts and removes applied together or not at all ([`crate::Bitask::write`]).
//!
//! Operations are kept in one buffer (keys and values back to back), so building a batch of
//! small records costs no allocation per operation.

use crate::error::{Error, Result};
use crate::options::{MAX_KEY_LEN, MAX_VALUE_LEN};
use crate::record;

/// Puts and removes to apply atomically with [`crate::Bitask::write`]: after any crash,
/// either every operation of the batch is in the store or none is, and readers of the
/// handle never see part of it. Later operations on a key win over earlier ones in the same
/// batch. A remove of a key that is absent is no error in a batch (nothing to remove).
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    bytes: Vec<u8>,
    ops: Vec<Op>,
    /// Bytes the operations' records take in a data file.
    record_bytes: u64,
}

#[derive(Clone, Copy, Debug)]
struct Op {
    at: usize,
    key_len: usize,
    value_len: usize,
    tombstone: bool,
    expiry: Option<u64>,
}

/// One operation of a batch, as the write path reads it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BatchOp<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub tombstone: bool,
    /// The expiry of a put that expires (milliseconds since the Unix epoch).
    pub expiry: Option<u64>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// Adds a put of `value` under `key`. A key that is empty or too long, or a value that is
    /// too long, is refused here (the batch is unchanged).
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.push(key.as_ref(), value.as_ref(), false, None)
    }

    /// Adds a put of `value` under `key` that expires at `at_millis` (milliseconds since the
    /// Unix epoch; see [`crate::Bitask::put_expiring_at`]). An instant rather than a time to
    /// live, so that the batch means the same whenever it is written.
    pub fn put_expiring_at(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        at_millis: u64,
    ) -> Result<()> {
        self.push(key.as_ref(), value.as_ref(), false, Some(at_millis))
    }

    /// Adds a removal of `key`.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) -> Result<()> {
        self.push(key.as_ref(), &[], true, None)
    }

    /// Removes every operation, keeping the memory for the next batch.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ops.clear();
        self.record_bytes = 0;
    }

    /// The number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True without operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn push(
        &mut self,
        key: &[u8],
        value: &[u8],
        tombstone: bool,
        expiry: Option<u64>,
    ) -> Result<()> {
        check_limits(key, value)?;
        let at = self.bytes.len();
        self.bytes
            .try_reserve(key.len() + value.len())
            .map_err(|_| Error::io("grow a write batch", "", out_of_memory()))?;
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(value);
        self.ops.push(Op {
            at,
            key_len: key.len(),
            value_len: value.len(),
            tombstone,
            expiry,
        });
        self.record_bytes += record::record_len(key.len(), value.len());
        Ok(())
    }

    /// The operations in the order they were added.
    pub(crate) fn ops(&self) -> impl Iterator<Item = BatchOp<'_>> + '_ {
        self.ops.iter().map(|op| {
            let key_end = op.at + op.key_len;
            BatchOp {
                key: &self.bytes[op.at..key_end],
                value: &self.bytes[key_end..key_end + op.value_len],
                tombstone: op.tombstone,
                expiry: op.expiry,
            }
        })
    }

    /// Bytes the operations' records take in a data file (without the commit).
    pub(crate) fn record_bytes(&self) -> u64 {
        self.record_bytes
    }
}

fn out_of_memory() -> std::io::Error {
    std::io::Error::from(std::io::ErrorKind::OutOfMemory)
}

/// The limits every key and value must keep, in a batch or not.
pub(crate) fn check_limits(key: &[u8], value: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidEmptyKey);
    }
    for (what, len, max) in [
        ("key", key.len(), MAX_KEY_LEN),
        ("value", value.len(), MAX_VALUE_LEN),
    ] {
        if len > max {
            return Err(Error::TooLarge { what, len, max });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_come_back_in_order_and_bad_ones_change_nothing() {
        let mut b = WriteBatch::new();
        b.put("a", "1").unwrap();
        b.remove("b").unwrap();
        b.put("a", "").unwrap();
        assert!(matches!(b.put("", "x"), Err(Error::InvalidEmptyKey)));
        let long = vec![0u8; MAX_KEY_LEN + 1];
        assert!(matches!(b.remove(&long), Err(Error::TooLarge { .. })));
        let ops: Vec<_> = b
            .ops()
            .map(|o| (o.key.to_vec(), o.value.to_vec(), o.tombstone))
            .collect();
        assert_eq!(
            ops,
            [
                (b"a".to_vec(), b"1".to_vec(), false),
                (b"b".to_vec(), vec![], true),
                (b"a".to_vec(), vec![], false)
            ]
        );
        assert_eq!(
            b.record_bytes(),
            record::record_len(1, 1) + 2 * record::record_len(1, 0)
        );
        b.clear();
        assert!(b.is_empty() && b.record_bytes() == 0);
    }
}
