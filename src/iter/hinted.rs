//! The keys a sealed file contributes to a scan, from its sorted (version 2) hint: a binary
//! search to the scan's first key, then the entries in order up to its end, so a narrow scan
//! reads a few entries of each file instead of every key of the store.
//!
//! A hint lists the newest record of each key in its file, tombstones included. A put there
//! makes the key a candidate, whether or not that record is still the key's live one: the
//! iterator asks the key directory when it reaches the key (as it does for the value), and
//! skips a key that is absent then. Checking each candidate here instead would cost a
//! lookup per key of the range before the first is returned. A tombstone adds nothing: if
//! the key is live, its live record is in a newer file, whose own run or records name it. A
//! key live all along is thus in the run of whichever listed file held it when the files were
//! listed, even if a compaction has moved it since. A put whose expiry (which the hint
//! entry carries) has passed adds nothing either, for the same reason.

use super::options::ScanOptions;
use crate::datafile::hint_file::read_whole;
use crate::datafile::DataFile;
use crate::engine::Engine;
use crate::error::Result;
use crate::filename::{self, FileKind};
use crate::hint::{self, SortedHint};

/// Pushes the keys of `file` that `scan` covers and whose newest record there is a put, in
/// order, from its sorted hint.
/// `Ok(false)` when the file has no usable sorted hint (missing, of version 1, too large,
/// unreadable or failing a check): the caller then reads the file's keys back instead.
pub(super) fn keys_from_hint(
    shared: &Engine,
    file: &DataFile,
    scan: &ScanOptions,
    push: &mut impl FnMut(&[u8]),
) -> Result<bool> {
    let data_len = match file.file.as_bytes() {
        Some(b) => b.len() as u64,
        None => file.len()?,
    };
    let path = filename::path(&shared.dir, file.id(), FileKind::Hint);
    // A hint is a shortcut: any failure to read it falls back to the data file.
    let Ok(Some(bytes)) = read_whole(shared.vfs(), &path, hint::max_len(data_len)) else {
        return Ok(false);
    };
    let Some(sorted) = SortedHint::parse(&bytes, file.id(), data_len) else {
        return Ok(false);
    };
    let now = shared.now();
    for e in sorted.seek(scan.start()) {
        if scan.past_end(e.key) {
            break;
        }
        // An expired put is the newest record of its key in this file: if the key is live,
        // its live record is newer, in a file whose own run names it.
        if !e.tombstone && !crate::record::is_expired(e.expiry, now) && scan.covers(e.key) {
            push(e.key);
        }
    }
    Ok(true)
}
