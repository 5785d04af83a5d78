//! Verifying a store without changing it: every record's CRC (read past damage, see
//! `resync`), every hint file against its data file (`check_hint`, the one place hints are
//! judged), the seals, the store tag of each data file, and the order of sequence numbers
//! across files. The result is a report; nothing on disk is written, renamed or removed.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use crate::datafile::merges::Merges;
use crate::datafile::DataFile;
use crate::error::{Error, Result};
use crate::filename::{self, FileKind};
use crate::fileset::load_key;
use crate::hint;
use crate::identity::{self, Identity};
use crate::resync::{self, FileScan, Intact};
use crate::vfs::{OpenMode, PosixVfs, Vfs};

/// One thing wrong with a store: the file (its name inside the store's directory), the
/// offset inside it, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub offset: u64,
    pub reason: String,
}

/// What `verify` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Data files read (sealed and active).
    pub data_files: u64,
    /// Hint files checked.
    pub hint_files: u64,
    /// Intact records read (seals not counted).
    pub records: u64,
    /// Non-zero bytes after the last record of an active file: a torn write a crash left,
    /// which the next writer's open cuts away (not a problem).
    pub torn_bytes: u64,
    /// Every problem, in file order.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, file: &str, offset: u64, reason: impl Into<String>) {
        self.problems.push(Problem {
            file: file.to_string(),
            offset,
            reason: reason.into(),
        });
    }
}

/// Verifies the store in `dir` (see the module documentation). Fails only when the directory
/// cannot be listed; everything wrong inside it is a problem in the report.
pub fn verify(dir: impl AsRef<Path>) -> Result<VerifyReport> {
    verify_with(&PosixVfs, dir.as_ref(), None)
}

/// A data file as verify read it.
pub(crate) struct Checked {
    pub id: u64,
    pub kind: FileKind,
    pub file: DataFile,
    pub scan: FileScan,
}

/// What a live writer's handle knew of its files when a verification began.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Live {
    /// The active file (id, end of its records): its bytes past that end are its
    /// reservation and the writes since, not a torn write.
    pub active: Option<(u64, u64)>,
    /// The largest id of the handle's files: a file with a larger one was made since (and
    /// may be half made: its header not yet written).
    pub newest: u64,
}

/// `verify` through `vfs`; `live` for a writer's handle (see `Live`).
pub(crate) fn verify_with(vfs: &dyn Vfs, dir: &Path, live: Option<Live>) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let (checked, hints) = read_store(vfs, dir, live, &mut report)?;
    for (id, name) in hints {
        report.hint_files += 1;
        let data = checked
            .iter()
            .find(|c| c.id == id && c.kind == FileKind::Sealed);
        let Some(data) = data else { continue };
        let path = dir.join(&name);
        if let Some((offset, reason)) = hint_problem(vfs, &path, data) {
            report.problem(&name, offset, reason);
        }
    }
    check_order(&checked, &mut report);
    report
        .problems
        .sort_by(|a, b| (&a.file, a.offset).cmp(&(&b.file, b.offset)));
    Ok(report)
}

/// Reads every data file of `dir` into `Checked`s (problems into `report`), and lists the
/// hint files (id, name).
#[allow(clippy::type_complexity)]
pub(crate) fn read_store(
    vfs: &dyn Vfs,
    dir: &Path,
    live: Option<Live>,
    report: &mut VerifyReport,
) -> Result<(Vec<Checked>, Vec<(u64, String)>)> {
    let identity = match identity::read(vfs, dir) {
        Ok(id) => id,
        Err(e) => {
            report.problem(filename::ID_FILE, 0, reason_of(&e));
            None
        }
    };
    let names = vfs
        .list_dir_typed(dir)
        .map_err(|e| Error::io("list", dir, e))?;
    let mut entries: Vec<(u64, FileKind, String)> = Vec::new();
    for (name, special) in names {
        let Some((id, kind)) = filename::parse(&name) else {
            continue;
        };
        if let Some(s) = special {
            report.problem(&name, 0, s.error().to_string());
            continue;
        }
        entries.push((id, kind, name));
    }
    entries.sort_by(|a, b| (a.0, &a.2).cmp(&(b.0, &b.2)));
    let mut checked = Vec::new();
    let mut hints = Vec::new();
    for (id, kind, name) in entries {
        match kind {
            FileKind::Sealed | FileKind::Active => {}
            FileKind::Hint => {
                hints.push((id, name));
                continue;
            }
            _ => continue,
        }
        if live.is_some_and(|l| id > l.newest) {
            continue;
        }
        let active = live.and_then(|l| l.active);
        let end = active.filter(|(a, _)| *a == id).map(|(_, end)| end);
        if let Some(c) = check_data_file(vfs, dir, (id, kind, &name), end, identity, report) {
            checked.push(c);
        }
    }
    Ok((checked, hints))
}

/// Reads one data file, reporting what is wrong with it.
fn check_data_file(
    vfs: &dyn Vfs,
    dir: &Path,
    (id, kind, name): (u64, FileKind, &str),
    end: Option<u64>,
    identity: Option<Identity>,
    report: &mut VerifyReport,
) -> Option<Checked> {
    let mut kind = kind;
    let mut opened = DataFile::open(vfs, &dir.join(name), OpenMode::ReadShared, id);
    if kind == FileKind::Active && matches!(&opened, Err(e) if crate::recovery::is_vanished(e)) {
        // A live writer sealed it after the listing: it is the same file, sealed.
        kind = FileKind::Sealed;
        let sealed = filename::path(dir, id, kind);
        opened = DataFile::open(vfs, &sealed, OpenMode::ReadShared, id);
    }
    let end = end.filter(|_| kind == FileKind::Active);
    let file = match opened {
        Ok(f) => f,
        // Listed, then gone: a writer's compaction removed it meanwhile (not damage).
        Err(e) if crate::recovery::is_vanished(&e) => return None,
        Err(e) => {
            report.data_files += 1;
            report.problem(name, offset_of(&e), reason_of(&e));
            return None;
        }
    };
    report.data_files += 1;
    let owner = identity.unwrap_or(Identity::UNTAGGED);
    if !owner.owns(file.header.store) {
        report.problem(name, 12, "the file carries another store's tag");
    }
    let scan = match resync::scan(&file, id, end) {
        Ok(s) => s,
        Err(e) => {
            report.problem(name, 0, reason_of(&e));
            return None;
        }
    };
    report.records += scan.records.len() as u64;
    for d in &scan.damage {
        let what = format!("{} ({} bytes unreadable)", d.reason, d.len);
        report.problem(name, d.offset, what);
    }
    match (kind, &scan.tail) {
        (FileKind::Active, Some(_)) => report.torn_bytes += scan.tail_nonzero,
        (FileKind::Sealed, Some(t)) => report.problem(name, t.offset, &t.reason),
        _ => {}
    }
    if kind == FileKind::Sealed && scan.seal.is_none() {
        let at = scan
            .records
            .last()
            .map_or(0, |r| r.offset + r.header.record_len());
        report.problem(name, at, "sealed file does not end with its seal record");
    }
    Some(Checked {
        id,
        kind,
        file,
        scan,
    })
}

/// What is wrong with hint file `path` of the data file `data`, if anything: the offset in
/// the hint file (0 for the file as a whole) and why.
pub(crate) fn hint_problem(vfs: &dyn Vfs, path: &Path, data: &Checked) -> Option<(u64, String)> {
    let bytes = match read_hint(vfs, path, data.scan.len) {
        Ok(Some(b)) => b,
        Ok(None) => return Some((0, "hint file longer than its data file allows".into())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None, // removed meanwhile
        Err(e) => return Some((0, crate::error::os_words(&e))),
    };
    check_hint(&bytes, data.id, data.scan.len, &data.scan.records)
}

/// Judges hint file `bytes` of data file `data_id` (`data_len` bytes, holding `records`):
/// every entry must describe an intact record at its offset, and every record have an entry.
pub(crate) fn check_hint(
    bytes: &[u8],
    data_id: u64,
    data_len: u64,
    records: &[Intact],
) -> Option<(u64, String)> {
    let Some(described) = hint::described_len(bytes, data_id) else {
        return Some((
            0,
            "hint file checksum, magic, version or file id is wrong".into(),
        ));
    };
    if described != data_len {
        let why = format!("hint describes {described} bytes of data file; it holds {data_len}");
        return Some((24, why));
    }
    let Some(hint) = hint::entries_of_any_version(bytes, data_id, data_len) else {
        return Some((0, "hint file holds a malformed entry".into()));
    };
    // A batch's commit record applies nothing and has no entry.
    let records: Vec<&Intact> = records.iter().filter(|r| !r.header.is_commit()).collect();
    let by_offset: BTreeMap<u64, &Intact> = records.iter().map(|r| (r.offset, *r)).collect();
    // What a hint must list: every record (version 1), or the newest record of each key
    // (version 2; keys told apart by CRC and length, as the records keep no keys).
    let mut newest: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    for r in &records {
        let seq = newest.entry((r.key_crc, r.header.key_len)).or_insert(0);
        *seq = (*seq).max(r.header.seq);
    }
    for (i, e) in hint.entries.iter().enumerate() {
        let matches = by_offset.get(&e.offset).is_some_and(|r| {
            r.header.seq == e.seq
                && r.header.value_len == e.value_len
                && r.header.is_tombstone() == e.tombstone
                // Version 1 hints never carry an expiry (no version writing them had one).
                && (!hint.newest_per_key || r.header.expiry() == e.expiry)
                && r.header.key_len as usize == e.key.len()
                && r.key_crc == crc32fast::hash(e.key)
                && (!hint.newest_per_key
                    || newest.get(&(r.key_crc, r.header.key_len)) == Some(&e.seq))
        });
        if !matches {
            let why = format!("entry {i} names no such record at offset {}", e.offset);
            return Some((hint::PREFIX_LEN as u64, why));
        }
    }
    let expected = if hint.newest_per_key {
        newest.len()
    } else {
        records.len()
    };
    if hint.entries.len() != expected {
        let why = format!("{} entries for {expected} records", hint.entries.len());
        return Some((0, why));
    }
    None
}

fn read_hint(vfs: &dyn Vfs, path: &Path, data_len: u64) -> io::Result<Option<Vec<u8>>> {
    let f = vfs.open(path, OpenMode::ReadShared)?;
    let len = f.len()?;
    if len > hint::max_len(data_len) {
        return Ok(None);
    }
    let mut buf = crate::datafile::zeroed(len as usize)?;
    f.read_exact_at(0, &mut [&mut buf])?;
    Ok(Some(buf))
}

/// Sequence numbers must grow across the files that an open would load, in load order
/// (inputs of a committed merge and outputs of an unfinished one are left out, as the open
/// leaves them).
fn check_order(checked: &[Checked], report: &mut VerifyReport) {
    let merges = Merges::of(checked.iter().map(|c| &c.file.header));
    let mut live: Vec<&Checked> = checked.iter().filter(|c| !merges.left_out(c.id)).collect();
    live.sort_by_key(|c| load_key(&c.file));
    let mut last: Option<(u64, &Checked)> = None;
    for c in live {
        let (Some(first), Some(end)) = (c.scan.records.first(), c.scan.records.last()) else {
            continue;
        };
        if let Some((seq, before)) = last {
            if first.header.seq <= seq {
                let name = filename::name(c.id, c.kind);
                let before = filename::name(before.id, before.kind);
                let why = format!(
                    "sequence number {} is not above {seq}, the last of {before}",
                    first.header.seq
                );
                report.problem(&name, first.offset, why);
            }
        }
        last = Some((end.header.seq, c));
    }
}

fn offset_of(e: &Error) -> u64 {
    match e {
        Error::Corruption { offset, .. } => *offset,
        _ => 0,
    }
}

/// The error's words without the path (the report names the file).
fn reason_of(e: &Error) -> String {
    match e {
        Error::Corruption { reason, .. } | Error::Incompatible { reason, .. } => reason.clone(),
        Error::Io { op, source, .. } => format!("{op}: {}", crate::error::os_words(source)),
        other => other.to_string(),
    }
}
