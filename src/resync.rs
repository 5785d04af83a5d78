//! Reading every intact record of a data file, past damage: where the open stops at the
//! first bad record, this scan searches on for the next valid record header whose CRC
//! verifies and resumes there. `verify` and `salvage` read records through this one
//! function (`scan`), so a new record format needs teaching here only.

use std::path::Path;

use crate::datafile::{DataFile, Found, Scanner};
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
    /// Intact records in file order, sequence numbers strictly increasing.
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
}

/// Scans data file `file` (id `id`) from its header to `end` (its length when `None`).
pub fn scan(file: &DataFile, id: u64, end: Option<u64>) -> Result<FileScan> {
    let len = match end {
        Some(e) => e,
        None => file.len()?,
    };
    scan_range(&*file.file, &file.path(), id, len)
}

/// `scan` of the first `len` bytes of `file` (at `path`), whatever its header holds: for a
/// file whose header is damaged.
pub fn scan_range(file: &dyn VFile, path: &Path, id: u64, len: u64) -> Result<FileScan> {
    let io_err = |e| Error::io("read", path, e);
    let mut out = FileScan {
        len,
        ..FileScan::default()
    };
    let start = crate::datafile::FILE_HEADER_LEN as u64;
    let mut scanner = Scanner::new(file, start, len.max(start));
    let mut last_seq = 0u64;
    loop {
        let at = scanner.position();
        let found = scanner.next_record().map_err(io_err)?;
        let bad = match found {
            Found::End => break,
            Found::Record(r) => {
                let reason = classify(&r.header, r.value, r.offset, id, last_seq, out.seal);
                match reason {
                    None if r.header.is_seal() => out.seal = Some(r.offset),
                    None => {
                        last_seq = r.header.seq;
                        out.records.push(Intact {
                            offset: r.offset,
                            header: r.header,
                            key_crc: crc32fast::hash(r.key),
                        });
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
                out.damage.push(Damage {
                    offset: at,
                    len: next - at,
                    reason: bad.reason.into(),
                });
                scanner.seek(next);
            }
            None => {
                out.tail_nonzero = nonzero(file, at, len).map_err(io_err)?;
                out.tail = Some(Damage {
                    offset: at,
                    len: len - at,
                    reason: bad.reason.into(),
                });
                break;
            }
        }
    }
    Ok(out)
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
