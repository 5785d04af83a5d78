//! Writing a batch atomically: every member record, then the commit record, appended to one
//! data file under the writer mutex; then every member published between the two halves of
//! the visibility epoch (`visibility`), so readers see all of it or none; then, with
//! `SyncMode::Always`, one wait for group commit covering the whole batch.
//!
//! A batch is never split across data files: when it does not fit in the active file, the
//! file is sealed and the batch goes into a new one, made large enough when the batch is
//! larger than `max_file_size` (as a record that large gets a file of its own). A batch of one
//! operation is written as a plain record, which is atomic by itself.

use super::batch_bytes::append_batch_bytes;
use super::state::{Engine, Writer};
use crate::batch::WriteBatch;
use crate::error::{Error, Result};
use crate::keydir::{Hash, Location, MAX_OFFSET};
use crate::options::SyncMode;
use crate::record;
use crate::util::sync::lock;

impl Engine {
    /// Applies every operation of `batch`, or none.
    pub(crate) fn write_batch(&self, batch: &WriteBatch) -> Result<()> {
        if batch.is_empty() {
            self.writer()?;
            return Ok(());
        }
        let total = batch.record_bytes() + record::COMMIT_LEN;
        let limit = MAX_OFFSET - crate::datafile::FILE_HEADER_LEN as u64 - record::SEAL_LEN;
        if total > limit {
            let (len, max) = (total as usize, limit as usize);
            return Err(Error::TooLarge {
                what: "write batch",
                len,
                max,
            });
        }
        let hashes = self.prefetch_confirmed(batch)?;
        let arrival = (self.opts.sync == SyncMode::Always).then(|| self.commit.arrive());
        let mut w = lock(self.writer()?);
        self.check_running()?;
        let last_seq = if batch.len() == 1 {
            let op = batch.ops().next().expect("one operation");
            if op.tombstone {
                self.append_one(&mut w, hashes[0], op.key, op.value, true)?
            } else {
                self.append_expiring(&mut w, hashes[0], op.key, op.value, op.expiry)?
            }
        } else {
            self.append_batch(&mut w, batch, total, &hashes)?
        };
        drop(arrival);
        drop(w);
        self.wait_if_always(last_seq)
    }

    /// The hashes of the batch's keys, their slots loading into the cache. In a batch of
    /// more than one operation every key is also confirmed in the key directory (a lookup
    /// may read a record's key from its file): a read error then fails the batch before
    /// anything is written, rather than stopping the handle half way through publishing it.
    /// Each key is confirmed `AHEAD` keys after its prefetch, once its slot has arrived, so
    /// the misses overlap and the check waits for none of them. It runs before the writer
    /// mutex is taken, which other writers need: the check was never more than a first
    /// reading (publishing reads the records again), and a key another writer puts meanwhile
    /// is read from the record just appended.
    fn prefetch_confirmed(&self, batch: &WriteBatch) -> Result<Vec<Hash>> {
        const AHEAD: usize = 8;
        let check = batch.len() > 1;
        let mut hashes = Vec::with_capacity(batch.len());
        let mut behind = batch.ops().zip(0..);
        for op in batch.ops() {
            hashes.push(self.keydir.prefetch(op.key));
            if check && hashes.len() > AHEAD {
                let (op, i) = behind.next().expect("an operation behind the prefetch");
                self.keydir
                    .with_entry_hashed(hashes[i], op.key, |_, _| Ok(()))?;
            }
        }
        if check {
            for (op, i) in behind {
                self.keydir
                    .with_entry_hashed(hashes[i], op.key, |_, _| Ok(()))?;
            }
        }
        Ok(hashes)
    }

    /// Under the writer mutex: appends the members and the commit of a batch of `total`
    /// bytes, then publishes the members; returns the last member's sequence number. A
    /// failed append cuts the file back to where the batch started: nothing was published.
    fn append_batch(
        &self,
        w: &mut Writer,
        batch: &WriteBatch,
        total: u64,
        hashes: &[Hash],
    ) -> Result<u64> {
        self.make_room(w, total)?;
        let first = w.next_seq;
        let start = w.active.as_ref().expect("room made").end;
        let Writer {
            active, batch_buf, ..
        } = &mut *w;
        let file = &active.as_ref().expect("room made").file;
        let written = append_batch_bytes(file, batch_buf, batch, start, first);
        self.cut_back_on_error(w, start, written)?;
        let count = batch.len() as u64;
        self.appended(w, start, total, count);
        let no = w.active.as_ref().expect("room made").no;
        let publishing = self.visibility.begin();
        let mut offset = start;
        for (op, &hash) in batch.ops().zip(hashes) {
            let len = record::record_len(op.key.len(), op.value.len());
            let loc = Location {
                file: no,
                offset: offset as u32,
                rec_len: len as u32,
                expires: op.expiry.is_some(),
            };
            if let Err(e) = self.publish(hash, op.key, loc, op.tombstone) {
                publishing.failed(); // the handle is stopped: no read may see half of it
                return Err(e);
            }
            offset += len;
        }
        drop(publishing);
        Ok(first + count - 1)
    }
}
