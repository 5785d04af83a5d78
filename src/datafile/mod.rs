//! Data files: a header, then records back to back. This module reads and writes one file;
//! which files exist and in what order they load is `recovery`'s business.
//!
//! File header (little-endian, 52 bytes), see `docs/format.md`:
//! ```text
//! 0   [u8; 8]  magic "BITASKDF"
//! 8   u32      format version: 1, or 2 for the outputs of a merge of a window (below)
//! 12  u32      store tag: the store's identity (`identity`), 0 in files written before
//!              stores had one
//! 16  u64      file id (the number in the file's name)
//! 24  u64      version 1: seq base, no record in the file has a smaller sequence number
//!              (0 in merge outputs); version 2: merge floor, the smallest id of the files
//!              the merge replaced, which were every file from it up to the merge base
//! 32  u64      merge base: 0 for files written by puts; for merge outputs, the largest id of
//!              the files the merge replaced
//! 40  u32      merge part (0-based) and
//! 44  u32      merge parts: how many outputs the merge published (0 for ordinary files)
//! 48  u32      crc32 of bytes 0..48
//! ```

pub mod committed;
pub(crate) mod hint_file;
pub(crate) mod hint_map;
pub mod key_run;
pub mod merges;
pub(crate) mod seal;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::record::{self, Header, HeaderError, HEADER_LEN};
use crate::util::sync::lock;
use crate::vfs::{OpenMode, Pages, VFile, Vfs};

pub const DATA_MAGIC: [u8; 8] = *b"BITASKDF";
pub const FORMAT_VERSION: u32 = 1;
/// The version of the outputs of a merge that left older files in place (a merge floor is
/// set): a reader that knows only version 1 would take every file up to the merge base for
/// an input, so it must refuse them.
pub const WINDOW_MERGE_VERSION: u32 = 2;
pub const FILE_HEADER_LEN: usize = 52;
/// Records up to this size are read and written through one stack buffer.
const SMALL_RECORD: usize = 256;

/// `len` zero bytes, or an `OutOfMemory` error where a failed allocation would abort the
/// process: the lengths these buffers get come from disk (up to a record's limit, or a file's
/// size), so running short of memory is an error the caller reports, not a crash.
pub(crate) fn zeroed(len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    resize_zeroed(&mut buf, len)?;
    Ok(buf)
}

/// Sets `buf`'s length to `len`, zero-filling any growth; see `zeroed`.
pub(crate) fn resize_zeroed(buf: &mut Vec<u8>, len: usize) -> std::io::Result<()> {
    if let Some(more) = len.checked_sub(buf.len()) {
        buf.try_reserve_exact(more)
            .map_err(|_| out_of_memory(len))?;
    }
    buf.resize(len, 0);
    Ok(())
}

/// The error for a buffer of `len` bytes that could not be allocated.
pub(crate) fn out_of_memory(len: usize) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::OutOfMemory,
        format!("Cannot allocate memory for a buffer of {len} bytes"),
    )
}

/// The decoded header of a data file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FileHeader {
    /// The tag of the store that wrote the file (see `identity`); 0 for files written
    /// before stores had one.
    pub store: u32,
    pub id: u64,
    pub seq_base: u64,
    pub merge_base: u64,
    /// For the outputs of a merge: the smallest id among its inputs when files older than
    /// them stayed, 0 when the inputs were every file up to the merge base.
    pub merge_floor: u64,
    pub merge_part: u32,
    pub merge_parts: u32,
}

impl FileHeader {
    pub fn encode(&self) -> [u8; FILE_HEADER_LEN] {
        let mut b = [0u8; FILE_HEADER_LEN];
        b[0..8].copy_from_slice(&DATA_MAGIC);
        let windowed = self.merge_floor > 0;
        let (version, at_24) = if windowed {
            (WINDOW_MERGE_VERSION, self.merge_floor)
        } else {
            (FORMAT_VERSION, self.seq_base)
        };
        b[8..12].copy_from_slice(&version.to_le_bytes());
        b[12..16].copy_from_slice(&self.store.to_le_bytes());
        b[16..24].copy_from_slice(&self.id.to_le_bytes());
        b[24..32].copy_from_slice(&at_24.to_le_bytes());
        b[32..40].copy_from_slice(&self.merge_base.to_le_bytes());
        b[40..44].copy_from_slice(&self.merge_part.to_le_bytes());
        b[44..48].copy_from_slice(&self.merge_parts.to_le_bytes());
        let crc = crc32fast::hash(&b[0..48]);
        b[48..52].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes a header read from `path`; a checksum mismatch is `Corruption` (checked first:
    /// a damaged or never-written header is not a foreign file), an unknown magic or version
    /// `Incompatible`.
    pub fn decode(b: &[u8; FILE_HEADER_LEN], path: &Path) -> Result<FileHeader> {
        let crc = u32::from_le_bytes(b[48..52].try_into().unwrap());
        if crc != crc32fast::hash(&b[0..48]) {
            return Err(Error::corruption(
                path,
                0,
                "data file header checksum mismatch",
            ));
        }
        if b[0..8] != DATA_MAGIC {
            return Err(Error::Incompatible {
                path: path.into(),
                reason: "not a bitask data file (bad magic)".into(),
            });
        }
        let version = u32::from_le_bytes(b[8..12].try_into().unwrap());
        if version != FORMAT_VERSION && version != WINDOW_MERGE_VERSION {
            return Err(Error::Incompatible {
                path: path.into(),
                reason: format!(
                    "format version {version}; this library reads versions {FORMAT_VERSION} \
                     and {WINDOW_MERGE_VERSION}"
                ),
            });
        }
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        let windowed = version == WINDOW_MERGE_VERSION;
        let h = FileHeader {
            store: u32_at(12),
            id: u64_at(16),
            seq_base: if windowed { 0 } else { u64_at(24) },
            merge_base: u64_at(32),
            merge_floor: if windowed { u64_at(24) } else { 0 },
            merge_part: u32_at(40),
            merge_parts: u32_at(44),
        };
        if windowed && (!h.is_merge_output() || h.merge_floor == 0 || h.merge_floor > h.merge_base)
        {
            return Err(Error::corruption(
                path,
                24,
                "a merge floor in a file that is no merge output, or above its merge base",
            ));
        }
        Ok(h)
    }

    pub fn is_merge_output(&self) -> bool {
        self.merge_parts > 0
    }
}

/// Space reserved for a new data file as it is created (see `VFile::reserve`).
#[derive(Clone, Copy, Debug)]
pub struct Reservation {
    pub len: u64,
    pub pages: Pages,
}

/// An open data file.
pub struct DataFile {
    pub header: FileHeader,
    pub file: Box<dyn VFile>,
    path: Mutex<PathBuf>,
}

impl DataFile {
    /// Creates `path` exclusively, reserves its space when asked, and writes `header` at its
    /// start (through the mapping the reservation made, so that even the first page has the
    /// size asked for). After a failure the file is removed again.
    pub fn create(
        vfs: &dyn Vfs,
        path: &Path,
        header: FileHeader,
        reserve: Option<Reservation>,
    ) -> Result<DataFile> {
        let file = vfs
            .open(path, OpenMode::CreateNew)
            .map_err(|e| Error::io("create", path, e))?;
        let setup = || -> Result<()> {
            if let Some(r) = reserve {
                file.reserve(r.len, r.pages)
                    .map_err(|e| Error::io("reserve space for", path, e))?;
            }
            file.write_all_at(0, &[&header.encode()])
                .map_err(|e| Error::io("write header of", path, e))
        };
        if let Err(e) = setup() {
            drop(file);
            let _ = vfs.remove_file(path);
            return Err(e);
        }
        Ok(DataFile {
            header,
            file,
            path: Mutex::new(path.into()),
        })
    }

    /// Opens an existing data file and checks its header against the id in its name.
    pub fn open(vfs: &dyn Vfs, path: &Path, mode: OpenMode, id: u64) -> Result<DataFile> {
        let file = vfs
            .open(path, mode)
            .map_err(|e| Error::io("open", path, e))?;
        let mut b = [0u8; FILE_HEADER_LEN];
        file.read_exact_at(0, &mut [&mut b]).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::corruption(path, 0, "file shorter than its header")
            } else {
                Error::io("read header of", path, e)
            }
        })?;
        let header = FileHeader::decode(&b, path)?;
        if header.id != id {
            return Err(Error::corruption(
                path,
                16,
                format!(
                    "header names file id {} but the file is named {id}",
                    header.id
                ),
            ));
        }
        Ok(DataFile {
            header,
            file,
            path: Mutex::new(path.into()),
        })
    }

    /// The file's length (`stat`).
    // A fallible system call, not a container size: an `is_empty` would mislead.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> Result<u64> {
        self.file
            .len()
            .map_err(|e| Error::io("stat", self.path(), e))
    }

    /// Makes the file's data durable (`fdatasync`).
    pub fn sync(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io("sync", self.path(), e))
    }

    /// Cuts (or zero-extends) the file to `len` bytes; `op` names the step in the message.
    pub fn truncate(&self, len: u64, op: &'static str) -> Result<()> {
        self.file
            .set_len(len)
            .map_err(|e| Error::io(op, self.path(), e))
    }

    /// Writes `bytes` at `offset`; `op` names the step in the message.
    pub fn write_at(&self, offset: u64, bytes: &[u8], op: &'static str) -> Result<()> {
        self.file
            .write_all_at(offset, &[bytes])
            .map_err(|e| Error::io(op, self.path(), e))
    }

    pub fn id(&self) -> u64 {
        self.header.id
    }

    /// The file's current path (it changes when an active file is sealed).
    pub fn path(&self) -> PathBuf {
        lock(&self.path).clone()
    }

    pub fn set_path(&self, path: PathBuf) {
        *lock(&self.path) = path;
    }

    /// Reads the value of the record at `offset`, which must be a live record of `key` with a
    /// value of `dest.len()` bytes, into `dest`: one positioned read, CRC verified.
    pub fn read_value(&self, offset: u64, key: &[u8], dest: &mut [u8]) -> Result<()> {
        if self.read_if_key(offset, key, dest)? {
            Ok(())
        } else {
            Err(Error::corruption(
                self.path(),
                offset,
                "the key directory points at a different record",
            ))
        }
    }

    /// Reads the record at `offset` whole (its value into `dest`, sized from the record's
    /// length) in one positioned read. `Ok(false)` when it is not a record of `key` (a hash
    /// collision in the key directory); otherwise its CRC must verify.
    pub fn read_if_key(&self, offset: u64, key: &[u8], dest: &mut [u8]) -> Result<bool> {
        let rec_len = HEADER_LEN + key.len() + dest.len();
        if rec_len <= SMALL_RECORD {
            // Small records are checked whole: one CRC call over contiguous bytes (much
            // cheaper than three short ones), then one copy out.
            return self.with_small_record(offset, rec_len, |rec| {
                let (header, rest) = rec.split_at(HEADER_LEN);
                let header: &[u8; HEADER_LEN] = header.try_into().unwrap();
                let (stored_key, value) = rest.split_at(key.len());
                if !self.check_record(offset, header, stored_key, key, value.len(), || {
                    record::verify_contiguous(rec)
                })? {
                    return Ok(false);
                }
                dest.copy_from_slice(value);
                Ok(true)
            });
        }
        let mut header = [0u8; HEADER_LEN];
        let mut stored_key = vec![0u8; key.len()];
        self.file
            .read_exact_at(offset, &mut [&mut header, &mut stored_key, dest])
            .map_err(|e| Error::io("read", self.path(), e))?;
        self.check_record(offset, &header, &stored_key, key, dest.len(), || {
            record::verify(&header, &stored_key, dest)
        })
    }

    /// `get_into` on a sealed, mapped file, where the record's lengths come from its header
    /// in place (the key directory's copy of them is not read). `None` when the file is not
    /// mapped; else `Ok(None)` when the record is another key's, or `Ok(Some(value_len))`
    /// after the CRC verified, with the value copied into `dest` when it fits.
    #[inline(always)] // its three-way result would otherwise go through memory
    pub fn read_in_place(
        &self,
        offset: u64,
        key: &[u8],
        dest: &mut [u8],
        same_hash: impl FnOnce() -> bool,
    ) -> Option<Result<Option<usize>>> {
        let bytes = self.file.as_bytes()?;
        Some(self.read_from(bytes, offset, key, dest, same_hash))
    }

    #[inline(always)]
    fn read_from(
        &self,
        bytes: &[u8],
        offset: u64,
        key: &[u8],
        dest: &mut [u8],
        same_hash: impl FnOnce() -> bool,
    ) -> Result<Option<usize>> {
        let past_end =
            || Error::corruption(self.path(), offset, "record runs past the end of the file");
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        // The record's length is in its header: start loading the lines a small record
        // spans now, rather than after the header arrives.
        for line in [64, 128] {
            if let Some(b) = bytes.get(start.saturating_add(line)..) {
                crate::util::sys::prefetch_line(b.as_ptr());
            }
        }
        let header: &[u8; HEADER_LEN] = bytes
            .get(start..)
            .and_then(|b| b.get(..HEADER_LEN))
            .and_then(|h| h.try_into().ok())
            .ok_or_else(past_end)?;
        let (key_len, value_len) = record::lengths(header);
        if key_len > crate::options::MAX_KEY_LEN || value_len > crate::options::MAX_VALUE_LEN {
            // Before any CRC: damaged lengths must not make a get checksum gigabytes.
            return Err(Error::corruption(
                self.path(),
                offset,
                "malformed record header",
            ));
        }
        let rec = bytes
            .get(start..)
            .and_then(|b| b.get(..HEADER_LEN + key_len + value_len))
            .ok_or_else(past_end)?;
        let crc_error = || Error::corruption(self.path(), offset, "record checksum mismatch");
        let (stored_key, value) = rec[HEADER_LEN..].split_at(key_len);
        if stored_key != key {
            // Another key's record under the same tag, unless its slot carries `key`'s whole
            // hash: then damaged lengths or key bytes may be hiding `key`'s own record, and
            // only the CRC can tell.
            if !same_hash() || record::verify_contiguous(rec) {
                return Ok(None);
            }
            return Err(crc_error());
        }
        if !record::verify_contiguous(rec) {
            return Err(crc_error());
        }
        // Whole and of `key`, so the only thing left to tell is the kind: the key directory
        // points only at values (a seal has no key; a tombstone has no entry).
        if !record::is_value(header) {
            return Err(Error::corruption(
                self.path(),
                offset,
                "the key directory points at a different record",
            ));
        }
        if let Some(dest) = dest.get_mut(..value_len) {
            dest.copy_from_slice(value);
        }
        Ok(Some(value_len))
    }

    /// Runs `f` on the `len` bytes at `offset` (at most `SMALL_RECORD`): in place when the
    /// file is sealed and mapped (nothing writes it any more), else copied out in one read.
    fn with_small_record<R>(
        &self,
        offset: u64,
        len: usize,
        f: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<R> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let in_place = self
            .file
            .as_bytes()
            .and_then(|b| b.get(start..start.checked_add(len)?));
        if let Some(rec) = in_place {
            return f(rec);
        }
        let mut buf = [0u8; SMALL_RECORD];
        let rec = &mut buf[..len];
        self.file
            .read_exact_at(offset, &mut [&mut rec[..]])
            .map_err(|e| Error::io("read", self.path(), e))?;
        f(rec)
    }

    /// Checks a record read for `key`: `Ok(false)` when it belongs to another key, an error
    /// when its CRC (checked by `crc_ok`) or its header is wrong.
    fn check_record(
        &self,
        offset: u64,
        header: &[u8; HEADER_LEN],
        stored_key: &[u8],
        key: &[u8],
        value_len: usize,
        crc_ok: impl FnOnce() -> bool,
    ) -> Result<bool> {
        let (key_len, _) = record::lengths(header);
        if key_len != key.len() || stored_key != key {
            return Ok(false);
        }
        if !crc_ok() {
            return Err(Error::corruption(
                self.path(),
                offset,
                "record checksum mismatch",
            ));
        }
        let h = Header::decode(header)
            .map_err(|_| Error::corruption(self.path(), offset, "malformed record header"))?;
        if h.is_tombstone() || h.value_len as usize != value_len {
            return Err(Error::corruption(
                self.path(),
                offset,
                "the key directory points at a different record",
            ));
        }
        Ok(true)
    }

    /// The expiry the header of the record at `offset` carries (see `record::FLAG_EXPIRES`);
    /// reads the header only: for a record the key directory points at, whose whole record
    /// a read of its value checks.
    pub fn expiry_at(&self, offset: u64) -> Result<Option<u64>> {
        let mut header = [0u8; HEADER_LEN];
        self.file
            .read_exact_at(offset, &mut [&mut header])
            .map_err(|e| Error::io("read", self.path(), e))?;
        Ok(record::expiry_of(&header))
    }

    /// True when the record at `offset` is one of `key` (reads its header and key only).
    /// A record that is not `key`'s is checked whole: the key directory found it by `key`'s
    /// hash, so it is either another key with the same hash or a damaged record, and a
    /// damaged one must be reported, not taken for "absent".
    pub fn key_matches(&self, offset: u64, key: &[u8]) -> Result<bool> {
        let mut header = [0u8; HEADER_LEN];
        self.file
            .read_exact_at(offset, &mut [&mut header])
            .map_err(|e| Error::io("read", self.path(), e))?;
        let (key_len, _) = record::lengths(&header);
        if key_len != key.len() {
            self.check_whole_record(offset, &header)?;
            return Ok(false);
        }
        let mut small = [0u8; 64];
        let mut large = Vec::new();
        let stored_key: &mut [u8] = if key.len() <= small.len() {
            &mut small[..key.len()]
        } else {
            large.resize(key.len(), 0);
            &mut large
        };
        self.file
            .read_exact_at(offset + HEADER_LEN as u64, &mut [stored_key])
            .map_err(|e| Error::io("read", self.path(), e))?;
        if stored_key != key {
            self.check_whole_record(offset, &header)?;
            return Ok(false);
        }
        Ok(true)
    }

    /// `Corruption` unless the record at `offset`, whose header is `header`, is whole and
    /// carries the right CRC.
    fn check_whole_record(&self, offset: u64, header: &[u8; HEADER_LEN]) -> Result<()> {
        self.read_whole_record(offset, header).map(drop)
    }

    /// The record at `offset` whose header is `header`, whole, after its CRC is checked.
    fn read_whole_record(
        &self,
        offset: u64,
        header: &[u8; HEADER_LEN],
    ) -> Result<(Header, Vec<u8>)> {
        let bad = |reason: &str| Error::corruption(self.path(), offset, reason);
        let h = Header::decode(header).map_err(|_| bad("malformed record header"))?;
        let mut rec =
            zeroed(h.record_len() as usize).map_err(|e| Error::io("read", self.path(), e))?;
        match self.file.read_exact_at(offset, &mut [&mut rec[..]]) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(bad("record runs past the end of the file"))
            }
            Err(e) => return Err(Error::io("read", self.path(), e)),
        }
        if !record::verify_contiguous(&rec) {
            return Err(bad("record checksum mismatch"));
        }
        Ok((h, rec))
    }

    /// The key of the record at `offset`, into `key`, read with the whole record and its CRC
    /// checked: for a caller that trusts the key without otherwise reading the record.
    pub fn read_checked_key(&self, offset: u64, key: &mut Vec<u8>) -> Result<()> {
        let mut header = [0u8; HEADER_LEN];
        self.file
            .read_exact_at(offset, &mut [&mut header])
            .map_err(|e| Error::io("read", self.path(), e))?;
        let (h, rec) = self.read_whole_record(offset, &header)?;
        key.clear();
        key.extend_from_slice(&rec[HEADER_LEN..HEADER_LEN + h.key_len as usize]);
        Ok(())
    }

    /// Appends a record of `key` and `value` at `offset` with the flags byte given
    /// (`record::flags`, `record::expiring_flags`). A small record is assembled in one
    /// buffer, so its CRC is one call over contiguous bytes and the append one copy.
    pub fn append_flagged(
        &self,
        offset: u64,
        seq: u64,
        timestamp: u64,
        flags: u8,
        key: &[u8],
        value: &[u8],
    ) -> Result<()> {
        let rec_len = HEADER_LEN + key.len() + value.len();
        if rec_len <= SMALL_RECORD {
            let mut buf = [0u8; SMALL_RECORD];
            record::encode_flagged(&mut buf[..rec_len], seq, timestamp, flags, key, value);
            return self
                .file
                .write_all_at(offset, &[&buf[..rec_len]])
                .map_err(|e| Error::io("append to", self.path(), e));
        }
        let header = record::encode_flagged_header(seq, timestamp, flags, key, value);
        self.write_record(offset, &header, key, value)
    }

    /// Starts loading the first lines of the record at `offset` into the cache, when the
    /// file is mapped (a multi-get overlaps the misses of many records this way).
    #[inline]
    pub fn prefetch_record(&self, offset: u64) {
        let Some(bytes) = self.file.as_bytes() else {
            return;
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for line in [0, 64] {
            if let Some(b) = bytes.get(start.saturating_add(line)..) {
                crate::util::sys::prefetch_line(b.as_ptr());
            }
        }
    }

    /// Appends a whole record at `offset`.
    pub fn write_record(
        &self,
        offset: u64,
        header: &[u8; HEADER_LEN],
        key: &[u8],
        value: &[u8],
    ) -> Result<()> {
        self.file
            .write_all_at(offset, &[header, key, value])
            .map_err(|e| Error::io("append to", self.path(), e))
    }

    /// A scanner over the records from just after the header.
    pub fn scan(&self) -> Result<Scanner<'_>> {
        let len = self
            .file
            .len()
            .map_err(|e| Error::io("stat", self.path(), e))?;
        Ok(Scanner::new(&*self.file, FILE_HEADER_LEN as u64, len))
    }
}

/// One record found by a scan.
#[derive(Debug)]
pub struct Scanned<'a> {
    pub offset: u64,
    pub header: Header,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

/// What a scanner found at its position.
#[derive(Debug)]
pub enum Found<'a> {
    /// A whole record whose checksum verifies.
    Record(Scanned<'a>),
    /// The end of the range scanned.
    End,
    /// Bytes that are not a valid record: the scan cannot go on from here.
    Bad(BadRecord),
}

/// Where and why a scan met bytes that are not a valid record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRecord {
    pub offset: u64,
    /// The bytes where the record should start are all zero (never-written space).
    pub zeroed: bool,
    pub reason: &'static str,
}

/// Reads records in order, trusting no length: each header is range-checked against the limits
/// and the file's end, and each record's CRC verified, before the record is handed out.
pub struct Scanner<'f> {
    file: &'f dyn VFile,
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

/// A scan reads this much at a time. Its buffer grows past it only to hold one record whole,
/// which the header's limits bound (a 64 KiB key and a 256 MiB value), whatever the file's
/// size; a failed allocation is an `OutOfMemory` error.
const SCAN_CHUNK: usize = 1 << 20;

impl<'f> Scanner<'f> {
    pub fn new(file: &'f dyn VFile, start: u64, end: u64) -> Scanner<'f> {
        Scanner {
            file,
            pos: start,
            end,
            buf: Vec::new(),
            buf_start: start,
        }
    }

    /// Offset of the next record (after the last one handed out).
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Continues at `offset` (which must start a record); the read buffer is kept, so seeking
    /// forward through a file reads it sequentially.
    pub fn seek(&mut self, offset: u64) {
        self.pos = offset;
    }

    /// Makes `[off, off+len)` available in the buffer; the caller has checked it is before `end`.
    fn load(&mut self, off: u64, len: usize) -> std::io::Result<&[u8]> {
        let have =
            off >= self.buf_start && off + len as u64 <= self.buf_start + self.buf.len() as u64;
        if !have {
            let want = (len.max(SCAN_CHUNK) as u64).min(self.end - off) as usize;
            resize_zeroed(&mut self.buf, want)?;
            if let Err(e) = self.file.read_exact_at(off, &mut [&mut self.buf[..]]) {
                // Another process cut the file (a writer sealing its active file drops the
                // reserved tail) after we measured it: read what is there now.
                let now = self.file.len()?;
                if e.kind() != std::io::ErrorKind::UnexpectedEof || now >= self.end {
                    return Err(e);
                }
                self.end = now;
                if off + len as u64 > now {
                    return Err(e);
                }
                // Never more than asked for: the file's new length may be far beyond `off`.
                self.buf.truncate((now - off) as usize);
                self.file.read_exact_at(off, &mut [&mut self.buf[..]])?;
            }
            self.buf_start = off;
        }
        let at = (off - self.buf_start) as usize;
        Ok(&self.buf[at..at + len])
    }

    /// The record at the position, the end, or bytes that are not a valid record (an I/O
    /// error only when a read fails).
    #[allow(clippy::type_complexity)]
    pub fn next_record(&mut self) -> std::io::Result<Found<'_>> {
        let off = self.pos;
        if off >= self.end {
            return Ok(Found::End);
        }
        let stop = |zeroed, reason| {
            Ok(Found::Bad(BadRecord {
                offset: off,
                zeroed,
                reason,
            }))
        };
        if self.end - off < HEADER_LEN as u64 {
            let tail = self.load(off, (self.end - off) as usize)?;
            let zeroed = tail.iter().all(|&b| b == 0);
            return stop(zeroed, "partial record header");
        }
        let hbytes: [u8; HEADER_LEN] = self.load(off, HEADER_LEN)?.try_into().unwrap();
        let header = match Header::decode(&hbytes) {
            Ok(h) => h,
            Err(HeaderError::Zeroed) => return stop(true, "zeroed record header"),
            Err(HeaderError::Malformed) => return stop(false, "malformed record header"),
        };
        let total = header.record_len();
        if total > self.end - off {
            return stop(false, "record runs past the end of the file");
        }
        let rec = self.load(off, total as usize)?;
        let key_end = HEADER_LEN + header.key_len as usize;
        if !record::verify(&hbytes, &rec[HEADER_LEN..key_end], &rec[key_end..]) {
            return stop(false, "record checksum mismatch");
        }
        self.pos = off + total;
        let at = (off - self.buf_start) as usize;
        let rec = &self.buf[at..at + total as usize];
        Ok(Found::Record(Scanned {
            offset: off,
            header,
            key: &rec[HEADER_LEN..key_end],
            value: &rec[key_end..],
        }))
    }

    /// After a stop at `from`: is there any valid record with a sequence number above
    /// `min_seq` later in the file? If so the bad bytes are corruption in the middle of the
    /// log, not a torn tail. Costs one quick header check per byte; runs only after a stop.
    pub fn valid_record_after(&mut self, from: u64, min_seq: u64) -> std::io::Result<bool> {
        let mut off = from + 1;
        while off + HEADER_LEN as u64 <= self.end {
            let hbytes: [u8; HEADER_LEN] = self.load(off, HEADER_LEN)?.try_into().unwrap();
            let decoded = Header::decode(&hbytes);
            if decoded == Err(HeaderError::Zeroed) {
                // No header can start where its 29 bytes would all be zero: jump to the
                // first position whose header window reaches the next non-zero byte.
                match self.next_nonzero(off + HEADER_LEN as u64)? {
                    Some(p) => off = p + 1 - HEADER_LEN as u64,
                    None => return Ok(false),
                }
                continue;
            }
            if let Ok(h) = decoded {
                let total = h.record_len();
                if h.seq > min_seq && total <= self.end - off {
                    let rec = self.load(off, total as usize)?;
                    let key_end = HEADER_LEN + h.key_len as usize;
                    if record::verify(&hbytes, &rec[HEADER_LEN..key_end], &rec[key_end..]) {
                        return Ok(true);
                    }
                }
            }
            off += 1;
        }
        Ok(false)
    }
}

impl Scanner<'_> {
    /// The offset of the first non-zero byte at or after `from`, if any before the end.
    fn next_nonzero(&mut self, mut from: u64) -> std::io::Result<Option<u64>> {
        while from < self.end {
            let n = ((self.end - from) as usize).min(SCAN_CHUNK);
            let chunk = self.load(from, n)?;
            if let Some(i) = chunk.iter().position(|&b| b != 0) {
                return Ok(Some(from + i as u64));
            }
            from += n as u64;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::PosixVfs;

    #[test]
    fn an_in_place_read_takes_lengths_from_the_header_and_checks_kind_and_crc() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("5.log");
        let header = FileHeader {
            id: 5,
            ..Default::default()
        };
        let w = DataFile::create(&PosixVfs, &path, header, None).unwrap();
        let value_at = FILE_HEADER_LEN as u64;
        w.append_flagged(
            value_at,
            1,
            0,
            record::flags(false, false),
            b"key",
            b"value",
        )
        .unwrap();
        let tomb_at = value_at + record::record_len(3, 5);
        w.append_flagged(tomb_at, 2, 0, record::flags(true, false), b"gone", b"")
            .unwrap();
        let end = tomb_at + record::record_len(4, 0);
        assert!(
            w.read_in_place(value_at, b"key", &mut [0; 8], || true)
                .is_none(),
            "not mapped"
        );
        drop(w);
        let set_len = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        set_len.set_len(end).unwrap();
        let f = DataFile::open(&PosixVfs, &path, OpenMode::ReadSealed, 5).unwrap();
        let mut buf = [0u8; 8];
        // As the key directory would find them: every slot carrying the key's whole hash.
        let read = |f: &DataFile, at, key: &[u8], buf: &mut [u8]| {
            f.read_in_place(at, key, buf, || true)
                .expect("a sealed file is mapped")
        };
        assert_eq!(read(&f, value_at, b"key", &mut buf).unwrap(), Some(5));
        assert_eq!(&buf[..5], b"value");
        assert_eq!(read(&f, value_at, b"kez", &mut buf).unwrap(), None);
        let mut small = [9u8; 2];
        assert_eq!(read(&f, value_at, b"key", &mut small).unwrap(), Some(5));
        assert_eq!(small, [9, 9], "nothing copied into a short buffer");
        let tomb = read(&f, tomb_at, b"gone", &mut buf).unwrap_err();
        assert!(matches!(tomb, Error::Corruption { .. }), "{tomb}");
        let past = read(&f, end - 2, b"gone", &mut buf).unwrap_err();
        assert!(past.to_string().contains("past the end"), "{past}");
        // A damaged key length or key is a checksum error, not another key, when the slot
        // carries the key's hash; under another key's hash (a tag collision) it is skipped
        // unread. Impossible lengths are caught before any checksum.
        let pristine = std::fs::read(&path).unwrap();
        for (at, mask, expect) in [
            (21, 1, "checksum"),
            (29, 4, "checksum"),
            (28, 0x80, "malformed"),
        ] {
            let mut bytes = pristine.clone();
            bytes[value_at as usize + at] ^= mask;
            std::fs::write(&path, &bytes).unwrap();
            let f = DataFile::open(&PosixVfs, &path, OpenMode::ReadSealed, 5).unwrap();
            let bad = read(&f, value_at, b"key", &mut buf).unwrap_err();
            assert!(bad.to_string().contains(expect), "byte {at}: {bad}");
            if expect == "checksum" {
                let other = f.read_in_place(value_at, b"key", &mut buf, || false);
                assert_eq!(other.unwrap().unwrap(), None, "byte {at}");
            }
        }
    }

    #[test]
    fn header_round_trip_and_checks() {
        let h = FileHeader {
            store: 0xdead_beef,
            id: 17,
            seq_base: 5,
            merge_base: 3,
            merge_part: 1,
            merge_parts: 2,
            ..FileHeader::default()
        };
        let p = Path::new("x.log");
        let b = h.encode();
        assert_eq!(FileHeader::decode(&b, p).unwrap(), h);
        let mut bad = b;
        bad[20] ^= 1;
        assert!(matches!(
            FileHeader::decode(&bad, p),
            Err(Error::Corruption { .. })
        ));
        let mut magic = b;
        magic[0] = b'X';
        assert!(matches!(
            FileHeader::decode(&magic, p),
            Err(Error::Corruption { offset: 0, .. })
        ));
        let crc = crc32fast::hash(&magic[0..48]);
        magic[48..52].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            FileHeader::decode(&magic, p),
            Err(Error::Incompatible { .. })
        ));
        assert!(matches!(
            FileHeader::decode(&[0; FILE_HEADER_LEN], p),
            Err(Error::Corruption { offset: 0, .. })
        ));
        let future = FileHeader::default();
        let mut fb = future.encode();
        fb[8..12].copy_from_slice(&3u32.to_le_bytes());
        let crc = crc32fast::hash(&fb[0..48]);
        fb[48..52].copy_from_slice(&crc.to_le_bytes());
        let err = FileHeader::decode(&fb, p).unwrap_err();
        assert!(err.to_string().contains("version 3"), "{err}");
    }

    #[test]
    fn a_window_merge_output_is_version_2_with_its_floor_in_place_of_the_seq_base() {
        let h = FileHeader {
            store: 7,
            id: 130,
            merge_base: 129,
            merge_floor: 65,
            merge_part: 0,
            merge_parts: 1,
            ..FileHeader::default()
        };
        let p = Path::new("x.log");
        let b = h.encode();
        assert_eq!(u32::from_le_bytes(b[8..12].try_into().unwrap()), 2);
        assert_eq!(u64::from_le_bytes(b[24..32].try_into().unwrap()), 65);
        assert_eq!(FileHeader::decode(&b, p).unwrap(), h);
        // A prefix merge's outputs stay version 1: older readers read them as before.
        let prefix = FileHeader {
            merge_floor: 0,
            ..h
        };
        assert_eq!(
            u32::from_le_bytes(prefix.encode()[8..12].try_into().unwrap()),
            1
        );
        // A floor above the base, or on a file that is no merge output, is damage.
        for bad in [
            FileHeader {
                merge_floor: 200,
                ..h
            },
            FileHeader {
                merge_parts: 0,
                ..h
            },
        ] {
            let err = FileHeader::decode(&bad.encode(), p).unwrap_err();
            assert!(matches!(err, Error::Corruption { offset: 24, .. }), "{err}");
        }
    }
}
