//! Checking a sealed file's hint file before it stands in for a scan of the data file.

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::loader::{out_of_order, record_offset, CheckedHint, SeqRange};
use crate::datafile::hint_file::read_whole;
use crate::datafile::hint_map::MappedHint;
use crate::datafile::{DataFile, Found, Scanner, FILE_HEADER_LEN};
use crate::error::{Error, Result};
use crate::filename::{self, FileKind};
use crate::hint::{self, SortedHint};
use crate::keydir::KeyDir;
use crate::record;
use crate::vfs::Vfs;

/// Checks a sealed file's hint and hashes its records for the key directory (independent of
/// other files: runs on any thread). `Ok(None)` when the hint is missing or fails a check
/// (the caller scans the data file instead); an error when the hint is intact and proves the
/// data file damaged.
pub(super) fn check_hint(
    vfs: &dyn Vfs,
    dir: &Path,
    file: &DataFile,
    keydir: &KeyDir,
) -> Result<Option<CheckedHint>> {
    let path = filename::path(dir, file.id(), FileKind::Hint);
    let data_len = sealed_len(file)?;
    if let Some(checked) = check_mapped(vfs, dir, file, data_len, keydir)? {
        return Ok(Some(checked));
    }
    let bytes = match read_whole(vfs, &path, hint::max_len(data_len)) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let bytes = &bytes[..];
    let checked = match hint::version(bytes) {
        Some(hint::HINT_VERSION) => SortedHint::parse(bytes, file.id(), data_len)
            .and_then(|h| sorted_batch(&h, file, keydir)),
        Some(1) => hint::parse_v1(bytes, file.id(), data_len)
            .map(|(count, entries)| v1_batch(count, entries, file, keydir)),
        _ => None,
    };
    let Some(mut checked) = checked else {
        // A sealed file cut at a record boundary scans clean: its intact hint is the
        // evidence that records are missing.
        if let Some(described) = hint::described_len(bytes, file.id()) {
            if described != data_len {
                return Err(Error::corruption(
                    file.path(),
                    described.min(data_len),
                    format!("data file is {data_len} bytes, its hint file says {described}"),
                ));
            }
        }
        return Ok(None);
    };
    check_ends_with_seal(file, data_len)?;
    checked.len = bytes.len() as u64;
    Ok(Some(checked))
}

/// A version 2 hint checked through a mapping, kept for ordered scans (`MappedHint`), so the
/// open copies nothing; `Ok(None)` when the hint is not one that maps and checks (missing,
/// of version 1, damaged, or past the mapping budget): `check_hint` then reads it, and tells
/// which.
fn check_mapped(
    vfs: &dyn Vfs,
    dir: &Path,
    file: &DataFile,
    data_len: u64,
    keydir: &KeyDir,
) -> Result<Option<CheckedHint>> {
    let Some(mapped) = MappedHint::open_mapped(vfs, dir, file, data_len) else {
        return Ok(None);
    };
    let Some(mut checked) = sorted_batch(&mapped.view(), file, keydir) else {
        return Ok(None);
    };
    check_ends_with_seal(file, data_len)?;
    checked.len = mapped.len() as u64;
    checked.mapped = Some(Arc::new(mapped));
    Ok(Some(checked))
}

/// The entries of a checked version 2 hint, ready to apply; `None` when one of them does
/// not fit the data file (the hint is then ignored, as a damaged one). Its sequence range
/// must start at or after the data file's seq base; against the files loaded before it,
/// `Loader::hint` checks it.
fn sorted_batch(h: &SortedHint<'_>, file: &DataFile, keydir: &KeyDir) -> Option<CheckedHint> {
    if !file.header.is_merge_output() && !h.is_empty() && h.min_seq() < file.header.seq_base {
        return None;
    }
    let mut batch = keydir.new_batch(h.len());
    // `parse` proved every record ends inside the data file; the key directory's own limits
    // on offsets are checked here, per entry, without naming the file unless one fails.
    let fits = |o: u64| (FILE_HEADER_LEN as u64..crate::keydir::MAX_OFFSET).contains(&o);
    for e in h.iter() {
        if !fits(e.offset) {
            return None;
        }
        let rec_len = record::record_len(e.key.len(), e.value_len as usize);
        let expires = e.expiry.is_some();
        batch.push_record(e.key, e.offset as u32, rec_len as u32, e.tombstone, expires);
    }
    let seqs = (!h.is_empty()).then(|| SeqRange {
        first: h.min_seq(),
        first_offset: FILE_HEADER_LEN as u64,
        last: h.max_seq(),
    });
    Some(CheckedHint {
        len: 0,
        batch,
        seqs,
        failure: None,
        sorted: true,
        mapped: None,
    })
}

/// The entries of a checked version 1 hint (file order), ready to apply. Their sequence
/// numbers must grow; the first one out of order is reported as a scan would report it.
fn v1_batch(
    count: u64,
    entries: hint::v1::EntryIter<'_>,
    file: &DataFile,
    keydir: &KeyDir,
) -> CheckedHint {
    let data_path = file.path();
    let mut batch = keydir.new_batch(count as usize);
    let mut seqs: Option<SeqRange> = None;
    let mut failure = None;
    for e in entries {
        let in_order = match &mut seqs {
            None => {
                seqs = Some(SeqRange {
                    first: e.seq,
                    first_offset: e.offset,
                    last: e.seq,
                });
                Ok(())
            }
            Some(r) if e.seq <= r.last => Err(out_of_order(&data_path, e.offset, e.seq, r.last)),
            Some(r) => {
                r.last = e.seq;
                Ok(())
            }
        };
        match in_order.and_then(|()| record_offset(e.offset, &data_path)) {
            Ok(offset) => {
                let rec_len = record::record_len(e.key.len(), e.value_len as usize);
                batch.push(e.key, offset, rec_len as u32, e.tombstone);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    CheckedHint {
        len: 0,
        batch,
        seqs,
        failure,
        sorted: false,
        mapped: None,
    }
}

/// A sealed file's length: the one its read-only mapping was made with (nothing changes a
/// sealed file while it is open), else from the file system.
pub(super) fn sealed_len(file: &DataFile) -> Result<u64> {
    match file.file.as_bytes() {
        Some(b) => Ok(b.len() as u64),
        None => file.len(),
    }
}

/// A sealed file loaded from its hint is not scanned, but its last bytes must still be its
/// seal: one read that catches a data file cut or replaced behind its hint's back.
pub(super) fn check_ends_with_seal(file: &DataFile, len: u64) -> Result<()> {
    let cut = |offset| {
        Error::corruption(
            file.path(),
            offset,
            "sealed file does not end with its seal record",
        )
    };
    let Some(at) = len.checked_sub(record::SEAL_LEN) else {
        return Err(cut(0));
    };
    if at < FILE_HEADER_LEN as u64 {
        return Err(cut(at));
    }
    // The scanner checks the header and the CRC, as for any record.
    let mut scanner = Scanner::new(&*file.file, at, len);
    match scanner.next_record() {
        Ok(Found::Record(r))
            if r.header.is_seal() && record::seal_matches(r.value, file.id(), at) =>
        {
            Ok(())
        }
        Ok(_) => Err(cut(at)),
        Err(e) => Err(Error::io("read", file.path(), e)),
    }
}
