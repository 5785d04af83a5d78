//! Reading every intact record of a data file, past damage: where the open stops at the
//! first bad record, this scan searches on for the next valid record header whose CRC
//! verifies and resumes there. `verify` and `salvage` read records through this one
//! function (`scan`), so a new record format needs teaching here only.
//!
//! Write batches stay whole (`datafile::committed`): a batch's members are records only once
//! their commit is read. Members whose commit is damaged, missing or does not match them are
//! damage, never records, so a repair keeps none of a broken batch; members that the file's
//! records end before the commit of are its tail, as a crash in the batch's write leaves.

use std::path::Path;

use crate::datafile::committed::{BatchGate, Gate};
use crate::datafile::{DataFile, Found, Scanned, Scanner};
use crate::error::{Error, Result};
use crate::record::{self, Header, HEADER_LEN};
use crate::vfs::VFile;

/// A record whose CRC verifies, as found in the file (the seal is not one of them).
#[derive(Clone, Copy, Debug)]
pub struct Intact {
    pub offset: u64,
    pub header: Header,
    /// CRC-32 of the key, to compare a hint entry's key without keeping the keys.
    pub key_crc: u32,
}

/// Bytes that hold no valid record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    pub offset: u64,
    pub len: u64,
    pub reason: String,
}

/// What a data file holds.
#[derive(Debug, Default)]
pub struct FileScan {
    /// The file's length in bytes.
    pub len: u64,
    /// Intact records that count, in file order, sequence numbers strictly increasing (but
    /// a batch's commit, which carries its last member's): members only with their commit.
    pub records: Vec<Intact>,
    /// Offset of the seal, when the file holds a valid one naming itself.
    pub seal: Option<u64>,
    /// Damaged ranges followed by an intact record, and records that break the rules (after
    /// the seal, a sequence number that does not increase, a seal naming another file).
    pub damage: Vec<Damage>,
    /// What follows the last intact record or seal when no valid record comes after it: a
    /// torn write or never-written (zero) space.
    pub tail: Option<Damage>,
    /// Bytes of `tail` that are not zero.
    pub tail_nonzero: u64,
    /// The sequence numbers (first, last) of each batch whose intact members are damage for
    /// want of their commit, or whose intact commit lacks a member: none of its operations
    /// may count, not even one rebuilt from elsewhere.
    pub broken_batches: Vec<(u64, u64)>,
}

/// Why intact members are damage: their batch is not whole.
const BROKEN_BATCH: &str =
    "a batch member without its commit (the commit or another member is damaged or missing)";

/// Scans data file `file` (id `id`) from its header to `end` (its length when `None`).
pub fn scan(file: &DataFile, id: u64, end: Option<u64>) -> Result<FileScan> {
    let len = match end {
        Some(e) => e,
        None => file.len()?,
    };
    let merged = file.header.is_merge_output();
    scan_range(&*file.file, &file.path(), id, len, merged)
}

/// `scan` of the first `len` bytes of `file` (at `path`), whatever its header holds: for a
/// file whose header is damaged. `merged`: the file is a compaction output, whose records all
/// count (batch members included) and which holds no commit.
pub fn scan_range(
    file: &dyn VFile,
    path: &Path,
    id: u64,
    len: u64,
    merged: bool,
) -> Result<FileScan> {
    let io_err = |e| Error::io("read", path, e);
    let mut out = FileScan {
        len,
        ..FileScan::default()
    };
    let start = crate::datafile::FILE_HEADER_LEN as u64;
    let mut scanner = Scanner::new(file, start, len.max(start));
    let mut last_seq = 0u64;
    let mut batch = Batch::new(merged);
    loop {
        let at = scanner.position();
        let found = scanner.next_record().map_err(io_err)?;
        let bad = match found {
            Found::End => {
                if let Some(first) = batch.held.first() {
                    // The records end inside a batch: a torn write, the batch included.
                    let at = first.offset;
                    out.tail_nonzero = nonzero(file, at, len).map_err(io_err)?;
                    out.tail = Some(Damage {
                        offset: at,
                        len: len - at,
                        reason: "the records end before a batch's commit".into(),
                    });
                }
                break;
            }
            Found::Record(r) => {
                let reason = classify(&r.header, r.value, r.offset, id, last_seq, out.seal);
                match reason {
                    None if r.header.is_seal() => {
                        batch.drop_held(&mut out, None);
                        out.seal = Some(r.offset);
                    }
                    None => {
                        if !r.header.is_commit() {
                            last_seq = r.header.seq;
                        }
                        batch.admit(&r, &mut out);
                    }
                    Some(reason) => out.damage.push(Damage {
                        offset: r.offset,
                        len: r.header.record_len(),
                        reason: reason.into(),
                    }),
                }
                continue;
            }
            Found::Bad(bad) => bad,
        };
        match next_valid(&mut scanner, at + 1, len, last_seq).map_err(io_err)? {
            Some(next) => {
                batch.drop_held(&mut out, None);
                out.damage.push(Damage {
                    offset: at,
                    len: next - at,
                    reason: bad.reason.into(),
                });
                scanner.seek(next);
            }
            None => {
                // A torn write, from the start of a batch it cut short.
                let from = batch.held.first().map_or(at, |m| m.offset);
                out.tail_nonzero = nonzero(file, from, len).map_err(io_err)?;
                out.tail = Some(Damage {
                    offset: from,
                    len: len - from,
                    reason: bad.reason.into(),
                });
                break;
            }
        }
    }
    out.damage.sort_by_key(|d| d.offset);
    Ok(out)
}

/// The batch rules applied to a scan that reads past damage: a `BatchGate`, and the intact
/// members it holds.
struct Batch {
    merged: bool,
    gate: BatchGate,
    held: Vec<Intact>,
}

impl Batch {
    fn new(merged: bool) -> Batch {
        Batch {
            merged,
            gate: BatchGate::new(merged),
            held: Vec::new(),
        }
    }

    /// Takes intact record `r` (not the seal) into `out`: as a record when it counts, held
    /// when it is a member waiting for its commit, as damage when it breaks a batch.
    fn admit(&mut self, r: &Scanned<'_>, out: &mut FileScan) {
        let intact = Intact {
            offset: r.offset,
            header: r.header,
            key_crc: crc32fast::hash(r.key),
        };
        match self.gate.admit(r) {
            Gate::Counts => out.records.push(intact),
            Gate::Held => self.held.push(intact),
            Gate::Committed(_) => {
                out.records.append(&mut self.held);
                out.records.push(intact);
            }
            Gate::Misplaced(reason) if r.header.is_commit() => {
                let range = crate::record::commit_range(r.value)
                    .filter(|(_, count)| *count > 0)
                    .map(|(first, count)| (first, first.saturating_add(count - 1)));
                self.drop_held(out, range);
                out.damage.push(Damage {
                    offset: r.offset,
                    len: r.header.record_len(),
                    reason: reason.into(),
                });
            }
            Gate::Misplaced(_) => {
                // A record after members whose commit never came (or a member out of
                // sequence): those members are a broken batch; the record starts afresh.
                self.drop_held(out, None);
                self.admit(r, out);
            }
        }
    }

    /// Makes the members held damage (a broken batch), `range` being the batch's sequence
    /// numbers as its commit gives them, when known.
    fn drop_held(&mut self, out: &mut FileScan, range: Option<(u64, u64)>) {
        let held = std::mem::take(&mut self.held);
        self.gate = BatchGate::new(self.merged);
        let seqs = held.first().zip(held.last());
        let seqs = seqs.map(|(a, b)| (a.header.seq, b.header.seq));
        let span = match (seqs, range) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (s, r) => s.or(r),
        };
        out.broken_batches.extend(span);
        for m in held {
            out.damage.push(Damage {
                offset: m.offset,
                len: m.header.record_len(),
                reason: BROKEN_BATCH.into(),
            });
        }
    }
}

/// Why an intact record cannot stand where it is, if it cannot.
fn classify(
    h: &Header,
    value: &[u8],
    offset: u64,
    id: u64,
    last_seq: u64,
    seal: Option<u64>,
) -> Option<&'static str> {
    if seal.is_some() {
        return Some("a record after the seal");
    }
    if h.is_seal() {
        return (!record::seal_matches(value, id, offset))
            .then_some("a seal naming another file or offset");
    }
    // A commit carries its last member's number (see `datafile::committed`).
    if h.is_commit() {
        return (h.seq < last_seq).then_some("sequence number does not increase");
    }
    (h.seq <= last_seq).then_some("sequence number does not increase")
}

/// The offset of the first record at or after `from` whose header is well formed, whose CRC
/// verifies and whose sequence number is above `min_seq`.
fn next_valid(
    scanner: &mut Scanner<'_>,
    from: u64,
    end: u64,
    min_seq: u64,
) -> std::io::Result<Option<u64>> {
    let mut off = from;
    while off + HEADER_LEN as u64 <= end {
        scanner.seek(off);
        if let Found::Record(r) = scanner.next_record()? {
            if r.header.seq > min_seq || r.header.is_seal() {
                return Ok(Some(off));
            }
        }
        off += 1;
    }
    Ok(None)
}

/// How many bytes of `from..end` are not zero.
fn nonzero(file: &dyn VFile, from: u64, end: u64) -> std::io::Result<u64> {
    let mut count = 0;
    let mut buf = vec![0u8; 1 << 16];
    let mut at = from;
    while at < end {
        let n = ((end - at) as usize).min(buf.len());
        file.read_exact_at(at, &mut [&mut buf[..n]])?;
        count += buf[..n].iter().filter(|&&b| b != 0).count() as u64;
        at += n as u64;
    }
    Ok(count)
}
