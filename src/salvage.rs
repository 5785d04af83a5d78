//! Repairing a damaged store (`bitask::repair`, `bitask_repair`, `bitask DIR repair`): every
//! record whose CRC verifies is kept, read past damage (`resync`); a damaged data file is
//! rewritten with its intact records only, and the original, with every hint that no longer
//! describes its data file, moved into the quarantine folder `bitask-quarantine/` inside the
//! store (never deleted; an open ignores the folder). Not to be confused with
//! `recovery::repair`, the repairs an ordinary open makes after a crash.
//!
//! Each replacement is crash-safe: the new file is written as `<id>.log.tmp` and fsynced, the
//! original linked (or copied) into the quarantine folder and that folder fsynced, then the
//! new file renamed over the original and the store's directory fsynced. A crash leaves the
//! original in place or the new file; a leftover `<id>.log.tmp` is deleted by the next open.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use crate::datafile::{FileHeader, FILE_HEADER_LEN};
use crate::error::{Error, Result};
use crate::filecopy;
use crate::filename::{self, FileKind};
use crate::hint;
use crate::identity::{self, Identity};
use crate::record;
use crate::resync::{self, FileScan};
use crate::verify::{self, Checked, Problem, VerifyReport};
use crate::vfs::{OpenMode, PosixVfs, Vfs};
use crate::writer_lock::WriterLock;

/// The folder inside a store's directory that repair moves what it replaces or cannot read
/// into. An open ignores it; only a person removes it.
pub const QUARANTINE_DIR: &str = "bitask-quarantine";

/// What `repair` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Intact records in the files repair rewrote, all kept.
    pub records_kept: u64,
    /// Data files rewritten with their intact records only.
    pub files_rewritten: u64,
    /// Bytes of the rewritten files that held no intact record.
    pub unreadable_bytes: u64,
    /// Records known to be lost: counted from the sequence numbers missing around damage in
    /// files written by puts, and from the entries of an intact hint file. A lower bound.
    pub records_lost: u64,
    /// Keys whose last record was lost and that no intact record holds any more, as far as
    /// an intact hint names them.
    pub keys_lost: u64,
    /// Keys whose last record was lost and that now read as an older value (or, where the
    /// lost record was a deletion, as the value before it), as far as an intact hint names
    /// them.
    pub keys_rolled_back: u64,
    /// Deletions whose records were damaged, written again from the intact hint file that
    /// described them (key and sequence number are all a deletion holds), so the deleted
    /// keys stay deleted.
    pub tombstones_rebuilt: u64,
    /// Files moved into `bitask-quarantine/`, as they are named there.
    pub quarantined: Vec<String>,
    /// What `verify` still finds after the repair (files repair leaves alone: another
    /// store's, or ones it cannot read at all).
    pub remaining: Vec<Problem>,
}

/// Repairs the store in `dir` (see the module documentation), holding its writer lock:
/// `Error::WriterLock` while a handle writes to it. A directory that holds no store is
/// refused with `Error::Incompatible`, unchanged.
pub fn repair(dir: impl AsRef<Path>) -> Result<RepairReport> {
    repair_with(&PosixVfs, dir.as_ref())
}

/// `repair` through `vfs`.
pub fn repair_with(vfs: &dyn Vfs, dir: &Path) -> Result<RepairReport> {
    let lock = WriterLock::take(vfs, dir)?;
    let identity = match identity::read(vfs, dir) {
        Ok(Some(id)) => id,
        Ok(None) if crate::recovery::holds_store(vfs, dir)? => Identity::UNTAGGED,
        Ok(None) => {
            lock.abandon(vfs);
            return Err(Error::Incompatible {
                path: dir.into(),
                reason: "holds no bitask store".into(),
            });
        }
        Err(e) => {
            lock.abandon(vfs);
            return Err(e);
        }
    };
    let mut before = VerifyReport::default();
    let (checked, hints) = verify::read_store(vfs, dir, None, &mut before)?;
    let mut job = Job {
        vfs,
        dir,
        identity,
        report: RepairReport::default(),
        replaced: Vec::new(),
    };
    for c in &checked {
        if identity.owns(c.file.header.store) && needs_rewrite(c) {
            job.rewrite(&c.scan, c.id, c.kind, c.file.header, &checked)?;
        }
    }
    job.rebuild_unopenable(&before, &checked)?;
    job.quarantine_hints(&hints, &checked)?;
    let after = verify::verify_with(vfs, dir, None)?;
    job.report.remaining = after.problems;
    drop(lock);
    Ok(job.report)
}

fn needs_rewrite(c: &Checked) -> bool {
    let sealed_badly =
        c.kind == FileKind::Sealed && (c.scan.seal.is_none() || c.scan.tail.is_some());
    !c.scan.damage.is_empty() || sealed_badly
}

struct Job<'a> {
    vfs: &'a dyn Vfs,
    dir: &'a Path,
    identity: Identity,
    report: RepairReport,
    /// Ids of the data files rewritten.
    replaced: Vec<u64>,
}

impl Job<'_> {
    /// Writes data file `id` anew from the intact records `scan` found, under `header`,
    /// sealed unless it is the active file; the original goes to the quarantine folder.
    fn rewrite(
        &mut self,
        scan: &FileScan,
        id: u64,
        kind: FileKind,
        header: FileHeader,
        checked: &[Checked],
    ) -> Result<()> {
        let name = filename::name(id, kind);
        let path = self.dir.join(&name);
        let src = self
            .vfs
            .open(&path, OpenMode::ReadShared)
            .map_err(|e| Error::io("open", &path, e))?;
        let described = hint_entries(self.vfs, &filename::path(self.dir, id, FileKind::Hint), id);
        let deletions = lost_deletions(scan, described.as_deref().unwrap_or(&[]));
        let mut bytes = header.encode().to_vec();
        let mut last_seq = 0;
        let mut next_deletion = deletions.iter().peekable();
        for r in &scan.records {
            while let Some(d) = next_deletion.next_if(|d| d.seq < r.header.seq) {
                bytes.extend_from_slice(&deletion_record(d));
            }
            let at = bytes.len();
            let len = r.header.record_len() as usize;
            bytes.resize(at + len, 0);
            src.read_exact_at(r.offset, &mut [&mut bytes[at..]])
                .map_err(|e| Error::io("read", &path, e))?;
            last_seq = r.header.seq;
        }
        for d in next_deletion {
            bytes.extend_from_slice(&deletion_record(d));
            last_seq = d.seq;
        }
        let kept = bytes.len() as u64;
        if kind == FileKind::Sealed {
            bytes.extend_from_slice(&record::encode_seal(id, kept, last_seq));
        }
        self.report.tombstones_rebuilt += deletions.len() as u64;
        self.count_losses(scan, described.as_deref(), header, checked);
        let tmp = filename::path(self.dir, id, FileKind::TempData);
        if self.vfs.open(&tmp, OpenMode::ReadShared).is_ok() {
            self.quarantine(&filename::name(id, FileKind::TempData), None)?;
        }
        filecopy::write_new(self.vfs, &tmp, &bytes)?;
        self.quarantine(&name, Some(&tmp))?;
        self.report.files_rewritten += 1;
        self.report.records_kept += scan.records.len() as u64;
        let intact: u64 = scan.records.iter().map(|r| r.header.record_len()).sum();
        let seal = scan.seal.map_or(0, |_| record::SEAL_LEN);
        let unreadable = scan
            .len
            .saturating_sub(FILE_HEADER_LEN as u64 + intact + seal);
        self.report.unreadable_bytes += unreadable;
        self.replaced.push(id);
        Ok(())
    }

    /// Data files whose header is damaged: their intact records are kept under a header
    /// rebuilt from the file's name and the store's identity, as the one missing part of an
    /// unfinished merge when exactly one is missing, else as a file written by puts.
    fn rebuild_unopenable(&mut self, before: &VerifyReport, checked: &[Checked]) -> Result<()> {
        let mut seen = Vec::new();
        for p in &before.problems {
            let Some((id, kind)) = filename::parse(&p.file) else {
                continue;
            };
            let is_data = matches!(kind, FileKind::Sealed | FileKind::Active);
            if !is_data || checked.iter().any(|c| c.id == id) || seen.contains(&id) {
                continue;
            }
            seen.push(id);
            let path = self.dir.join(&p.file);
            let Ok(raw) = self.vfs.open(&path, OpenMode::ReadShared) else {
                continue;
            };
            if !header_damaged(&*raw) {
                continue; // another program's file or a newer format: not ours to judge
            }
            let len = raw.len().map_err(|e| Error::io("stat", &path, e))?;
            // Whether it was a compaction output is in the damaged header: read as one
            // written by puts, its batches count only with their commits.
            let scan = resync::scan_range(&*raw, &path, id, len, false)?;
            drop(raw);
            let header = rebuilt_header(self.identity.tag, id, &scan, checked);
            self.rewrite(&scan, id, kind, header, checked)?;
        }
        Ok(())
    }

    /// Moves hints of rewritten files, and hints that fail their checks, into quarantine.
    fn quarantine_hints(&mut self, hints: &[(u64, String)], checked: &[Checked]) -> Result<()> {
        for (id, name) in hints {
            let stale = self.replaced.contains(id);
            let data = checked
                .iter()
                .find(|c| c.id == *id && c.kind == FileKind::Sealed);
            let bad = data
                .is_some_and(|d| verify::hint_problem(self.vfs, &self.dir.join(name), d).is_some());
            if stale || bad {
                self.quarantine(name, None)?;
            }
        }
        Ok(())
    }

    /// Counts what the damage in data file `id` lost (see `RepairReport`).
    fn count_losses(
        &mut self,
        scan: &FileScan,
        described: Option<&[Described]>,
        header: FileHeader,
        checked: &[Checked],
    ) {
        if let Some(entries) = described {
            let kept: HashSet<u64> = scan.records.iter().map(|r| r.header.seq).collect();
            let mut seqs = None;
            for e in entries {
                if kept.contains(&e.seq) || (e.tombstone && !in_broken_batch(scan, e.seq)) {
                    continue; // kept, or a deletion written again
                }
                self.report.records_lost += 1;
                let seqs = seqs.get_or_insert_with(|| SeqRanges::of(checked));
                match seqs.survivor(crc32fast::hash(&e.key), e.key.len(), e.seq) {
                    Survivor::Newer => {}
                    Survivor::Older => self.report.keys_rolled_back += 1,
                    Survivor::None => self.report.keys_lost += 1,
                }
            }
            return;
        }
        if header.is_merge_output() {
            return; // its sequence numbers have gaps by design
        }
        let mut prev = header.seq_base.saturating_sub(1);
        for r in &scan.records {
            self.report.records_lost += r.header.seq.saturating_sub(prev + 1);
            prev = r.header.seq;
        }
        if scan.tail.is_some() && scan.tail_nonzero > 0 {
            self.report.records_lost += 1;
        }
    }

    /// Moves `name` into the quarantine folder; with `replacement`, renames that file over
    /// `name` once the original is safe there.
    fn quarantine(&mut self, name: &str, replacement: Option<&Path>) -> Result<()> {
        let qdir = self.dir.join(QUARANTINE_DIR);
        match self.vfs.create_dir(&qdir) {
            Ok(()) => self.sync_dir(self.dir)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("create", &qdir, e)),
        }
        let (kept_as, to) = free_name(self.vfs, &qdir, name);
        let from = self.dir.join(name);
        filecopy::link_or_copy(self.vfs, &from, &to)?;
        self.sync_dir(&qdir)?;
        match replacement {
            Some(tmp) => self
                .vfs
                .rename(tmp, &from)
                .map_err(|e| Error::io("rename", tmp, e))?,
            None => self
                .vfs
                .remove_file(&from)
                .map_err(|e| Error::io("remove", &from, e))?,
        }
        self.sync_dir(self.dir)?;
        self.report.quarantined.push(kept_as);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        self.vfs
            .sync_dir(dir)
            .map_err(|e| Error::io("sync directory", dir, e))
    }
}

/// True when the file's header fails its checksum or the file is shorter than a header:
/// damage, not a file of another format (whose header is intact and says so).
fn header_damaged(file: &dyn crate::vfs::VFile) -> bool {
    let mut b = [0u8; FILE_HEADER_LEN];
    match file.read_exact_at(0, &mut [&mut b]) {
        Err(_) => true,
        Ok(()) => crc32fast::hash(&b[0..48]) != u32::from_le_bytes(b[48..52].try_into().unwrap()),
    }
}

/// The header a data file with a damaged one most likely had (see `rebuild_unopenable`).
fn rebuilt_header(tag: u32, id: u64, scan: &FileScan, checked: &[Checked]) -> FileHeader {
    let mut merges: BTreeMap<u64, (u32, u64, Vec<u32>)> = BTreeMap::new();
    for c in checked {
        let h = &c.file.header;
        if h.is_merge_output() && h.merge_base < id {
            let e =
                merges
                    .entry(h.merge_base)
                    .or_insert((h.merge_parts, h.merge_floor, Vec::new()));
            e.2.push(h.merge_part);
        }
    }
    let missing_one = merges.iter().find_map(|(&base, (n, floor, parts))| {
        let missing: Vec<u32> = (0..*n).filter(|p| !parts.contains(p)).collect();
        (missing.len() == 1).then(|| (base, *floor, *n, missing[0]))
    });
    let first_seq = scan.records.first().map_or(0, |r| r.header.seq);
    match missing_one {
        Some((merge_base, merge_floor, merge_parts, merge_part)) => FileHeader {
            store: tag,
            id,
            seq_base: 0,
            merge_base,
            merge_floor,
            merge_part,
            merge_parts,
        },
        None => FileHeader {
            store: tag,
            id,
            seq_base: first_seq,
            ..FileHeader::default()
        },
    }
}

/// A record as an intact hint file describes it.
struct Described {
    key: Vec<u8>,
    seq: u64,
    tombstone: bool,
}

/// The deletions `described` names that `scan` did not find intact, in sequence order.
fn lost_deletions<'a>(scan: &FileScan, described: &'a [Described]) -> Vec<&'a Described> {
    let kept: HashSet<u64> = scan.records.iter().map(|r| r.header.seq).collect();
    let mut lost: Vec<&Described> = described
        .iter()
        .filter(|d| d.tombstone && !kept.contains(&d.seq) && !in_broken_batch(scan, d.seq))
        .collect();
    lost.sort_by_key(|d| d.seq);
    lost
}

/// Whether `seq` is one of a broken batch's (`FileScan::broken_batches`): a deletion there
/// is not written again, as the rest of its batch is lost.
fn in_broken_batch(scan: &FileScan, seq: u64) -> bool {
    scan.broken_batches
        .iter()
        .any(|(first, last)| (*first..=*last).contains(&seq))
}

/// The record of a deletion written again: its key and sequence number; the time it was
/// made is not known (timestamps are informational), so it is 0.
fn deletion_record(d: &Described) -> Vec<u8> {
    let header = record::encode_header(d.seq, 0, true, &d.key, &[]);
    [&header[..], &d.key].concat()
}

/// Each entry of the intact hint at `path` of data file `id`, also when the data file has
/// since been cut; `None` without such a hint.
fn hint_entries(vfs: &dyn Vfs, path: &Path, id: u64) -> Option<Vec<Described>> {
    let f = vfs.open(path, OpenMode::ReadShared).ok()?;
    let len = f.len().ok()?;
    let mut bytes = crate::datafile::zeroed(usize::try_from(len).ok()?).ok()?;
    f.read_exact_at(0, &mut [&mut bytes]).ok()?;
    let described = hint::described_len(&bytes, id)?;
    let hint = hint::entries_of_any_version(&bytes, id, described)?;
    let described = hint.entries.iter().map(|e| Described {
        key: e.key.to_vec(),
        seq: e.seq,
        tombstone: e.tombstone,
    });
    Some(described.collect())
}

enum Survivor {
    Newer,
    Older,
    None,
}

/// The smallest and largest sequence number of the intact records of each key, the key
/// known by its CRC and length (the records' keys are not kept).
struct SeqRanges(HashMap<(u32, u32), (u64, u64)>);

impl SeqRanges {
    fn of(checked: &[Checked]) -> SeqRanges {
        let mut map: HashMap<(u32, u32), (u64, u64)> = HashMap::new();
        for r in checked.iter().flat_map(|c| &c.scan.records) {
            let seq = r.header.seq;
            let e = map
                .entry((r.key_crc, r.header.key_len))
                .or_insert((seq, seq));
            *e = (e.0.min(seq), e.1.max(seq));
        }
        SeqRanges(map)
    }

    /// Whether an intact record of the key newer or older than `seq` remains.
    fn survivor(&self, key_crc: u32, key_len: usize, seq: u64) -> Survivor {
        match self.0.get(&(key_crc, key_len as u32)) {
            Some(&(_, max)) if max > seq => Survivor::Newer,
            Some(&(min, _)) if min < seq => Survivor::Older,
            _ => Survivor::None,
        }
    }
}

/// A name in `qdir` not yet taken: `name`, else `name.1`, `name.2`, ...
fn free_name(vfs: &dyn Vfs, qdir: &Path, name: &str) -> (String, PathBuf) {
    let taken = vfs.list_dir(qdir).unwrap_or_default();
    let mut candidate = name.to_string();
    let mut n = 0;
    while taken.contains(&candidate) {
        n += 1;
        candidate = format!("{name}.{n}");
    }
    let path = qdir.join(&candidate);
    (format!("{QUARANTINE_DIR}/{candidate}"), path)
}
