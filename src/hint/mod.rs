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
pub use sorted::{Cursor, SortedHint, INDEX_EVERY};
pub use v1::parse as parse_v1;
pub use writer::HintWriter;

/// The version written: sorted, one entry per key.
pub const HINT_VERSION: u32 = 2;

#[cfg(test)]
mod tests;
