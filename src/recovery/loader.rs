//! Applying records to the key directory in load order: from scans of data files and from
//! checked hint files.

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::datafile::committed::{BatchGate, Gate};
use crate::datafile::hint_map::MappedHint;
use crate::datafile::{DataFile, Found, Scanned, Scanner, FILE_HEADER_LEN};
use crate::error::{Error, Result};
use crate::keydir::{Batch, KeyDir, Location};
use crate::record;

/// After applying this many hint records (a megabyte or more of batches), the freed heap
/// memory is handed back to the kernel.
const TRIM_AFTER_RECORDS: usize = 64 * 1024;

pub(super) fn location(
    no: u32,
    offset: u64,
    rec_len: u64,
    expires: bool,
    path: &Path,
) -> Result<Location> {
    Ok(Location {
        file: no,
        offset: record_offset(offset, path)?,
        rec_len: rec_len as u32,
        expires,
    })
}

/// A record's offset as the key directory keeps it (data files stay within 2 GiB; no record
/// starts inside the file header, and offset 0 marks an empty slot).
pub(super) fn record_offset(offset: u64, path: &Path) -> Result<u32> {
    let reason = if offset >= crate::keydir::MAX_OFFSET {
        "record offset beyond 2 GiB"
    } else if offset < FILE_HEADER_LEN as u64 {
        "record offset inside the file header"
    } else {
        return Ok(offset as u32);
    };
    Err(Error::corruption(path, offset, reason))
}

/// Applies records to a key directory in load order. Load order is sequence order, so each
/// record is newer than every record applied before it and simply replaces (or, for a
/// tombstone, removes) the key's entry; a sequence number that does not grow means the
/// directory holds files that do not belong together, and is reported rather than guessed at.
pub struct Loader<'k> {
    keydir: &'k KeyDir,
    /// The largest sequence number applied so far.
    pub last_seq: u64,
    /// Records of hint files not yet applied, with their files' numbers: applied in bulk (see
    /// `KeyDir::apply_batches`) before any other file loads, which keeps the order.
    batches: Vec<(u32, Batch)>,
}

impl<'k> Loader<'k> {
    pub fn new(keydir: &'k KeyDir, last_seq: u64) -> Loader<'k> {
        Loader {
            keydir,
            last_seq,
            batches: Vec::new(),
        }
    }

    /// Applies the pending hint entries.
    pub fn flush(&mut self) -> Result<()> {
        if self.batches.is_empty() {
            return Ok(());
        }
        self.keydir.apply_batches(&self.batches)?;
        let records: usize = self.batches.iter().map(|(_, b)| b.len()).sum();
        self.batches = Vec::new();
        if records >= TRIM_AFTER_RECORDS {
            crate::util::sys::release_free_heap();
        }
        Ok(())
    }

    fn apply(
        &mut self,
        key: &[u8],
        no: u32,
        offset: u64,
        h: &record::Header,
        path: &Path,
    ) -> Result<()> {
        if h.seq <= self.last_seq {
            return Err(out_of_order(path, offset, h.seq, self.last_seq));
        }
        self.last_seq = h.seq;
        if h.is_tombstone() {
            self.keydir.remove(key)?;
        } else {
            let expires = h.expiry().is_some();
            self.keydir
                .insert(key, location(no, offset, h.record_len(), expires, path)?)?;
        }
        Ok(())
    }

    fn apply_scanned(&mut self, r: &Scanned<'_>, no: u32, path: &Path) -> Result<()> {
        self.apply(r.key, no, r.offset, &r.header, path)
    }

    /// Applies `r` as the batch rules say (`datafile::committed`): now, once its batch's
    /// commit is read, or never, when it is out of place. The seal applies nothing.
    fn apply_gated(
        &mut self,
        gate: &mut BatchGate,
        r: &Scanned<'_>,
        is_seal: bool,
        no: u32,
        path: &Path,
    ) -> Result<()> {
        match gate.admit(r) {
            Gate::Counts if is_seal => Ok(()),
            Gate::Counts => self.apply_scanned(r, no, path),
            Gate::Held => Ok(()),
            Gate::Committed(members) => members
                .iter()
                .try_for_each(|m| self.apply(&m.key, no, m.offset, &m.header, path)),
            Gate::Misplaced(reason) => Err(Error::corruption(path, r.offset, reason)),
        }
    }

    /// Scans a sealed file; every record must be whole and valid, and the last one must be
    /// the file's seal: without it the file was cut short, perhaps exactly between records.
    pub fn sealed(&mut self, file: &DataFile, no: u32) -> Result<()> {
        let path = file.path();
        let mut scanner = file.scan()?;
        let mut seal = SealCheck::default();
        let mut gate = BatchGate::new(file.header.is_merge_output());
        loop {
            let next = scanner
                .next_record()
                .map_err(|e| Error::io("read", &path, e))?;
            match next {
                Found::Record(r) => {
                    let is_seal = seal.admit(&r, file.id(), &path)?;
                    self.apply_gated(&mut gate, &r, is_seal, no, &path)?;
                }
                Found::End if seal.seen => return Ok(()),
                Found::End => {
                    let reason = "sealed file ends without its seal record: it was cut short";
                    return Err(Error::corruption(&path, scanner.position(), reason));
                }
                Found::Bad(bad) => return Err(Error::corruption(&path, bad.offset, bad.reason)),
            }
        }
    }

    /// Queues the records of a sealed file's hint that `check_hint` accepted; returns the
    /// hint file's length, or `None` when a version 2 hint's sequence range starts at or
    /// below a record already loaded: such a hint is not evidence, and the data file is
    /// scanned instead (the scan then tells whether its records really are out of order). A
    /// version 1 hint out of order is corruption, as before.
    pub(super) fn hint(
        &mut self,
        hint: CheckedHint,
        file: &DataFile,
        no: u32,
    ) -> Result<Option<u64>> {
        if let Some(seqs) = &hint.seqs {
            if seqs.first <= self.last_seq {
                if hint.sorted {
                    return Ok(None);
                }
                let path = file.path();
                return Err(out_of_order(
                    &path,
                    seqs.first_offset,
                    seqs.first,
                    self.last_seq,
                ));
            }
        }
        if let Some(e) = hint.failure {
            return Err(e);
        }
        if let Some(seqs) = hint.seqs {
            self.last_seq = seqs.last;
        }
        self.batches.push((no, hint.batch));
        Ok(Some(hint.len))
    }

    /// Scans `[start, end)` of an active file, applying records. With `strict`, a bad record
    /// followed by a valid one is corruption and a torn tail is measured; without (a reader
    /// following a live writer), the scan just stops at the first bad record, which may be a
    /// write in progress, or at the end of a file the writer has just cut. Either way a batch
    /// whose commit is not there is left out whole: the file counts as ending where it starts
    /// (a strict scan counts its bytes as torn).
    pub fn scan_active(
        &mut self,
        file: &DataFile,
        no: u32,
        start: u64,
        mut end: u64,
        strict: bool,
    ) -> Result<ActiveLoad> {
        let path = file.path();
        let io_err = |e| Error::io("read", &path, e);
        let mut scanner = Scanner::new(&*file.file, start, end);
        let mut seal = SealCheck::default();
        let mut gate = BatchGate::new(file.header.is_merge_output());
        loop {
            let next = match scanner.next_record() {
                Err(e) if !strict && e.kind() == io::ErrorKind::UnexpectedEof => {
                    // The writer cut the file to its records (sealing it) after its length
                    // was read, and a read reaching past the new end failed: scan on to the
                    // new end. Stopping here would skip this file's records while later
                    // files load, and the next refresh would meet them out of order.
                    let now = file.file.len().map_err(io_err)?;
                    if now < end {
                        end = now;
                        scanner = Scanner::new(&*file.file, scanner.position(), end);
                        continue;
                    }
                    return Ok(ActiveLoad {
                        end: gate.counted_end(scanner.position()),
                        torn_bytes: 0,
                        sealed: seal.seen,
                    });
                }
                other => other.map_err(io_err)?,
            };
            let stop = match next {
                Found::Record(r) => {
                    let is_seal = seal.admit(&r, file.id(), &path)?;
                    self.apply_gated(&mut gate, &r, is_seal, no, &path)?;
                    continue;
                }
                Found::End => {
                    let cut = gate.counted_end(scanner.position());
                    let torn = if strict && gate.holding() {
                        nonzero_tail(file, cut, end).map_err(io_err)?
                    } else {
                        0
                    };
                    return Ok(ActiveLoad {
                        end: cut,
                        torn_bytes: torn,
                        sealed: seal.seen,
                    });
                }
                Found::Bad(bad) => bad,
            };
            let cut = gate.counted_end(stop.offset);
            if !strict {
                return Ok(ActiveLoad {
                    end: cut,
                    torn_bytes: 0,
                    sealed: seal.seen,
                });
            }
            if scanner
                .valid_record_after(stop.offset, self.last_seq)
                .map_err(io_err)?
            {
                let reason = format!("{} followed by valid records", stop.reason);
                return Err(Error::corruption(&path, stop.offset, reason));
            }
            let torn = nonzero_tail(file, cut, end).map_err(io_err)?;
            return Ok(ActiveLoad {
                end: cut,
                torn_bytes: torn,
                sealed: seal.seen,
            });
        }
    }
}

/// The end of the valid records of a file another process writes, reading from `start`
/// (which must start a record) up to `len` bytes.
pub fn valid_end(file: &DataFile, start: u64, len: u64) -> Result<u64> {
    let mut scanner = Scanner::new(&*file.file, start, len);
    loop {
        match scanner.next_record() {
            Ok(Found::Record(_)) => {}
            Ok(Found::End) => return Ok(scanner.position()),
            Ok(Found::Bad(bad)) => return Ok(bad.offset),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(scanner.position()),
            Err(e) => return Err(Error::io("read", file.path(), e)),
        }
    }
}

/// A sealed file's hint file that passed every check, with its records ready to apply: they
/// stand in for a scan of the data file.
pub(super) struct CheckedHint {
    /// The hint file's length.
    pub(super) len: u64,
    pub(super) batch: Batch,
    /// `None` without records.
    pub(super) seqs: Option<SeqRange>,
    /// A record from which on the hint is unusable (out of order within the file, or
    /// impossible): reported by `Loader::hint` after the first record's order check, as a
    /// scan in load order would.
    pub(super) failure: Option<Error>,
    /// A version 2 hint (sorted, one entry per key): the file needs no new hint.
    pub(super) sorted: bool,
    /// The hint's mapping, for ordered scans (when it was checked through one).
    pub(super) mapped: Option<Arc<MappedHint>>,
}

/// The sequence numbers of a hint's records. They must grow within the file, and the first
/// must be greater than every record loaded before, which `Loader::hint` checks in load
/// order.
pub(super) struct SeqRange {
    pub(super) first: u64,
    pub(super) first_offset: u64,
    pub(super) last: u64,
}

pub(super) fn out_of_order(path: &Path, offset: u64, seq: u64, last_seq: u64) -> Error {
    Error::corruption(
        path,
        offset,
        format!("sequence number {seq} after {last_seq}: records out of order"),
    )
}

/// What scanning an active file found.
pub struct ActiveLoad {
    /// End of the last valid record.
    pub end: u64,
    /// Non-zero bytes after `end` (a torn record).
    pub torn_bytes: u64,
    /// The file ends with its seal: sealing it was interrupted after the seal was written.
    pub sealed: bool,
}

/// Tracks the seal while a file is scanned: it must name its file and offset, and no
/// record may follow it.
#[derive(Default)]
pub(super) struct SealCheck {
    pub(super) seen: bool,
}

impl SealCheck {
    /// True when `r` is the seal (which applies nothing); errors when it is out of place.
    fn admit(&mut self, r: &Scanned<'_>, file_id: u64, path: &Path) -> Result<bool> {
        if self.seen {
            return Err(Error::corruption(path, r.offset, "a record after the seal"));
        }
        if !r.header.is_seal() {
            return Ok(false);
        }
        if !record::seal_matches(r.value, file_id, r.offset) {
            let reason = "a seal record that belongs to another file or place";
            return Err(Error::corruption(path, r.offset, reason));
        }
        self.seen = true;
        Ok(true)
    }
}

/// Bytes from `from` to the last non-zero byte before `end` (0 when all are zero), read
/// through one buffer of `TAIL_CHUNK` bytes: after a crash the tail is the active file's
/// whole reserved space, up to `max_file_size` (2 GiB).
pub(super) fn nonzero_tail(file: &DataFile, from: u64, end: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; TAIL_CHUNK];
    let mut last = None;
    let mut at = from;
    while at < end {
        let n = (end - at).min(TAIL_CHUNK as u64) as usize;
        file.file.read_exact_at(at, &mut [&mut buf[..n]])?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b != 0) {
            last = Some(at + i as u64);
        }
        at += n as u64;
    }
    Ok(last.map_or(0, |l| l + 1 - from))
}

/// See `nonzero_tail`.
pub(super) const TAIL_CHUNK: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::Vfs;

    #[test]
    fn the_nonzero_tail_is_measured_through_a_fixed_buffer() {
        let vfs = crate::vfs::sim::SimVfs::new();
        vfs.create_dir_all(Path::new("/d")).unwrap();
        let header = crate::datafile::FileHeader {
            id: 1,
            ..Default::default()
        };
        let path = Path::new("/d/1.active.log");
        let f = DataFile::create(&vfs, path, header, None).unwrap();
        let chunk = TAIL_CHUNK as u64;
        let len = 3 * chunk + 100;
        f.file.set_len(len).unwrap();
        let from = FILE_HEADER_LEN as u64;
        assert_eq!(nonzero_tail(&f, from, len).unwrap(), 0);
        for at in [from, chunk - 1, chunk, 2 * chunk + 7, len - 1] {
            f.file.write_all_at(at, &[&[1]]).unwrap();
            assert_eq!(nonzero_tail(&f, from, len).unwrap(), at + 1 - from, "{at}");
        }
        assert_eq!(nonzero_tail(&f, from, chunk).unwrap(), chunk - from);
    }

    #[test]
    fn a_record_offset_the_key_directory_cannot_hold_is_corruption() {
        let path = Path::new("/db/7.log");
        let last = crate::keydir::MAX_OFFSET - 1;
        assert_eq!(record_offset(last, path).unwrap() as u64, last);
        let err = record_offset(last + 1, path).unwrap_err();
        assert!(
            matches!(err, Error::Corruption { offset, .. } if offset == last + 1),
            "{err}"
        );
        let first = FILE_HEADER_LEN as u64;
        assert_eq!(record_offset(first, path).unwrap() as u64, first);
        for inside in [0, first - 1] {
            let err = record_offset(inside, path).unwrap_err();
            assert!(err.to_string().contains("file header"), "{err}");
        }
    }
}
