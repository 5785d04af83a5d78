//! Compaction (merge): rewrite the live records of the sealed files into new files with hint
//! files, swap them in, delete the old files.
//!
//! Crash safety, step by step:
//! 1. The active file is sealed first, so the inputs are every data file there is; the next
//!    write starts a new active file, whose records are all newer than any input's.
//! 2. Live records are copied unchanged (same sequence number, timestamp and CRC) into
//!    `<id>.log.tmp` with hints in `<id>.hint.tmp`. Tombstones are dropped: every file older
//!    than a tombstone is an input, so no remaining file can hold an older value of its key.
//!    Puts whose expiry has passed (as of the start of the copy) are dropped for the same
//!    reason, and their keys leave the key directory at the swap; an input whose live
//!    records have all expired contributes nothing, and is deleted with the others.
//! 3. Each output's header records the merge base (largest input id) and `part i of n`;
//!    outputs and hints are fsynced, then the directory; then all are renamed to their final
//!    names and the directory fsynced again. The merge is committed once all `n` parts exist:
//!    from then on recovery treats every data file with id <= merge base as stale. Before
//!    that, recovery deletes the partial outputs and keeps the inputs.
//! 4. Only then are the key directory entries moved (each only if the key still points at the
//!    copied record) and the inputs deleted, followed by a last directory fsync.
//!
//! The automatic merge (`auto_merge`) runs steps 2 to 4 on a prefix of the load order instead
//! of every file: step 1's guarantee, that every file after the inputs has a larger id than
//! any input, holds there by the choice of the prefix, and its outputs take ids from the room
//! right after the inputs' largest (`OutputIds`). The rest is shared (`merge`).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::pace::Pace;
use super::state::Engine;
use crate::datafile::committed::{BatchGate, Gate};
use crate::datafile::hint_map::MappedHint;
use crate::datafile::{out_of_memory, DataFile, FileHeader, Found, Scanned, FILE_HEADER_LEN};
use crate::error::{Error, Result};
use crate::filename::{self, FileKind};
use crate::fileset::{FileEntry, SortedRun};
use crate::hint::{HintEntry, HintWriter};
use crate::keydir::Location;
use crate::record;
use crate::util::sync::lock;
use crate::vfs::OpenMode;

const FLUSH_AT: usize = 1 << 20;

/// Runs one compaction. See the module documentation.
impl Engine {
    /// Merges the sealed files into new ones holding only live records (see the module
    /// documentation); `Bitask::compact`.
    pub(crate) fn compact(&self) -> Result<()> {
        compact(self)
    }
}

fn compact(engine: &Engine) -> Result<()> {
    let writer = engine.writer()?;
    let _one_at_a_time = lock(&engine.merging);
    engine.check_running()?;
    let ids = {
        // Recovery takes every file with an id up to the merge base for an input, so every
        // file written after this point must get a new id: the active file is sealed (even
        // empty) and a next file prepared in advance is thrown away.
        let mut w = lock(writer);
        engine.preparer.discard(engine.vfs(), false);
        engine.seal_active(&mut w, false)?;
        // The outputs' ids are taken now, right after the inputs' and before any file
        // written from here on, so that load order stays id order: a later automatic merge
        // of a prefix relies on it (see `auto_merge`).
        let (records, live) = (engine.keydir.len() as u64, engine.keydir.live_bytes());
        w.ids
            .reserve(max_outputs(records, live, engine.opts.max_file_size))
    };
    // Files sealed in the background become inputs once they are durable and renamed.
    engine.sealing.wait();
    // Their hints too: none may be published for an input after it is deleted.
    engine.wait_for_hints();
    engine.check_running()?;
    // Files the writer sealed since (rotating while this waited) have larger ids than the
    // outputs': they are left to the next merge.
    let mut inputs = lock(&engine.files).sealed_in_load_order();
    inputs.retain(|(id, _, _)| *id < ids.start);
    let plan = MergePlan {
        inputs: &inputs,
        floor: 0,
        ids: OutputIds {
            next: ids.start,
            end: ids.end,
        },
        part_size: engine.opts.max_file_size,
    };
    merge(engine, plan, None)
}

/// An upper bound on the outputs a merge of `records` live records of `live` bytes makes in
/// parts of `part_size`: every part holds a record; and a part is closed only when the next
/// record does not fit in what its header and seal leave, so two consecutive parts hold more
/// than that together. One more for the part started before any record.
fn max_outputs(records: u64, live: u64, part_size: u64) -> u64 {
    let room = part_size
        .saturating_sub(FILE_HEADER_LEN as u64 + record::SEAL_LEN)
        .max(1);
    records.min(2 * (live / room) + 1) + 2
}

/// Where a merge's outputs get their ids: from `next` up to `end` (exclusive), free ids
/// right after the inputs' largest and below every file not an input, so that the outputs
/// sort where the inputs did, by id as in load order. `compact` reserves them from the
/// writer's id generator; an automatic merge of a prefix takes the room `ID_STEP` leaves
/// after its last input (see `auto_merge`).
pub(super) struct OutputIds {
    pub next: u64,
    pub end: u64,
}

/// What one merge takes and makes.
pub(super) struct MergePlan<'a> {
    /// The inputs, in load order: every sealed file, or a run of consecutive files in load
    /// order (a window) whose ids are all those in `floor..=` the largest of them.
    pub inputs: &'a [(u64, u32, Arc<DataFile>)],
    /// 0 when no file older than the inputs stays (a prefix of the load order), else the
    /// smallest id the merge replaces: files older than the window may hold older records
    /// of the inputs' keys, so tombstones are carried and expired puts become tombstones.
    pub floor: u64,
    pub ids: OutputIds,
    /// Largest output file.
    pub part_size: u64,
}

/// Merges `plan.inputs` into new files holding their live records, commits the merge,
/// points the key directory at the outputs and deletes the inputs (see the module
/// documentation). The caller holds the `merging` mutex. With `pace`, the copy keeps to its
/// rate and stops when the handle closes.
pub(super) fn merge(
    engine: &Engine,
    plan: MergePlan<'_>,
    pace: Option<&mut Pace<'_>>,
) -> Result<()> {
    let inputs = plan.inputs;
    let Some(merge_base) = inputs.iter().map(|(id, _, _)| *id).max() else {
        return Ok(());
    };
    let mut out = Outputs {
        engine,
        merge_base,
        merge_floor: plan.floor,
        parts: Vec::new(),
        renaming: false,
        ids: plan.ids,
        part_size: plan.part_size,
        pace,
    };
    let published = out.copy_live(inputs).and_then(|()| out.publish());
    if let Err(e) = published {
        // After a rename the merge may be committed on disk while memory still reads the
        // inputs; a later merge of those inputs would leave two committed merges whose
        // outputs overlap. Only a reopen can tell which state the disk is in.
        if out.renaming {
            engine.stop(&e);
        }
        out.abandon();
        return Err(e);
    }
    let parts = std::mem::take(&mut out.parts);
    // The merge is committed: failing to switch to its outputs leaves memory behind the disk.
    swap(engine, &parts, inputs).inspect_err(|e| engine.stop(e))?;
    // A hint job that found an input still in the file set before the swap may be writing
    // its hint: it must end before the input goes, or it would publish a hint of a deleted
    // file. Jobs starting from now on find the inputs gone and write nothing.
    engine.wait_for_hints();
    for (id, _, _) in inputs {
        for kind in [FileKind::Sealed, FileKind::Hint] {
            let p = filename::path(&engine.dir, *id, kind);
            match engine.opts.vfs.remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", p, e)),
            }
        }
    }
    engine.sync_dir()
}

/// One output file of a merge.
struct Part {
    id: u64,
    file: DataFile,
    /// Bytes written to the file so far (header space included).
    written: u64,
    pending: Vec<u8>,
    hint: HintWriter,
    /// Where each record copied in came from, and where it went.
    sources: Vec<Moved>,
    hint_bytes: Vec<u8>,
    /// Sequence number of the last record copied in.
    last_seq: u64,
    /// Bytes of the tombstones copied in.
    tombstone_bytes: u64,
}

/// A record of an input to copy: a put the key directory points at, or a tombstone a window
/// merge carries.
struct ToCopy {
    offset: u32,
    rec_len: u32,
    tombstone: bool,
}

/// A record copied into a part: from (file number, offset) to an offset in the part.
struct Moved {
    from: (u32, u32),
    to_offset: u32,
    rec_len: u32,
    expires: bool,
}

impl Part {
    fn end(&self) -> u64 {
        self.written + self.pending.len() as u64
    }

    fn flush(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            self.file.write_at(self.written, &self.pending, "write")?;
            self.written += self.pending.len() as u64;
            self.pending.clear();
        }
        Ok(())
    }
}

struct Outputs<'a, 'p> {
    engine: &'a Engine,
    merge_base: u64,
    merge_floor: u64,
    parts: Vec<Part>,
    /// A rename to a final name was attempted: the merge may be committed on disk.
    renaming: bool,
    ids: OutputIds,
    part_size: u64,
    pace: Option<&'a mut Pace<'p>>,
}

impl Outputs<'_, '_> {
    /// Copies the live records of the inputs, in load order and file order, so the outputs
    /// keep the records' sequence order. Which records are live comes from one pass over the
    /// key directory, not a lookup per record. A window merge (`merge_floor` set) also
    /// copies what keeps older files' records of its keys dead: see `deletions_to_carry`.
    fn copy_live(&mut self, inputs: &[(u64, u32, Arc<DataFile>)]) -> Result<()> {
        // Which input each file number is, if any: asked of every key's entry, so an array.
        let highest = inputs
            .iter()
            .map(|(_, no, _)| *no as usize)
            .max()
            .unwrap_or(0);
        let mut input_of = vec![None; highest + 1];
        for (i, (_, no, _)) in inputs.iter().enumerate() {
            input_of[*no as usize] = Some(i);
        }
        let input = |no: u32| input_of.get(no as usize).copied().flatten();
        let mut live: Vec<Vec<ToCopy>> = inputs.iter().map(|_| Vec::new()).collect();
        for loc in self.engine.keydir.locations(|no| input(no).is_some()) {
            let i = input(loc.file).expect("a location of an input");
            live[i].push(ToCopy {
                offset: loc.offset,
                rec_len: loc.rec_len,
                tombstone: false,
            });
        }
        self.start_part()?;
        let now = self.engine.now();
        let window = self.merge_floor > 0;
        let mut carried = HashSet::new();
        for ((_, no, file), mut records) in inputs.iter().zip(live) {
            if window {
                records.extend(self.deletions_to_carry(file, &mut carried)?);
            }
            records.sort_unstable_by_key(|r| r.offset);
            let path = file.path();
            let mut scanner = file.scan()?;
            for want in records {
                scanner.seek(want.offset as u64);
                let next = scanner
                    .next_record()
                    .map_err(|e| Error::io("read", &path, e))?;
                match next {
                    Found::Record(r)
                        if r.header.record_len() == want.rec_len as u64
                            && r.header.is_tombstone() == want.tombstone =>
                    {
                        if want.tombstone {
                            self.append_tombstone(&r)?
                        } else if !record::is_expired(r.header.expiry(), now) {
                            self.append(&r, *no)?
                        } else if window {
                            self.append_tombstone(&r)?
                        }
                    }
                    Found::Record(_) | Found::End => {
                        let reason = "the key directory points at no live record here";
                        return Err(Error::corruption(&path, want.offset as u64, reason));
                    }
                    Found::Bad(bad) => {
                        return Err(Error::corruption(&path, bad.offset, bad.reason))
                    }
                }
            }
        }
        Ok(())
    }

    /// The tombstones of `file` a window merge carries into its outputs: those that count
    /// (a batch's only with its commit) and whose key the key directory does not hold, the
    /// first of each key only (`carried` holds the keys carried so far). A file older than
    /// the window may hold a put of such a key, which the tombstone keeps dead. A key the
    /// key directory holds has a newer put, which the merge copies or a later file holds;
    /// when in doubt a tombstone is carried, which is never wrong, only larger. The file's
    /// tombstones come from its hint, or from a scan of its records when it has none usable
    /// (the copy reads each one again and checks it is the tombstone it was said to be).
    fn deletions_to_carry(
        &mut self,
        file: &DataFile,
        carried: &mut HashSet<Vec<u8>>,
    ) -> Result<Vec<ToCopy>> {
        let (vfs, dir) = (&*self.engine.opts.vfs, &self.engine.dir);
        let len = file.len()?;
        let mut tombstones = match MappedHint::open(vfs, dir, file, len, false) {
            Some(hint) => {
                self.spend(hint.len() as u64)?;
                let view = hint.view();
                let listed = view.iter().filter(|e| e.tombstone);
                listed.map(|e| (e.offset, e.key.to_vec())).collect()
            }
            None => {
                self.spend(len)?;
                tombstones_scanned(file)?
            }
        };
        tombstones.sort_unstable_by_key(|(offset, _)| *offset);
        let mut found = Vec::new();
        for (offset, key) in tombstones {
            if carried.contains(&key)
                || self
                    .engine
                    .keydir
                    .with_entry(&key, |_, _| Ok(()))?
                    .is_some()
            {
                continue;
            }
            found.push(ToCopy {
                offset: offset as u32,
                rec_len: record::record_len(key.len(), 0) as u32,
                tombstone: true,
            });
            carried.insert(key);
        }
        Ok(found)
    }

    /// Charges `bytes` read to the merge's pace, if it has one.
    fn spend(&mut self, bytes: u64) -> Result<()> {
        match self.pace.as_deref_mut() {
            Some(pace) => pace.spend(bytes, &self.engine.dir),
            None => Ok(()),
        }
    }

    fn start_part(&mut self) -> Result<()> {
        if let Some(p) = self.parts.last_mut() {
            p.flush()?;
            // The part is complete: let the disk start on it while the next one fills, so the
            // fsyncs at publication find little left to write. Only a hint.
            let _ = p.file.file.start_writeback();
        }
        let id = self.next_id()?;
        let path = filename::path(&self.engine.dir, id, FileKind::TempData);
        // The real header (with the part count) is written when the merge is published.
        let file = DataFile::create(
            &*self.engine.opts.vfs,
            &path,
            FileHeader {
                store: self.engine.store_tag,
                id,
                ..FileHeader::default()
            },
            None,
        )?;
        self.parts.push(Part {
            id,
            file,
            written: FILE_HEADER_LEN as u64,
            pending: Vec::with_capacity(FLUSH_AT + 4096),
            hint: HintWriter::new(id),
            sources: Vec::new(),
            hint_bytes: Vec::new(),
            last_seq: 0,
            tombstone_bytes: 0,
        });
        Ok(())
    }

    fn next_id(&mut self) -> Result<u64> {
        let ids = &mut self.ids;
        if ids.next >= ids.end {
            return Err(Error::TooManyFiles {
                path: self.engine.dir.clone(),
                reason: "the merge needs more outputs than there are free ids after its \
                         inputs; it was abandoned, and a later one takes more files"
                    .into(),
            });
        }
        ids.next += 1;
        Ok(ids.next - 1)
    }

    /// Copies the live put `r` of file number `from_no`, unchanged.
    fn append(&mut self, r: &Scanned<'_>, from_no: u32) -> Result<()> {
        let from = (from_no, r.offset as u32);
        let expiry = r.header.expiry();
        self.copy_in(
            &r.header.encode(),
            r.key,
            r.value,
            r.header.seq,
            expiry,
            Some(from),
        )
    }

    /// Writes a tombstone in `r`'s place: `r` itself, unchanged, or for a put whose expiry
    /// has passed a tombstone with its sequence number.
    fn append_tombstone(&mut self, r: &Scanned<'_>) -> Result<()> {
        let h = &r.header;
        let header = if h.is_tombstone() {
            h.encode()
        } else {
            let flags = record::flags(true, false);
            record::encode_flagged_header(h.seq, h.timestamp, flags, r.key, &[])
        };
        self.copy_in(&header, r.key, &[], h.seq, None, None)
    }

    /// Appends a record to the current part (starting the next one when it is full), with
    /// its hint entry; `from`, for a put, is where the key directory finds it now.
    fn copy_in(
        &mut self,
        header: &[u8; record::HEADER_LEN],
        key: &[u8],
        value: &[u8],
        seq: u64,
        expiry: Option<u64>,
        from: Option<(u32, u32)>,
    ) -> Result<()> {
        let len = record::record_len(key.len(), value.len());
        if let Some(pace) = self.pace.as_deref_mut() {
            // Read and written.
            pace.spend(2 * len, &self.engine.dir)?;
        }
        let full = self.parts.last().is_some_and(|p| {
            let end = p.end() + len + record::SEAL_LEN;
            p.end() > FILE_HEADER_LEN as u64 && end > self.part_size
        });
        if full {
            self.start_part()?;
        }
        let part = self.parts.last_mut().expect("a part was started");
        let offset = part.end();
        part.hint.push(&HintEntry {
            seq,
            offset,
            value_len: value.len() as u32,
            tombstone: from.is_none(),
            expiry,
            key,
        });
        if from.is_none() {
            part.tombstone_bytes += len;
        }
        if let Some(from) = from {
            part.sources.push(Moved {
                from,
                to_offset: offset as u32,
                rec_len: len as u32,
                expires: expiry.is_some(),
            });
        }
        part.last_seq = seq;
        // A record is copied whole, and may hold a 256 MiB value: no memory for it fails the
        // merge rather than the process.
        part.pending
            .try_reserve(len as usize)
            .map_err(|_| Error::io("merge into", part.file.path(), out_of_memory(len as usize)))?;
        part.pending.extend_from_slice(header);
        part.pending.extend_from_slice(key);
        part.pending.extend_from_slice(value);
        if part.pending.len() >= FLUSH_AT {
            part.flush()?;
        }
        Ok(())
    }

    /// Makes every output durable, then publishes them all (the commit point).
    fn publish(&mut self) -> Result<()> {
        let vfs = &*self.engine.opts.vfs;
        let n = self.parts.len() as u32;
        // The outputs need file numbers while the inputs still hold theirs; checked before
        // the commit, so that running short is an error and not a stopped handle.
        let numbers = lock(&self.engine.files).numbers_for_compaction();
        if n > numbers {
            let msg = format!(
                "the merge wrote {n} files, and only {numbers} more can be numbered; use a \
                 larger max_file_size"
            );
            return Err(Error::TooManyFiles {
                path: self.engine.dir.clone(),
                reason: msg,
            });
        }
        for (i, part) in self.parts.iter_mut().enumerate() {
            let seal = record::encode_seal(part.id, part.end(), part.last_seq);
            part.pending.extend_from_slice(&seal);
            part.flush()?;
            let header = FileHeader {
                store: self.engine.store_tag,
                id: part.id,
                seq_base: 0,
                merge_base: self.merge_base,
                merge_floor: self.merge_floor,
                merge_part: i as u32,
                merge_parts: n,
            };
            part.file.write_at(0, &header.encode(), "write header of")?;
            part.file.header = header;
            part.file.sync()?;
            let hint = std::mem::replace(&mut part.hint, HintWriter::new(part.id));
            part.hint_bytes = hint.finish(part.written);
            let hint_path = filename::path(&self.engine.dir, part.id, FileKind::TempHint);
            let hf = vfs
                .open(&hint_path, OpenMode::CreateNew)
                .map_err(|e| Error::io("create", &hint_path, e))?;
            hf.write_all_at(0, &[&part.hint_bytes])
                .and_then(|()| hf.sync_data())
                .map_err(|e| Error::io("write", &hint_path, e))?;
        }
        self.engine.sync_dir()?;
        self.renaming = true;
        for part in &self.parts {
            for (from, to) in [
                (FileKind::TempHint, FileKind::Hint),
                (FileKind::TempData, FileKind::Sealed),
            ] {
                let a = filename::path(&self.engine.dir, part.id, from);
                let b = filename::path(&self.engine.dir, part.id, to);
                vfs.rename(&a, &b).map_err(|e| Error::io("rename", &a, e))?;
            }
        }
        self.engine.sync_dir()
    }

    /// Removes whatever a failed merge wrote. Best effort: recovery removes leftovers anyway.
    fn abandon(&mut self) {
        let vfs = &*self.engine.opts.vfs;
        for part in self.parts.drain(..) {
            for kind in [
                FileKind::TempData,
                FileKind::TempHint,
                FileKind::Sealed,
                FileKind::Hint,
            ] {
                let _ = vfs.remove_file(&filename::path(&self.engine.dir, part.id, kind));
            }
        }
        let _ = self.engine.sync_dir();
    }
}

/// The tombstones that count in `file` (a batch's only with its commit), as (offset, key),
/// read from its records.
fn tombstones_scanned(file: &DataFile) -> Result<Vec<(u64, Vec<u8>)>> {
    let path = file.path();
    let mut scanner = file.scan()?;
    let mut gate = BatchGate::new(file.header.is_merge_output());
    let mut found = Vec::new();
    loop {
        let next = scanner
            .next_record()
            .map_err(|e| Error::io("read", &path, e))?;
        match next {
            Found::Record(r) => match gate.admit(&r) {
                Gate::Counts if r.header.is_tombstone() => found.push((r.offset, r.key.to_vec())),
                Gate::Counts | Gate::Held => {}
                Gate::Committed(members) => found.extend(
                    members
                        .into_iter()
                        .filter(|m| m.header.is_tombstone())
                        .map(|m| (m.offset, m.key)),
                ),
                Gate::Misplaced(reason) => return Err(Error::corruption(&path, r.offset, reason)),
            },
            Found::End => return Ok(found),
            Found::Bad(bad) => return Err(Error::corruption(&path, bad.offset, bad.reason)),
        }
    }
}

/// Points the key directory at the outputs and forgets the inputs. Entries still pointing at
/// a copied record move to its copy; entries changed since the copy (a newer put or a remove)
/// no longer point into the inputs and are left alone.
fn swap(engine: &Engine, parts: &[Part], inputs: &[(u64, u32, Arc<DataFile>)]) -> Result<()> {
    let vfs = &*engine.opts.vfs;
    // Old (file, offset) -> new location.
    let copied = parts.iter().map(|p| p.sources.len()).sum();
    let mut moved: HashMap<u64, Location, BuildHasherDefault<PairHasher>> =
        HashMap::with_capacity_and_hasher(copied, Default::default());
    for part in parts {
        let path = filename::path(&engine.dir, part.id, FileKind::Sealed);
        let file = Arc::new(DataFile::open(vfs, &path, OpenMode::ReadSealed, part.id)?);
        let no = {
            let mut files = lock(&engine.files);
            let no = files.alloc_no(&path)?;
            let entry = FileEntry {
                no,
                file,
                active: false,
                hint_len: part.hint_bytes.len() as u64,
                sorted_run: SortedRun::Checked,
                keys_read: None,
                scanned_to: part.written,
                kept_bytes: Some(part.tombstone_bytes),
            };
            files.admit(&engine.keydir, entry);
            no
        };
        for m in &part.sources {
            let to = Location {
                file: no,
                offset: m.to_offset,
                rec_len: m.rec_len,
                expires: m.expires,
            };
            moved.insert(pair(m.from.0, m.from.1), to);
        }
    }
    let mut is_input = Vec::new();
    for &(_, no, _) in inputs {
        if is_input.len() <= no as usize {
            is_input.resize(no as usize + 1, false);
        }
        is_input[no as usize] = true;
    }
    engine.keydir.remap(&is_input, |loc| {
        moved.get(&pair(loc.file, loc.offset)).copied()
    });
    // What still points into an input is a put the copy dropped as expired. Under the
    // writer mutex: a put of such a key meanwhile replaces the entry (and takes its bytes
    // off the live count) or finds it gone, never both.
    {
        let _w = lock(engine.writer()?);
        let dropped = engine.keydir.remove_in(&is_input);
        let live = engine.live_bytes.load(std::sync::atomic::Ordering::Relaxed);
        engine.live_bytes.store(
            live.saturating_sub(dropped),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    for (id, _, _) in inputs {
        engine.forget_file(*id);
    }
    Ok(())
}

fn pair(file: u32, offset: u32) -> u64 {
    ((file as u64) << 32) | offset as u64
}

/// Hashes the (file, offset) pairs of `swap`'s map: they are distinct, trusted integers, so
/// a multiply and a shift spread them well enough, far cheaper than SipHash.
#[derive(Default)]
struct PairHasher(u64);

impl Hasher for PairHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0 ^ b as u64);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}
