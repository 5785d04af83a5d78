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
use std::sync::Arc;
use std::time::Duration;

use super::state::{Active, Engine, Fill, Writer};
use crate::datafile::seal::{write_seal, SealFailed};
use crate::datafile::{DataFile, FileHeader, Reservation, FILE_HEADER_LEN};
use crate::error::{Error, Result};
use crate::filename::{self, FileKind};
use crate::fileset::{FileEntry, SortedRun};
use crate::options::SyncMode;
use crate::record;
use crate::util::sync::lock;
use crate::vfs::{OpenMode, Pages, Vfs};

impl Engine {
    /// Seals the active file (if it holds records) and starts a new one able to take a record
    /// of `need` bytes. A full disk (failing the seal's write, or the new file's creation)
    /// only fails this call, and the next write tries again; a failure later in the seal
    /// stops writes (see `seal_active`).
    pub(crate) fn rotate(&self, w: &mut Writer, need: u64) -> Result<()> {
        let mut full = false;
        if let Some(a) = &w.active {
            if a.end == FILE_HEADER_LEN as u64 {
                // Empty: drop it and make one big enough (a record larger than max_file_size).
                self.discard_empty_active(w)?;
            } else {
                full = true;
                self.merger.note_written(a.end);
                w.last_fill = Some(Fill {
                    bytes: a.end,
                    took: a.since.elapsed(),
                });
                // Without SyncMode::Always nothing waits for this file to be durable, so its
                // fsync runs in the background instead of stalling this write; only when
                // MAX_PENDING_SEALS files already wait does the writer wait for the oldest.
                let background = self.opts.sync != SyncMode::Always;
                if background {
                    self.sealing.wait_below(MAX_PENDING_SEALS);
                }
                self.seal_active(w, background)?;
            }
        }
        self.create_active(w, need, full)
    }

    /// Seals the active file: writes its seal after its records, then cuts it there, makes
    /// it durable, renames it sealed and makes the rename durable, either now or on a
    /// background thread. Until then it keeps its active name, which recovery treats as an
    /// active file (torn tail allowed).
    ///
    /// The seal's write happens here, under the writer mutex, in every sync mode: it is the
    /// one step a full disk can fail (where the file's space is not reserved) that can be
    /// undone, and only here can the failure go back to the write that needs the new file.
    /// The file is then cut back to its records and stays the active file, and writes go on.
    /// Any later failure stops writes: once the whole seal is in the file, a reader may have
    /// seen it, and no record may follow it; and a failed fsync is final.
    pub fn seal_active(&self, w: &mut Writer, background: bool) -> Result<()> {
        let Some(a) = w.active.take() else {
            return Ok(());
        };
        let (f, end) = (a.file.clone(), a.end);
        let len = match write_seal(&f, end, w.next_seq - 1) {
            Ok(len) => len,
            Err(SealFailed { error, cut }) => {
                match cut {
                    Ok(()) => w.active = Some(a),
                    Err(e) => self.stop(&e),
                }
                return Err(error);
            }
        };
        if let Some(e) = lock(&self.files).by_id.get_mut(&f.id()) {
            e.scanned_to = end;
        }
        if background {
            let me = self.me.clone();
            let file = f.clone();
            let sealing = self.sealing.clone();
            self.sealing.begin();
            let spawned = self.sealer.submit(move || {
                if let Some(db) = me.upgrade() {
                    if let Err(e) = db.publish_sealed(&file, len) {
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
        self.publish_sealed(&f, len).inspect_err(|e| self.stop(e))
    }

    /// Publishes a former active file that ends with its seal at `len` (see
    /// `publish_sealed_file`) and marks it sealed in the file set.
    /// Then queues its hint file (see `hinting`).
    pub(crate) fn publish_sealed(&self, f: &DataFile, len: u64) -> Result<()> {
        crate::datafile::seal::publish_sealed_file(self.vfs(), &self.dir, f, len)?;
        if let Some(e) = lock(&self.files).by_id.get_mut(&f.id()) {
            e.active = false;
        }
        self.reopen_sealed(f);
        let sealed = lock(&self.files).by_id.get(&f.id()).map(|e| e.file.clone());
        if let Some(file) = sealed {
            self.hint_later(file, false);
        }
        Ok(())
    }

    /// Swaps a file the writer has just sealed for the same file opened sealed: mapped
    /// read-only without a descriptor of its own (see `vfs::descriptors`), so a writer that
    /// seals many files holds no descriptor for each. Best effort: when the reopening fails
    /// (out of descriptors that moment), the writable one goes on serving reads. Readers
    /// that hold the old one read the same bytes through it until they let go.
    fn reopen_sealed(&self, f: &DataFile) {
        let Ok(sealed) = DataFile::open(self.vfs(), &f.path(), OpenMode::ReadSealed, f.id()) else {
            return;
        };
        lock(&self.files).replace(&self.keydir, Arc::new(sealed));
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
        // The number first: out of numbers, no file is made (and none left behind).
        let no = lock(&self.files).alloc_active_no(&self.dir)?;
        let made = match self.preparer.take(capacity, self.vfs()) {
            Some(ready) => self.activate_prepared(&ready.0).map(|()| ready),
            None => {
                let spec = self.next_file(w, capacity);
                make_file(self.vfs(), &self.dir, spec).map(|file| {
                    let file = Arc::new(file);
                    self.prefault_later(file.clone(), capacity);
                    (file, capacity)
                })
            }
        };
        let (file, capacity) = made.inspect_err(|_| lock(&self.files).release_no(no))?;
        self.install_active(w, no, file, FILE_HEADER_LEN as u64, capacity);
        if full {
            // The writer has just filled a whole file: the next one will be needed soon, so
            // it is made now, while this one fills, rather than from half way.
            self.prepare_next(w);
        }
        Ok(())
    }

    /// Gives the file prepared ahead its active name. The rename is not made durable here:
    /// the prepared file's own name is (with `SyncMode::Always`), and recovery takes a
    /// prepared file that holds records for the active file it had become, so a power cut
    /// before the next directory fsync loses nothing.
    fn activate_prepared(&self, file: &DataFile) -> Result<()> {
        let from = file.path();
        let to = filename::path(&self.dir, file.id(), FileKind::Active);
        if let Err(e) = self.vfs().rename(&from, &to) {
            let _ = self.vfs().remove_file(&from);
            return Err(Error::io("rename", &from, e));
        }
        file.set_path(to);
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
        let spec = FileSpec {
            kind: FileKind::Prepared,
            ..self.next_file(w, self.opts.max_file_size)
        };
        let (vfs, dir, preparer) = (
            self.opts.vfs.clone(),
            self.dir.clone(),
            self.preparer.clone(),
        );
        let prefaults = self.prefaults();
        let spawned = self.preparer.worker.submit(move || {
            let file = make_file(&*vfs, &dir, spec).map(Arc::new).ok();
            // Handed over as soon as it exists; prefaulting it follows, and goes on while the
            // writer may already be appending to it (the prefault keeps ahead of the writer,
            // see `VFile::prefault`).
            let epoch = preparer.finish(file.clone().map(|f| (f, spec.capacity)), &*vfs);
            if let (Some(file), Some(epoch), true) = (file, epoch, prefaults) {
                preparer.prefault(&file, spec.capacity, epoch);
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

    /// The next active file, of `capacity` bytes: it takes the next id, and its pages suit
    /// the writer's pace (see `active_file_pages`).
    fn next_file(&self, w: &mut Writer, capacity: u64) -> FileSpec {
        FileSpec {
            kind: FileKind::Active,
            store: self.store_tag,
            id: w.ids.next_id(),
            seq_base: w.next_seq,
            capacity,
            pages: active_file_pages(self.opts.sync, w.last_fill),
            durable_entry: self.opts.sync == SyncMode::Always,
        }
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
            .find(|&c| file.file.reserve(c, Pages::Base).is_ok())
            .unwrap_or(end);
        self.prefault_later(file.clone(), capacity);
        w.active = Some(Active::new(file, no, end, capacity));
    }

    fn install_active(
        &self,
        w: &mut Writer,
        no: u32,
        file: Arc<DataFile>,
        end: u64,
        capacity: u64,
    ) {
        let entry = FileEntry {
            no,
            file: file.clone(),
            active: true,
            hint_len: 0,
            sorted_run: SortedRun::Unknown,
            keys_read: None,
            scanned_to: end,
            kept_bytes: None,
        };
        lock(&self.files).admit(&self.keydir, entry);
        w.active = Some(Active::new(file, no, end, capacity));
    }
}

/// A new active file, as `make_file` makes it.
#[derive(Clone, Copy)]
struct FileSpec {
    /// `Active`, or `Prepared` for a file made ahead of the rotation that activates it (a
    /// name that is not a data file's: the directory shows only the files in use).
    kind: FileKind,
    /// The store's tag (see `identity`).
    store: u32,
    id: u64,
    /// The sequence number of its first record.
    seq_base: u64,
    /// Bytes reserved for it.
    capacity: u64,
    pages: Pages,
    /// Whether its directory entry is made durable. Not needed without `SyncMode::Always`:
    /// no write is acknowledged as durable then, and the next seal's directory fsync, or
    /// `sync`, covers the entry.
    durable_entry: bool,
}

/// Creates an active file with its space reserved (see `FileSpec`); removes it again if any
/// step fails.
fn make_file(vfs: &dyn Vfs, dir: &Path, spec: FileSpec) -> Result<DataFile> {
    let path = filename::path(dir, spec.id, spec.kind);
    let header = FileHeader {
        store: spec.store,
        id: spec.id,
        seq_base: spec.seq_base,
        ..FileHeader::default()
    };
    let reserve = Reservation {
        len: spec.capacity,
        pages: spec.pages,
    };
    let file = DataFile::create(vfs, &path, header, Some(reserve))?;
    if spec.durable_entry {
        if let Err(e) = vfs.sync_dir(dir) {
            drop(file);
            let _ = vfs.remove_file(&path);
            return Err(Error::io("sync directory", dir, e));
        }
    }
    Ok(file)
}

/// How long a dirty page may wait in the page cache before the kernel writes it back, by
/// default (`vm.dirty_expire_centisecs`).
const KERNEL_WRITEBACK_AGE: Duration = Duration::from_secs(30);

/// The fastest appends for which a new file gets huge pages, in bytes per second.
const MAX_HUGE_PAGE_APPEND_RATE: u64 = 1 << 30;

/// The pages a new active file asks for, given the store's sync mode and how fast the writer
/// filled the last file.
///
/// Huge pages make reads of the file cheaper for as long as it stays cached (one TLB entry
/// per 2 MiB instead of 512), but the kernel writes each back whole. So they are used only
/// when the writer fills a file within one flush period (the sync interval, or the kernel's
/// writeback age): each 2 MiB page is then written back about once, as its base pages would
/// be. Never with `SyncMode::Always`, whose fdatasync per put would write 2 MiB each time;
/// not before the pace is known (the first files after opening); and not for appends faster
/// than `MAX_HUGE_PAGE_APPEND_RATE`: a fault on a huge page zeroes all 2 MiB of it at once,
/// and a writer that fast catches up with the background prefault and waits for the zeroing
/// (base pages are zeroed a few KiB at a time, by whichever thread gets there first).
fn active_file_pages(sync: SyncMode, last_fill: Option<Fill>) -> Pages {
    let flush_period = match sync {
        SyncMode::Always => return Pages::Base,
        SyncMode::None => KERNEL_WRITEBACK_AGE,
        SyncMode::Interval(every) => every.min(KERNEL_WRITEBACK_AGE),
    };
    let Some(fill) = last_fill else {
        return Pages::Base;
    };
    let fastest = Duration::from_secs_f64(fill.bytes as f64 / MAX_HUGE_PAGE_APPEND_RATE as f64);
    if (fastest..=flush_period).contains(&fill.took) {
        Pages::Huge
    } else {
        Pages::Base
    }
}

/// Files waiting for their background seal before the writer waits for one to finish: up to
/// 1 GiB of written data with the default file size. Sealing runs at the disk's speed, which
/// can be well below the speed of appends into the page cache.
const MAX_PENDING_SEALS: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    fn filled_in(ms: u64) -> Option<Fill> {
        Some(Fill {
            bytes: 4 << 20,
            took: Duration::from_millis(ms),
        })
    }

    #[test]
    fn huge_pages_only_for_a_known_pace_within_the_flush_period() {
        let none = SyncMode::None;
        assert_eq!(active_file_pages(none, filled_in(10)), Pages::Huge);
        assert_eq!(active_file_pages(none, filled_in(29_000)), Pages::Huge);
        // Slower than the kernel's writeback age: a 2 MiB page would be written many times.
        assert_eq!(active_file_pages(none, filled_in(31_000)), Pages::Base);
        // The pace is not known yet.
        assert_eq!(active_file_pages(none, None), Pages::Base);
        // 4 MiB in 2 ms is 2 GiB/s: the writer would wait for huge pages to be zeroed.
        assert_eq!(active_file_pages(none, filled_in(2)), Pages::Base);
        // Every put synced: never.
        assert_eq!(
            active_file_pages(SyncMode::Always, filled_in(10)),
            Pages::Base
        );
        // Flushed every second: only a file filled within the second.
        let interval = SyncMode::Interval(Duration::from_secs(1));
        assert_eq!(active_file_pages(interval, filled_in(900)), Pages::Huge);
        assert_eq!(active_file_pages(interval, filled_in(1100)), Pages::Base);
    }
}
