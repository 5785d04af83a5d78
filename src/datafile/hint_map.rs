//! A sealed file's sorted hint held open for ordered scans: mapped where the mapping budget
//! allows (no descriptor kept; the pages stay readable after the file is deleted), read into
//! memory otherwise. A scan then walks the hint's entries in place, as a sorted run of the
//! file's keys.

use std::path::Path;

use super::hint_file::read_whole;
use super::DataFile;
use crate::filename::{self, FileKind};
use crate::hint::{self, Layout, SortedHint};
use crate::vfs::{OpenMode, VFile, Vfs};

/// The bytes of a sorted hint whose layout has been checked, and which data file it is for.
pub struct MappedHint {
    bytes: HintBytes,
    layout: Layout,
    /// The first and the last key of its entries (`None` when it has none).
    key_range: Option<(Vec<u8>, Vec<u8>)>,
}

enum HintBytes {
    Mapped(Box<dyn VFile>),
    Read(Vec<u8>),
}

impl MappedHint {
    /// The sorted hint of sealed file `file` of `data_len` bytes, `None` when it has none a
    /// scan can use (missing, of version 1, unreadable, failing a check). `checked_before`:
    /// the hint passed every check already (at the open, or when this handle wrote it), so
    /// its layout alone is checked here; otherwise every entry is.
    pub fn open(
        vfs: &dyn Vfs,
        dir: &Path,
        file: &DataFile,
        data_len: u64,
        checked_before: bool,
    ) -> Option<MappedHint> {
        MappedHint::open_as(vfs, dir, file, data_len, checked_before, false)
    }

    /// `open`, `None` when the hint cannot be mapped (nothing is read then).
    pub fn open_mapped(
        vfs: &dyn Vfs,
        dir: &Path,
        file: &DataFile,
        data_len: u64,
    ) -> Option<MappedHint> {
        MappedHint::open_as(vfs, dir, file, data_len, false, true)
    }

    fn open_as(
        vfs: &dyn Vfs,
        dir: &Path,
        file: &DataFile,
        data_len: u64,
        checked_before: bool,
        mapped_only: bool,
    ) -> Option<MappedHint> {
        let path = filename::path(dir, file.id(), FileKind::Hint);
        let mapped = vfs.open(&path, OpenMode::ReadSealed).ok()?;
        let bytes = if mapped.as_bytes().is_some() {
            HintBytes::Mapped(mapped)
        } else if mapped_only {
            return None;
        } else {
            drop(mapped);
            // Past the mapping budget (or on a file system without mappings): a copy.
            HintBytes::Read(read_whole(vfs, &path, hint::max_len(data_len)).ok()??)
        };
        let layout = {
            let bytes = match &bytes {
                HintBytes::Mapped(f) => f.as_bytes()?,
                HintBytes::Read(b) => b,
            };
            let parsed = if checked_before {
                SortedHint::parse_checked_before(bytes, file.id(), data_len)
            } else {
                SortedHint::parse(bytes, file.id(), data_len)
            };
            parsed?.layout()
        };
        let mut hint = MappedHint {
            bytes,
            layout,
            key_range: None,
        };
        hint.key_range = hint.first_and_last();
        Some(hint)
    }

    fn first_and_last(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        let view = self.view();
        let first = view.iter().peek()?.key.to_vec();
        let last = view
            .cursor_at(view.len().checked_sub(1)?)
            .peek()?
            .key
            .to_vec();
        Some((first, last))
    }

    /// Mapped, rather than read into memory.
    pub fn is_mapped(&self) -> bool {
        matches!(self.bytes, HintBytes::Mapped(_))
    }

    /// The hint file's length.
    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    fn bytes(&self) -> &[u8] {
        match &self.bytes {
            HintBytes::Mapped(f) => f.as_bytes().unwrap_or_default(),
            HintBytes::Read(b) => b,
        }
    }

    /// The smallest and the largest key of its entries; `None` when it has none.
    pub fn key_range(&self) -> Option<(&[u8], &[u8])> {
        self.key_range
            .as_ref()
            .map(|(a, b)| (a.as_slice(), b.as_slice()))
    }

    /// The hint's entries: its layout was checked when it was opened, so this costs two
    /// slices.
    pub fn view(&self) -> SortedHint<'_> {
        SortedHint::with_layout(self.bytes(), self.layout)
            .expect("the layout was taken from these bytes")
    }
}
