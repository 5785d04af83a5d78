//! The write path: a put or a remove appends one record to the active file (rotating it
//! when full), publishes it in the key directory, and with `SyncMode::Always` waits for group
//! commit to make it durable.

use std::sync::atomic::Ordering;

use super::state::Engine;
use crate::error::{Error, Result};
use crate::filename;
use crate::keydir::Location;
use crate::options::{SyncMode, MAX_KEY_LEN, MAX_VALUE_LEN};
use crate::record;
use crate::util::sync::lock;

pub(super) fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidEmptyKey);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::TooLarge {
            what: "key",
            len: key.len(),
            max: MAX_KEY_LEN,
        });
    }
    Ok(())
}

pub(super) fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::TooLarge {
            what: "value",
            len: value.len(),
            max: MAX_VALUE_LEN,
        });
    }
    Ok(())
}

impl Engine {
    pub(crate) fn write(&self, key: &[u8], value: &[u8], tombstone: bool) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        // The slot is a cache (and TLB) miss; it loads while the record is written.
        let hash = self.keydir.prefetch(key);
        let arrival = (self.opts.sync == SyncMode::Always).then(|| self.commit.arrive());
        let mut w = lock(self.writer()?);
        self.check_running()?;
        if tombstone && self.keydir.get(key)?.is_none() {
            return Err(Error::KeyNotFound);
        }
        let len = record::record_len(key.len(), value.len());
        // Room for the record and, after it, the seal that closes the file.
        let fits = w
            .active
            .as_ref()
            .is_some_and(|a| a.end + len + record::SEAL_LEN <= a.capacity);
        if !fits {
            self.rotate(&mut w, len)?;
        }
        let seq = w.next_seq;
        let now = filename::coarse_now_millis();
        let active = w.active.as_mut().expect("rotate leaves an active file");
        let offset = active.end;
        if let Err(e) = active
            .file
            .append_record(offset, seq, now, tombstone, key, value)
        {
            // Never leave a partial record in front of later good ones.
            if let Err(te) = active
                .file
                .truncate(offset, "truncate after a failed write")
            {
                self.stop(&te);
            }
            return Err(e);
        }
        active.end += len;
        let ask_next = active.end >= active.prepare_at;
        let loc = Location {
            file: active.no,
            offset: offset as u32,
            rec_len: len as u32,
        };
        w.next_seq += 1;
        if ask_next {
            self.prepare_next(&mut w);
        }
        // Published now, before the `fdatasync` of `SyncMode::Always`, so a put whose sync
        // fails has been visible (as `put` documents). Publishing after the sync would not
        // make "nothing written" true: a failed fdatasync does not say whether the record
        // reached the disk, so a reopen may find it whatever readers were shown. And it would
        // move publication to the sync's leader, which would have to publish each batch in
        // sequence order (two writers of one key must never leave the older record
        // published) while a remove's check above, the live-byte count and a compaction's
        // sealing all saw a directory behind the log.
        let old = if tombstone {
            self.keydir.remove_hashed(hash, key)
        } else {
            self.keydir.insert_hashed(hash, key, loc)
        };
        // The record is on disk; an index failure (an I/O error confirming a key) would leave
        // memory behind the disk, so no further writes are accepted.
        let old = old.inspect_err(|e| self.stop(e))?;
        let freed = old.map_or(0, |o| o.rec_len as u64);
        let added = if tombstone { 0 } else { len };
        // Writers are serialized, so a load-modify-store cannot race another writer.
        let live = self.live_bytes.load(Ordering::Relaxed);
        self.live_bytes
            .store((live + added).saturating_sub(freed), Ordering::Relaxed);
        drop(arrival);
        drop(w);
        if self.opts.sync == SyncMode::Always {
            self.wait_durable(seq)?;
        }
        Ok(())
    }
}
