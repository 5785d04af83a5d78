//! Appending a batch's bytes: the member records and then the commit, encoded into the
//! writer's buffer and written to the file in one write (a few for a batch larger than
//! `CHUNK`). Written one record at a time, each member cost a buffer zeroed on the stack and
//! a write of its own; a batch of small records now costs one copy per record and one write.

use crate::batch::{BatchOp, WriteBatch};
use crate::datafile::DataFile;
use crate::error::{Error, Result};
use crate::filename;
use crate::record;

/// The buffer is written out before it would grow past this: a batch of any size holds at
/// most this much memory beyond its own. A record larger than this is written by itself,
/// from the batch, without a copy.
const CHUNK: usize = 1 << 20;

/// Writes the members of `batch` from `start` with sequence numbers from `first`, then its
/// commit, encoding them through `buf` (left holding the last chunk: its memory serves the
/// next batch).
pub(super) fn append_batch_bytes(
    file: &DataFile,
    buf: &mut Vec<u8>,
    batch: &WriteBatch,
    start: u64,
    first: u64,
) -> Result<()> {
    let now = filename::coarse_now_millis();
    let mut at = start; // where `buf[0]` goes in the file
    buf.clear();
    for (i, op) in batch.ops().enumerate() {
        let seq = first + i as u64;
        let (flags, timestamp) = flags_and_time(&op, now);
        let len = record::record_len(op.key.len(), op.value.len()) as usize;
        if buf.len() + len > CHUNK {
            flush(file, buf, &mut at)?;
        }
        if len > CHUNK {
            file.append_flagged(at, seq, timestamp, flags, op.key, op.value)?;
            at += len as u64;
            continue;
        }
        reserve(buf, len)?;
        record::push_flagged(buf, seq, timestamp, flags, op.key, op.value);
    }
    reserve(buf, record::COMMIT_LEN as usize)?;
    buf.extend_from_slice(&record::encode_commit(first, batch.len() as u64, now));
    flush(file, buf, &mut at)
}

/// A member's flags and timestamp field: one that expires carries its expiry where the
/// others carry the time.
fn flags_and_time(op: &BatchOp<'_>, now: u64) -> (u8, u64) {
    match op.expiry {
        Some(at) if !op.tombstone => (record::expiring_flags(true), at),
        _ => (record::flags(op.tombstone, true), now),
    }
}

/// Writes `buf` at `*at` and empties it, moving `*at` past it.
fn flush(file: &DataFile, buf: &mut Vec<u8>, at: &mut u64) -> Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    file.write_at(*at, buf, "append to")?;
    *at += buf.len() as u64;
    buf.clear();
    Ok(())
}

/// Room for `len` more bytes, or an `OutOfMemory` error rather than an abort.
fn reserve(buf: &mut Vec<u8>, len: usize) -> Result<()> {
    buf.try_reserve(len).map_err(|_| {
        let oom = std::io::Error::from(std::io::ErrorKind::OutOfMemory);
        Error::io("grow a write batch's buffer", "", oom)
    })
}
