//! Figures about a store (`Bitask::stats`).

use std::sync::atomic::Ordering;

use super::state::Engine;
use crate::datafile::FILE_HEADER_LEN;
use crate::record;
use crate::util::sync::lock;

/// Figures about a store, from `Bitask::stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live keys.
    pub key_count: u64,
    /// Bytes of the records that hold live values.
    pub live_bytes: u64,
    /// Bytes of records that are overwritten, deleted or tombstones (reclaimed by `compact`).
    pub dead_bytes: u64,
    /// Data files (sealed and active).
    pub data_files: u64,
    /// Bytes of data and hint files on disk (the active file counts its reserved size).
    pub disk_bytes: u64,
    /// Bytes of torn records cut from the end of the active file when the store was opened.
    pub torn_bytes: u64,
}

impl Engine {
    pub(crate) fn stats(&self) -> Stats {
        // Keys past their expiry count as absent, their bytes as dead, as of now. Their
        // expiries are read from the records' headers; a read that fails leaves them in.
        self.stats_with(self.expired_totals().unwrap_or((0, 0)))
    }

    /// `stats` with the keys past their expiry counted as live: no record is read, so the
    /// merge thread can look at it every tick whatever the number of expiring keys.
    pub(crate) fn stats_without_expiry(&self) -> Stats {
        self.stats_with((0, 0))
    }

    fn stats_with(&self, (expired_keys, expired_bytes): (u64, u64)) -> Stats {
        let live = self
            .live_bytes
            .load(Ordering::Relaxed)
            .saturating_sub(expired_bytes);
        let active_end = self
            .writer
            .as_ref()
            .and_then(|w| lock(w).active.as_ref().map(|a| (a.file.id(), a.end)));
        let files = lock(&self.files);
        let mut records = 0u64;
        let mut disk = 0u64;
        for e in files.by_id.values() {
            let len = e.file.len().unwrap_or(0);
            // A sealed file's seal is overhead, like its header: neither live nor dead.
            let end = match active_end {
                Some((id, end)) if id == e.file.id() => end,
                _ if e.active => e.scanned_to,
                _ => len.saturating_sub(record::SEAL_LEN),
            };
            records += end.saturating_sub(FILE_HEADER_LEN as u64);
            disk += len + e.hint_len;
        }
        Stats {
            key_count: (self.keydir.len() as u64).saturating_sub(expired_keys),
            live_bytes: live,
            dead_bytes: records.saturating_sub(live),
            data_files: files.by_id.len() as u64,
            disk_bytes: disk,
            torn_bytes: self.torn_bytes.load(Ordering::Relaxed),
        }
    }
}
