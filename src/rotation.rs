//! The life of data files on the write side: rotation, sealing (possibly in the
//! background) and preparing the next active file ahead of time.
//!
//! Rotation must not stall a put: without `SyncMode::Always`, the sealed file's fsync,
//! rename and directory fsync run on a background thread, and the next active file is made
//! (created, space reserved, mapped, directory fsynced) while the current one fills, so the
//! swap itself costs a few system calls. Each of the two jobs has one long-lived thread
//! (`Worker`): seals run one at a time, in order, so their fsyncs do not pile up in the
//! disk's queue, where every metadata update of the file system (creating or reserving the
//! next file) would wait behind them. The crash rules still hold: a file is renamed
//! sealed only after its data is durable, and an active file is used only after its
//! directory entry is.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use crate::datafile::{DataFile, FileHeader, FILE_HEADER_LEN};
use crate::db::{lock, Active, Shared, Writer};
use crate::error::{Error, Result};
use crate::filename::{self, FileKind};
use crate::fileset::FileEntry;
use crate::options::SyncMode;
use crate::record;
use crate::vfs::Vfs;
use crate::worker::Worker;

impl Shared {
    /// Seals the active file (if it holds records) and starts a new one able to take a record
    /// of `need` bytes. A failure while sealing stops writes; a failure creating the new file
    /// (a full disk) only fails this call, and the next write tries again.
    pub(crate) fn rotate(&self, w: &mut Writer, need: u64) -> Result<()> {
        let mut full = false;
        if let Some(a) = &w.active {
            if a.end == FILE_HEADER_LEN as u64 {
                // Empty: drop it and make one big enough (a record larger than max_file_size).
                self.discard_empty_active(w)?;
            } else {
                full = true;
                // Without SyncMode::Always nothing waits for this file to be durable, so its
                // fsync runs in the background instead of stalling this write; only when
                // MAX_PENDING_SEALS files already wait does the writer wait for the oldest.
                let background = self.opts.sync != SyncMode::Always;
                if background {
                    self.sealing.wait_below(MAX_PENDING_SEALS);
                }
                self.seal_active(w, background)
                    .inspect_err(|e| self.stop(e))?;
            }
        }
        self.create_active(w, need, full)
    }

    /// Seals the active file: cuts it to its records, then makes it durable, renames it
    /// sealed and makes the rename durable, either now or on a background thread. Until then
    /// it keeps its active name, which recovery treats as an active file (torn tail allowed).
    pub fn seal_active(&self, w: &mut Writer, background: bool) -> Result<()> {
        let Some(a) = w.active.take() else {
            return Ok(());
        };
        let (f, end, last_seq) = (a.file, a.end, w.next_seq - 1);
        if let Some(e) = lock(&self.files).by_id.get_mut(&f.id()) {
            e.scanned_to = a.end;
        }
        if background {
            let me = self.me.clone();
            let file = f.clone();
            let sealing = self.sealing.clone();
            self.sealing.begin();
            let spawned = self.sealer.submit(move || {
                if let Some(db) = me.upgrade() {
                    if let Err(e) = db.publish_sealed(&file, end, last_seq) {
                        db.stop(&e);
                    }
                }
                // Only after letting go of the handle and the file: whoever waits for the
                // seal may then drop the handle and expect its lock released and its files
                // closed.
                drop(file);
                sealing.end();
            });
            if spawned.is_ok() {
                return Ok(());
            }
            self.sealing.end();
        }
        self.publish_sealed(&f, end, last_seq)
    }

    /// Seals a former active file whose records end at `end` (see `seal_file`) and marks it
    /// sealed in the file set.
    pub(crate) fn publish_sealed(&self, f: &DataFile, end: u64, last_seq: u64) -> Result<()> {
        seal_file(self.vfs(), &self.dir, f, end, last_seq)?;
        if let Some(e) = lock(&self.files).by_id.get_mut(&f.id()) {
            e.active = false;
        }
        Ok(())
    }

    fn discard_empty_active(&self, w: &mut Writer) -> Result<()> {
        let a = w.active.take().expect("checked by caller");
        self.forget_file(a.file.id());
        let path = filename::path(&self.dir, a.file.id(), FileKind::Active);
        self.vfs()
            .remove_file(&path)
            .map_err(|e| Error::io("remove", &path, e))?;
        self.sync_dir()
    }

    /// Starts a new active file with room for at least `need` bytes of records: the one
    /// prepared in the background when it is ready and big enough, else a new one now.
    /// `full`: the file it replaces was sealed because it was full.
    pub fn create_active(&self, w: &mut Writer, need: u64, full: bool) -> Result<()> {
        let least = FILE_HEADER_LEN as u64 + need + record::SEAL_LEN;
        let capacity = self.opts.max_file_size.max(least);
        let (file, capacity) = match self.preparer.take(capacity, self.vfs()) {
            Some(ready) => ready,
            None => {
                let id = w.ids.next_id();
                let durable = self.opts.sync == SyncMode::Always;
                let file = make_file(self.vfs(), &self.dir, id, w.next_seq, capacity, durable)?;
                let file = Arc::new(file);
                self.prefault_later(file.clone(), capacity);
                (file, capacity)
            }
        };
        self.install_active(w, file, FILE_HEADER_LEN as u64, capacity);
        if full {
            // The writer has just filled a whole file: the next one will be needed soon, so
            // it is made now, while this one fills, rather than from half way.
            self.prepare_next(w);
        }
        Ok(())
    }

    /// Starts making the next active file on the preparer's thread (creation, space
    /// reservation, mapping, directory fsync), so that rotating is a swap. The writer asks
    /// once per active file: when it is half full (`Active::prepare_at`), or as soon as it is
    /// installed when the previous one was filled.
    pub(crate) fn prepare_next(&self, w: &mut Writer) {
        let Some(a) = &mut w.active else { return };
        // Once per file: the writer's check before calling is one comparison, no lock.
        a.prepare_at = u64::MAX;
        if !self.preparer.start() {
            return;
        }
        let capacity = self.opts.max_file_size;
        let (id, seq_base) = (w.ids.next_id(), w.next_seq);
        let (vfs, dir, preparer) = (
            self.opts.vfs.clone(),
            self.dir.clone(),
            self.preparer.clone(),
        );
        let durable = self.opts.sync == SyncMode::Always;
        let prefaults = self.prefaults();
        let spawned = self.preparer.worker.submit(move || {
            let made = make_file(&*vfs, &dir, id, seq_base, capacity, durable).map(Arc::new);
            let file = made.ok();
            // Handed over as soon as it exists; prefaulting it follows, and goes on while the
            // writer may already be appending to it (the prefault keeps ahead of the writer,
            // see `VFile::prefault`).
            let epoch = preparer.finish(file.clone().map(|f| (f, capacity)), &*vfs);
            if let (Some(file), Some(epoch), true) = (file, epoch, prefaults) {
                preparer.prefault(&file, capacity, epoch);
            }
        });
        if spawned.is_err() {
            self.preparer.finish(None, self.vfs());
        }
    }

    /// Whether active files are prefaulted: not when every write is synced. Prefaulting for
    /// writing dirties the file's pages (zeros), and the next fdatasync, which a put is
    /// waiting for, must then write them all back; against a sync, the page faults it saves
    /// a durable put are noise.
    fn prefaults(&self) -> bool {
        self.opts.sync != SyncMode::Always
    }

    /// Prefaults a file the writer made or resumed itself, on the preparer's thread.
    fn prefault_later(&self, file: Arc<DataFile>, capacity: u64) {
        if !self.prefaults() {
            return;
        }
        let preparer = self.preparer.clone();
        let epoch = preparer.epoch();
        let _ = self
            .preparer
            .worker
            .submit(move || preparer.prefault(&file, capacity, epoch));
    }

    /// Continues appending to the active file found on open. When its space cannot be
    /// reserved (a full disk), it is treated as full: the next write seals it and tries a
    /// new file, and fails cleanly if there is still no room.
    pub(crate) fn resume_active(&self, w: &mut Writer, id: u64, end: u64) {
        let entry_file = lock(&self.files)
            .by_id
            .get(&id)
            .map(|e| (e.no, e.file.clone()));
        let (no, file) = entry_file.expect("recovery registered the active file");
        // Short of space, at least the seal that closes the file must fit.
        let wanted = self.opts.max_file_size.max(end + record::SEAL_LEN);
        let capacity = [wanted, end + record::SEAL_LEN]
            .into_iter()
            .find(|&c| file.file.reserve(c).is_ok())
            .unwrap_or(end);
        self.prefault_later(file.clone(), capacity);
        w.active = Some(Active::new(file, no, end, capacity));
    }

    fn install_active(&self, w: &mut Writer, file: Arc<DataFile>, end: u64, capacity: u64) {
        let mut files = lock(&self.files);
        let no = files.alloc_no();
        self.keydir.add_file(no, file.clone());
        files.insert(FileEntry {
            no,
            file: file.clone(),
            active: true,
            hint_len: 0,
            scanned_to: end,
        });
        w.active = Some(Active::new(file, no, end, capacity));
    }
}

/// Writes the seal of former active file `f` after its records (which end at `end`) and
/// publishes it (`publish_sealed_file`); returns the sealed file's length.
pub(crate) fn seal_file(
    vfs: &dyn Vfs,
    dir: &Path,
    f: &DataFile,
    end: u64,
    last_seq: u64,
) -> Result<u64> {
    let seal = record::encode_seal(f.id(), end, last_seq);
    f.file
        .write_all_at(end, &[&seal])
        .map_err(|e| Error::io("write seal of", f.path(), e))?;
    let len = end + record::SEAL_LEN;
    publish_sealed_file(vfs, dir, f, len)?;
    Ok(len)
}

/// Cuts former active file `f`, which ends with its seal, to `len`, makes it durable,
/// renames it sealed and makes the rename durable. The truncation happens here too: on ext4
/// it can wait for a journal commit.
pub(crate) fn publish_sealed_file(vfs: &dyn Vfs, dir: &Path, f: &DataFile, len: u64) -> Result<()> {
    f.file
        .set_len(len)
        .map_err(|e| Error::io("truncate", f.path(), e))?;
    f.file
        .sync_data()
        .map_err(|e| Error::io("sync", f.path(), e))?;
    let from = filename::path(dir, f.id(), FileKind::Active);
    let to = filename::path(dir, f.id(), FileKind::Sealed);
    vfs.rename(&from, &to)
        .map_err(|e| Error::io("rename", &from, e))?;
    f.set_path(to);
    vfs.sync_dir(dir)
        .map_err(|e| Error::io("sync directory", dir, e))
}

/// Creates active file `id`, reserves `capacity` bytes for it and makes its directory entry
/// durable; removes it again if any step fails.
/// The directory fsync is skipped when `durable_entry` is false (no write is acknowledged as
/// durable without `SyncMode::Always`; the next seal's directory fsync, or `sync`, covers it).
fn make_file(
    vfs: &dyn Vfs,
    dir: &Path,
    id: u64,
    seq_base: u64,
    capacity: u64,
    durable_entry: bool,
) -> Result<DataFile> {
    let path = filename::path(dir, id, FileKind::Active);
    let header = FileHeader {
        id,
        seq_base,
        ..FileHeader::default()
    };
    let file = DataFile::create(vfs, &path, header)?;
    let setup = file
        .file
        .reserve(capacity)
        .map_err(|e| Error::io("reserve space for", &path, e))
        .and_then(|_| match durable_entry {
            true => vfs
                .sync_dir(dir)
                .map_err(|e| Error::io("sync directory", dir, e)),
            false => Ok(()),
        });
    if let Err(e) = setup {
        drop(file);
        let _ = vfs.remove_file(&path);
        return Err(e);
    }
    Ok(file)
}

/// Files waiting for their background seal before the writer waits for one to finish: up to
/// 1 GiB of written data with the default file size. Sealing runs at the disk's speed, which
/// can be well below the speed of appends into the page cache.
const MAX_PENDING_SEALS: usize = 256;

/// Counts files being sealed in the background, so that compaction, `sync` and close can
/// wait for them.
#[derive(Default)]
pub(crate) struct Sealing {
    pending: Mutex<usize>,
    done: Condvar,
}

impl Sealing {
    fn begin(&self) {
        *lock(&self.pending) += 1;
    }

    fn end(&self) {
        *lock(&self.pending) -= 1;
        self.done.notify_all();
    }

    /// Returns once no seal is in progress.
    pub fn wait(&self) {
        self.wait_below(1);
    }

    /// Returns once fewer than `max` seals are in progress.
    pub fn wait_below(&self, max: usize) {
        let mut n = lock(&self.pending);
        while *n >= max {
            n = self.done.wait(n).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Bytes prefaulted per call: a file the writer has filled (and its seal has cut) before the
/// prefault reached its end stops the prefault within one chunk.
const PREFAULT_CHUNK: u64 = 256 * 1024;

/// The next active file, made ready in the background. `discard` (on compaction and close)
/// throws away a ready or in-flight file: every file activated after a compaction starts must
/// have an id above the compaction's merge base, or recovery would take it for an input.
pub(crate) struct Preparer {
    state: Mutex<PrepareState>,
    done: Condvar,
    pub worker: Worker,
}

impl Default for Preparer {
    fn default() -> Self {
        Preparer {
            state: Mutex::default(),
            done: Condvar::new(),
            worker: Worker::new("bitask-prepare"),
        }
    }
}

#[derive(Default)]
struct PrepareState {
    epoch: u64,
    in_flight: Option<u64>,
    ready: Option<(Arc<DataFile>, u64)>,
}

impl Preparer {
    /// Claims the right to prepare a file; false when one is ready or on its way.
    fn start(&self) -> bool {
        let mut st = lock(&self.state);
        if st.in_flight.is_some() || st.ready.is_some() {
            return false;
        }
        st.in_flight = Some(st.epoch);
        true
    }

    /// Hands in the prepared file (or nothing, after a failure); returns the epoch it was
    /// accepted in. A file prepared before the last `discard` is removed instead.
    fn finish(&self, made: Option<(Arc<DataFile>, u64)>, vfs: &dyn Vfs) -> Option<u64> {
        let mut st = lock(&self.state);
        let current = st.in_flight.take() == Some(st.epoch);
        let accepted = match made {
            Some(m) if current => {
                st.ready = Some(m);
                Some(st.epoch)
            }
            Some((file, _)) => {
                let _ = vfs.remove_file(&file.path());
                None
            }
            None => None,
        };
        self.done.notify_all();
        accepted
    }

    fn epoch(&self) -> u64 {
        lock(&self.state).epoch
    }

    /// Faults `file`'s first `capacity` bytes in for writing, a chunk at a time, front to
    /// back (the order the writer appends in), until done, the file is cut (sealed or
    /// closed), or a `discard` ends `epoch`.
    fn prefault(&self, file: &DataFile, capacity: u64, epoch: u64) {
        let mut at = 0;
        while at < capacity && self.epoch() == epoch {
            if !file.file.prefault(at, PREFAULT_CHUNK) {
                break;
            }
            at += PREFAULT_CHUNK;
        }
    }

    /// The ready file, if there is one and it can hold `capacity` bytes. Files must become
    /// active in the order of their ids (load order is by id), so when the ready file cannot
    /// be used, it and any in-flight one are thrown away before the caller makes another.
    /// A preparation still running is waited for: it is already part way through the work
    /// the caller would otherwise start from scratch.
    fn take(&self, capacity: u64, vfs: &dyn Vfs) -> Option<(Arc<DataFile>, u64)> {
        let mut st = lock(&self.state);
        while st.in_flight.is_some() {
            st = self.done.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        match st.ready.take() {
            Some(ready) if ready.1 >= capacity => Some(ready),
            other => {
                st.ready = other;
                drop(st);
                self.discard(vfs, false);
                None
            }
        }
    }

    /// Removes the ready file and disowns any in-flight one; with `wait`, returns only once
    /// no preparation is running (so nothing is created after a handle closes).
    pub(crate) fn discard(&self, vfs: &dyn Vfs, wait: bool) {
        let mut st = lock(&self.state);
        st.epoch += 1;
        if let Some((file, _)) = st.ready.take() {
            let _ = vfs.remove_file(&file.path());
        }
        while wait && st.in_flight.is_some() {
            st = self.done.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}
