//! The write path: a put or a remove appends one record to the active file (rotating it
//! when full), publishes it in the key directory, and with `SyncMode::Always` waits for group
//! commit to make it durable. The steps under the writer mutex (`make_room`, `append_one`,
//! `publish`) are shared with batches (`batch`) and conditional writes (`conditional`).

use std::sync::atomic::Ordering;

use super::state::{Engine, Writer};
use crate::error::{Error, Result};
use crate::filename;
use crate::keydir::{Hash, Location};
use crate::options::SyncMode;
use crate::record;
use crate::util::sync::lock;

pub(super) fn check_key(key: &[u8]) -> Result<()> {
    crate::batch::check_limits(key, &[])
}

impl Engine {
    pub(crate) fn write(&self, key: &[u8], value: &[u8], tombstone: bool) -> Result<()> {
        self.write_expiring(key, value, tombstone, None)
    }

    /// `write`, of a put that expires at `expiry` (milliseconds since the Unix epoch) when
    /// given.
    pub(crate) fn write_expiring(
        &self,
        key: &[u8],
        value: &[u8],
        tombstone: bool,
        expiry: Option<u64>,
    ) -> Result<()> {
        crate::batch::check_limits(key, value)?;
        // The slot is a cache (and TLB) miss; it loads while the record is written.
        let hash = self.keydir.prefetch(key);
        let arrival = (self.opts.sync == SyncMode::Always).then(|| self.commit.arrive());
        let mut w = lock(self.writer()?);
        self.check_running()?;
        if tombstone && self.with_live_entry(key, |_, _| Ok(()))?.is_none() {
            return Err(Error::KeyNotFound);
        }
        let seq = if tombstone {
            self.append_one(&mut w, hash, key, value, true)?
        } else {
            self.append_expiring(&mut w, hash, key, value, expiry)?
        };
        drop(arrival);
        drop(w);
        self.wait_if_always(seq)
    }

    /// With `SyncMode::Always`, returns once record `seq` is durable.
    pub(super) fn wait_if_always(&self, seq: u64) -> Result<()> {
        if self.opts.sync == SyncMode::Always {
            self.wait_durable(seq)?;
        }
        Ok(())
    }

    /// Under the writer mutex: makes sure the active file has room for `len` bytes of records
    /// and, after them, the seal that closes the file, rotating it when not.
    pub(super) fn make_room(&self, w: &mut Writer, len: u64) -> Result<()> {
        let fits = w
            .active
            .as_ref()
            .is_some_and(|a| a.end + len + record::SEAL_LEN <= a.capacity);
        if !fits {
            self.rotate(w, len)?;
        }
        Ok(())
    }

    /// Under the writer mutex: appends one record outside any batch and publishes it;
    /// returns its sequence number.
    pub(super) fn append_one(
        &self,
        w: &mut Writer,
        hash: Hash,
        key: &[u8],
        value: &[u8],
        tombstone: bool,
    ) -> Result<u64> {
        let flags = record::flags(tombstone, false);
        self.append_flagged(w, hash, key, value, flags, filename::coarse_now_millis())
    }

    /// `append_one` of a put, which expires at `expiry` when given.
    pub(super) fn append_expiring(
        &self,
        w: &mut Writer,
        hash: Hash,
        key: &[u8],
        value: &[u8],
        expiry: Option<u64>,
    ) -> Result<u64> {
        match expiry {
            None => self.append_one(w, hash, key, value, false),
            Some(at) => self.append_flagged(w, hash, key, value, record::expiring_flags(false), at),
        }
    }

    /// `append_one` with the record's flags and timestamp field given (for a put that
    /// expires, the field is its expiry).
    fn append_flagged(
        &self,
        w: &mut Writer,
        hash: Hash,
        key: &[u8],
        value: &[u8],
        flags: u8,
        timestamp: u64,
    ) -> Result<u64> {
        let tombstone = flags & record::FLAG_TOMBSTONE != 0;
        let len = record::record_len(key.len(), value.len());
        self.make_room(w, len)?;
        let seq = w.next_seq;
        let active = w.active.as_mut().expect("rotate leaves an active file");
        let offset = active.end;
        let appended = active
            .file
            .append_flagged(offset, seq, timestamp, flags, key, value);
        self.cut_back_on_error(w, offset, appended)?;
        let mut loc = self.appended(w, offset, len, 1);
        loc.expires = flags & record::FLAG_EXPIRES != 0;
        // Published now, before the `fdatasync` of `SyncMode::Always`, so a put whose sync
        // fails has been visible (as `put` documents). Publishing after the sync would not
        // make "nothing written" true: a failed fdatasync does not say whether the record
        // reached the disk, so a reopen may find it whatever readers were shown. And it would
        // move publication to the sync's leader, which would have to publish each batch in
        // sequence order (two writers of one key must never leave the older record
        // published) while a remove's check above, the live-byte count and a compaction's
        // sealing all saw a directory behind the log.
        self.publish(hash, key, loc, tombstone)?;
        Ok(seq)
    }

    /// After an append to the active file at `offset`: on an error, cuts the file back to
    /// `offset`, never leaving a partial record in front of later good ones (a failed cut
    /// stops writes).
    pub(super) fn cut_back_on_error(
        &self,
        w: &mut Writer,
        offset: u64,
        appended: Result<()>,
    ) -> Result<()> {
        let Err(e) = appended else { return Ok(()) };
        let active = w.active.as_ref().expect("appended to the active file");
        if let Err(te) = active
            .file
            .truncate(offset, "truncate after a failed write")
        {
            self.stop(&te);
        }
        Err(e)
    }

    /// Accounts for `len` bytes of `records` records appended at `offset`: moves the end
    /// and the sequence number on, and asks for the next file when due. Returns the location
    /// of a record of `len` bytes at `offset`.
    pub(super) fn appended(&self, w: &mut Writer, offset: u64, len: u64, records: u64) -> Location {
        let active = w.active.as_mut().expect("appended to the active file");
        active.end = offset + len;
        let ask_next = active.end >= active.prepare_at;
        let loc = Location {
            file: active.no,
            offset: offset as u32,
            rec_len: len as u32,
            expires: false,
        };
        w.next_seq += records;
        if ask_next {
            self.prepare_next(w);
        }
        loc
    }

    /// Publishes a record appended for `key` (at `loc`, or a tombstone) in the key directory
    /// and the live-byte count, under the writer mutex.
    pub(super) fn publish(
        &self,
        hash: Hash,
        key: &[u8],
        loc: Location,
        tombstone: bool,
    ) -> Result<()> {
        let old = if tombstone {
            self.keydir.remove_hashed(hash, key)
        } else {
            self.keydir.insert_hashed(hash, key, loc)
        };
        // The record is on disk; an index failure (an I/O error confirming a key) would leave
        // memory behind the disk, so no further writes are accepted.
        let old = old.inspect_err(|e| self.stop(e))?;
        let freed = old.map_or(0, |o| o.rec_len as u64);
        let added = if tombstone { 0 } else { loc.rec_len as u64 };
        // Writers are serialized, so a load-modify-store cannot race another writer.
        let live = self.live_bytes.load(Ordering::Relaxed);
        self.live_bytes
            .store((live + added).saturating_sub(freed), Ordering::Relaxed);
        Ok(())
    }
}
