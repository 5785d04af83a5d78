//! Hint files: for a sealed data file, the key directory entries of its records without the
//! values, so opening a store costs time in proportion to its keys, not its bytes, and ordered
//! scans can merge sorted runs instead of sorting the keys. A hint is a shortcut only: one
//! that fails any check is ignored and its data file scanned instead.
//!
//! Version 2 (`writer`, `sorted`), written for every sealed data file: the newest entry of
//! each key, sorted by key, with a sparse index. Version 1 (`v1`), entries in file order,
//! written by compaction in earlier versions: still read when opening, never written. Both
//! start with the same 24 bytes (`entry::PREFIX_LEN`) and end with a CRC-32 of everything
//! before it. See `docs/format.md`.

mod entry;
mod sorted;
pub mod v1;
mod writer;

pub use entry::{described_len, header_names, max_len, version, HintEntry, PREFIX_LEN};
// Cursor and INDEX_EVERY: for the tests (`testkit`) and the reverse scans to come.
#[cfg_attr(not(feature = "testkit"), allow(unused_imports))]
pub use sorted::{Cursor, Layout, SortedHint, INDEX_EVERY};
pub use v1::parse as parse_v1;
pub use writer::HintWriter;

/// The version written: sorted, one entry per key.
pub const HINT_VERSION: u32 = 2;

/// The entries of an intact hint file of either version, for the tools that check a hint
/// against its data file (verify, repair); `None` when it fails any check. `newest_per_key`
/// says what the entries cover: version 2 keeps only the newest record of each key, version
/// 1 lists every record.
pub struct AnyVersion<'a> {
    pub entries: Vec<HintEntry<'a>>,
    pub newest_per_key: bool,
}

/// Reads an intact hint of either version for data file `data_id` of `data_len` bytes.
pub fn entries_of_any_version(bytes: &[u8], data_id: u64, data_len: u64) -> Option<AnyVersion<'_>> {
    match version(bytes)? {
        HINT_VERSION => SortedHint::parse(bytes, data_id, data_len).map(|h| AnyVersion {
            entries: h.iter().collect(),
            newest_per_key: true,
        }),
        v1::VERSION => parse_v1(bytes, data_id, data_len).map(|(_, it)| AnyVersion {
            entries: it.collect(),
            newest_per_key: false,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
