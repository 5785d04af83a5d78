//! The public handle, [`Bitask`], and the write path.
//!
//! # Concurrency model
//! A `Bitask` is `Send + Sync`; every method takes `&self`.
//! - Reads (`get`, `ask`, `contains`, iteration) take only the read lock of the one key
//!   directory shard their key hashes to (64 shards, each on its own cache line), and copy the
//!   value out of the memory-mapped file under it. Readers never wait for each other, and wait
//!   for a writer only while it updates that shard (a few hundred nanoseconds).
//! - Writes (`put`, `remove`) are serialized by the writer mutex: append the record, then
//!   publish its location in the shard. With `SyncMode::Always` the `fdatasync` happens after
//!   the mutex is released, and one `fdatasync` covers every write appended before it (group
//!   commit), so concurrent durable writers share the cost.
//! - `compact` runs beside reads and writes; they wait only while it swaps each shard's entries
//!   to the merged files. One compaction runs at a time.
//! - Across processes: one writer holds `db.lock` (an exclusive `flock`); read-only handles take
//!   no lock and see the store as of `open` or their last `refresh`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use crate::datafile::{DataFile, FILE_HEADER_LEN};
use crate::durability::{Flusher, GroupCommit};
pub use crate::error::{Error, Result};
use crate::filename::{self, IdGen};
use crate::fileset::FileSet;
use crate::iter::Iter;
use crate::keydir::{KeyDir, Location};
pub use crate::options::{Options, SyncMode};
use crate::options::{MAX_KEY_LEN, MAX_VALUE_LEN};
use crate::record;
use crate::recovery;
use crate::rotation::{Fill, Preparer, Sealing};
use crate::util::sync::lock;
use crate::util::worker::Worker;
use crate::vfs::{FileLock, Vfs};

/// The size at which the active file is sealed by default, under the name bitask 0.1.1 gave
/// it (see [`crate::DEFAULT_MAX_FILE_SIZE`]; [`Options::max_file_size`] sets it per store).
pub const MAX_ACTIVE_FILE_SIZE: u64 = crate::options::DEFAULT_MAX_FILE_SIZE;

/// Figures about a store, from `Bitask::stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live keys.
    pub key_count: u64,
    /// Bytes of the records that hold live values.
    pub live_bytes: u64,
    /// Bytes of records that are overwritten, deleted or tombstones (reclaimed by `compact`).
    pub dead_bytes: u64,
    /// Data files (sealed and active).
    pub data_files: u64,
    /// Bytes of data and hint files on disk (the active file counts its reserved size).
    pub disk_bytes: u64,
    /// Bytes of torn records cut from the end of the active file when the store was opened.
    pub torn_bytes: u64,
}

/// A Bitcask store. See the module documentation for the concurrency model.
pub struct Bitask {
    shared: Arc<Shared>,
    flusher: Option<Flusher>,
}

/// State shared by the handle, its iterators and its background flusher.
pub(crate) struct Shared {
    pub dir: PathBuf,
    /// The tag this store's new data files carry (see `identity`).
    pub store_tag: u32,
    pub opts: Options,
    pub keydir: KeyDir,
    pub files: Mutex<FileSet>,
    pub writer: Option<Mutex<Writer>>,
    pub live_bytes: AtomicU64,
    pub torn_bytes: AtomicU64,
    /// Largest sequence number loaded (read-only handles continue from it on refresh).
    pub loaded_seq: AtomicU64,
    pub commit: GroupCommit,
    stopped: AtomicBool,
    stop_reason: Mutex<String>,
    pub merging: Mutex<()>,
    /// Files being sealed in the background.
    pub sealing: Arc<Sealing>,
    /// The thread that seals files in the background.
    pub sealer: Worker,
    /// The next active file, made ready in the background.
    pub preparer: Arc<Preparer>,
    /// This handle's own `Arc`, for background work that must not keep it alive.
    pub me: Weak<Shared>,
    /// Serializes `refresh` on read-only handles.
    pub refreshing: Mutex<()>,
    /// Serializes `sync` outside group commit (the interval flusher and callers): the kernel
    /// reports a writeback error to one `fdatasync` only, so two running side by side could
    /// let one succeed over data the other's error lost.
    syncing: Mutex<()>,
    _lock: Option<Box<dyn FileLock>>,
}

/// The writer's state: the file being appended to and the next sequence number.
pub(crate) struct Writer {
    pub active: Option<Active>,
    pub next_seq: u64,
    pub ids: IdGen,
    /// How fast the last active file sealed full was filled: the writer's pace.
    pub last_fill: Option<Fill>,
}

pub(crate) struct Active {
    pub file: Arc<DataFile>,
    pub no: u32,
    /// Where the next record goes.
    pub end: u64,
    /// Bytes the file may hold before it is sealed.
    pub capacity: u64,
    /// Once `end` reaches this, the next active file is asked for (`u64::MAX`: asked).
    pub prepare_at: u64,
    /// When it became the active file.
    pub since: Instant,
}

impl Active {
    /// The active file `file` (number `no`), written up to `end`, holding up to `capacity`
    /// bytes; the next one is asked for once it is half full.
    pub fn new(file: Arc<DataFile>, no: u32, end: u64, capacity: u64) -> Active {
        Active {
            file,
            no,
            end,
            capacity,
            prepare_at: capacity / 2,
            since: Instant::now(),
        }
    }
}

fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidEmptyKey);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::TooLarge {
            what: "key",
            len: key.len(),
            max: MAX_KEY_LEN,
        });
    }
    Ok(())
}

fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::TooLarge {
            what: "value",
            len: value.len(),
            max: MAX_VALUE_LEN,
        });
    }
    Ok(())
}

impl Bitask {
    /// Opens (creating if needed) the store in `path` for writing, with default options.
    /// Fails with [`Error::WriterLock`] while another handle writes to it.
    pub fn open(path: impl AsRef<Path>) -> Result<Bitask> {
        Bitask::open_with(path, Options::default())
    }

    /// Opens the store in `path` with `opts`. A relative path is resolved against the current
    /// directory once, here: the handle keeps using that directory when the process changes
    /// its working directory later.
    pub fn open_with(path: impl AsRef<Path>, opts: Options) -> Result<Bitask> {
        opts.validate()?;
        let path = path.as_ref();
        let dir = std::path::absolute(path).map_err(|e| Error::io("resolve", path, e))?;
        let vfs = opts.vfs.clone();
        let created_dir = prepare_dir(&*vfs, &dir, &opts)?;
        let writer_lock = match (!opts.read_only).then(|| WriterLock::take(&*vfs, &dir)) {
            Some(Err(e)) => {
                undo_created_dir(&*vfs, &dir, created_dir);
                return Err(e);
            }
            Some(Ok(lock)) => Some(lock),
            None => None,
        };
        let loaded = check_not_exists(&*vfs, &dir, &opts)
            .and_then(|()| load_retrying(&*vfs, &dir, opts.read_only, KeyDir::new));
        let (keydir, rec) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                // A refused open leaves nothing behind: not the lock file it made, nor the
                // directory.
                if let Some(l) = writer_lock {
                    l.abandon(&*vfs);
                }
                undo_created_dir(&*vfs, &dir, created_dir);
                return Err(e);
            }
        };
        let lock_file = writer_lock.map(|l| l.held);
        let live = keydir.live_bytes();
        let writer = if opts.read_only {
            None
        } else {
            Some(Mutex::new(Writer {
                active: None,
                next_seq: rec.next_seq,
                ids: IdGen::new(rec.max_id),
                last_fill: None,
            }))
        };
        let shared = Arc::new_cyclic(|me| Shared {
            me: me.clone(),
            sealing: Arc::default(),
            sealer: Worker::new("bitask-seal"),
            preparer: Arc::default(),
            dir,
            store_tag: rec.identity.tag,
            opts,
            keydir,
            files: Mutex::new(rec.files),
            writer,
            live_bytes: AtomicU64::new(live),
            torn_bytes: AtomicU64::new(rec.torn_bytes),
            loaded_seq: AtomicU64::new(rec.next_seq - 1),
            commit: GroupCommit::default(),
            stopped: AtomicBool::new(false),
            stop_reason: Mutex::new(String::new()),
            merging: Mutex::new(()),
            refreshing: Mutex::new(()),
            syncing: Mutex::new(()),
            _lock: lock_file,
        });
        if let Some(w) = &shared.writer {
            let mut w = lock(w);
            // Without an active file, the first write creates one: opening works on a full disk.
            if let Some((id, end)) = rec.active {
                shared.resume_active(&mut w, id, end);
            }
        }
        let flusher = match shared.opts.sync {
            SyncMode::Interval(every) if !shared.opts.read_only => {
                Some(Flusher::start(&shared, every))
            }
            _ => None,
        };
        Ok(Bitask { shared, flusher })
    }

    /// Stores `value` under `key`, replacing any earlier value.
    ///
    /// An error writes nothing, with one exception: with [`SyncMode::Always`], when the
    /// `fdatasync` that makes the record durable fails. The record is then in the data file,
    /// and was published when it was appended: readers of this handle see the new value from
    /// before the error on, and go on seeing it. This call returns [`Error::Io`]; every other
    /// write waiting for that sync (its record published too), and every later one, returns
    /// [`Error::Stopped`]. After a reopen the key holds the new value or the one before,
    /// whichever the disk kept. A full disk fails only the call (nothing is written), and
    /// once space is freed the handle writes again.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.shared.write(key.as_ref(), value.as_ref(), false)
    }

    /// The value of `key`, or [`Error::KeyNotFound`].
    pub fn ask(&self, key: impl AsRef<[u8]>) -> Result<Vec<u8>> {
        self.get(key)?.ok_or(Error::KeyNotFound)
    }

    /// The value of `key`, or `None` when absent. No memory for the value (up to
    /// `MAX_VALUE_LEN`) is an [`Error::Io`] of kind `OutOfMemory`, not an abort.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let key = key.as_ref();
        check_key(key)?;
        self.shared.keydir.with_entry(key, |loc, file| {
            let mut buf = crate::datafile::zeroed(loc.value_len(key.len()))
                .map_err(|e| Error::io("read", file.path(), e))?;
            file.read_value(loc.offset as u64, key, &mut buf)?;
            Ok(buf)
        })
    }

    /// Reads the value of `key` into a buffer made by `make(value_len)` (at least that long),
    /// and returns it; `None` when the key is absent. One index lookup and one copy.
    pub fn get_with_buffer<B: AsMut<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        make: impl FnOnce(usize) -> B,
    ) -> Result<Option<B>> {
        let key = key.as_ref();
        check_key(key)?;
        self.shared.keydir.with_entry(key, |loc, file| {
            let len = loc.value_len(key.len());
            let mut buf = make(len);
            file.read_value(loc.offset as u64, key, &mut buf.as_mut()[..len])?;
            Ok(buf)
        })
    }

    /// Copies the value of `key` into `buf` when it fits. Returns the value's length (`None`
    /// when absent); when the length exceeds `buf.len()`, nothing is copied.
    pub fn get_into(&self, key: impl AsRef<[u8]>, buf: &mut [u8]) -> Result<Option<usize>> {
        let key = key.as_ref();
        check_key(key)?;
        self.shared.keydir.find_map(key, |c| {
            let offset = c.offset as u64;
            if let Some(found) = c.file.read_in_place(offset, key, buf, || c.same_hash()) {
                return found;
            }
            if !c.same_hash() {
                return Ok(None); // another key's record under the same tag
            }
            let Some(len) = (c.rec_len() as usize).checked_sub(record::HEADER_LEN + key.len())
            else {
                return Ok(None);
            };
            if len > buf.len() {
                // Too small: confirm the key without the value, and report the length.
                return Ok(c.file.key_matches(offset, key)?.then_some(len));
            }
            Ok(c.file
                .read_if_key(offset, key, &mut buf[..len])?
                .then_some(len))
        })
    }

    /// True when `key` has a value.
    pub fn contains(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        check_key(key)?;
        Ok(self.shared.keydir.get(key)?.is_some())
    }

    /// Deletes `key`: appends a tombstone. [`Error::KeyNotFound`] (and nothing written) when
    /// the key is absent. A failed `fdatasync` leaves the tombstone published, as for
    /// [`Bitask::put`]: readers find the key absent, and after a reopen it is absent or has
    /// its value again.
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<()> {
        self.shared.write(key.as_ref(), &[], true)
    }

    /// Merges the sealed files (sealing the active one first) into new files with hint
    /// files, keeping only live records, then deletes the old files.
    pub fn compact(&self) -> Result<()> {
        crate::compaction::compact(&self.shared)
    }

    /// Makes every write so far durable.
    pub fn sync(&self) -> Result<()> {
        self.shared.sync_now()
    }

    /// On a read-only handle, loads what the writer has written since open or the last
    /// refresh. On a writer handle, does nothing.
    pub fn refresh(&self) -> Result<()> {
        if self.shared.opts.read_only {
            crate::refresh::refresh(&self.shared)
        } else {
            Ok(())
        }
    }

    /// Figures about the store.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// All keys in byte order, with their values read as the iterator reaches them (keys
    /// removed meanwhile are skipped). The keys are a snapshot taken now.
    ///
    /// Taking the snapshot reads the keys back from the data files; if that fails, the
    /// iterator's first item is the error (use [`Bitask::try_iter_prefix`] to get it at once).
    pub fn iter(&self) -> Iter {
        self.iter_prefix(b"")
    }

    /// Like [`Bitask::iter`], restricted to keys that start with `prefix`.
    pub fn iter_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        self.try_iter_prefix(prefix)
            .unwrap_or_else(|e| Iter::failed(self.shared.clone(), e))
    }

    /// Like [`Bitask::iter_prefix`], reporting a failure to take the snapshot at once.
    pub fn try_iter_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Iter> {
        Iter::new(self.shared.clone(), prefix.as_ref())
    }

    /// The directory of the store.
    pub fn path(&self) -> &Path {
        &self.shared.dir
    }

    /// Closes the handle, reporting what dropping it would silently ignore: trims the active
    /// file's reserved tail and, unless the sync mode is `None`, makes it durable.
    pub fn close(mut self) -> Result<()> {
        self.flusher.take();
        self.shared.finish()
    }
}

impl Drop for Bitask {
    fn drop(&mut self) {
        self.flusher.take();
        let _ = self.shared.finish();
    }
}

/// Makes sure the store's directory exists (creating it for a writer when
/// `create_if_missing`); returns whether this open created it.
fn prepare_dir(vfs: &dyn Vfs, dir: &Path, opts: &Options) -> Result<bool> {
    match vfs.is_dir(dir) {
        Ok(true) => Ok(false),
        Ok(false) => Err(Error::io(
            "open",
            dir,
            std::io::Error::from_raw_os_error(libc::ENOTDIR),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if opts.read_only || !opts.create_if_missing {
                return Err(Error::io("open", dir, e));
            }
            vfs.create_dir(dir)
                .map_err(|e| Error::io("create directory", dir, e))?;
            // The new directory's entry in its parent must be durable before anything in it is.
            if let Some(parent) = dir.parent() {
                vfs.sync_dir(parent)
                    .map_err(|e| Error::io("sync directory", parent, e))?;
            }
            Ok(true)
        }
        Err(e) => Err(Error::io("open", dir, e)),
    }
}

fn undo_created_dir(vfs: &dyn Vfs, dir: &Path, created: bool) {
    if created {
        let _ = vfs.remove_dir(dir);
    }
}

fn check_not_exists(vfs: &dyn Vfs, dir: &Path, opts: &Options) -> Result<()> {
    if opts.error_if_exists && recovery::holds_store(vfs, dir)? {
        return Err(Error::Exists(dir.to_path_buf()));
    }
    Ok(())
}

/// The writer lock of a directory, as taken by an open.
struct WriterLock {
    held: Box<dyn FileLock>,
    path: PathBuf,
    /// The lock file did not exist before this open made it.
    made: bool,
}

impl WriterLock {
    fn take(vfs: &dyn Vfs, dir: &Path) -> Result<WriterLock> {
        let path = dir.join(filename::LOCK_FILE);
        let made = matches!(vfs.is_dir(&path), Err(e) if e.kind() == std::io::ErrorKind::NotFound);
        let held = vfs.lock_exclusive(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                Error::WriterLock
            } else {
                Error::io("lock", &path, e)
            }
        })?;
        Ok(WriterLock { held, path, made })
    }

    /// Releases the lock of an open that failed, removing the lock file if the open made
    /// it. (Removing a lock file is safe only here: the directory is not a store this open
    /// will write, so a second opener that locked the same file has nothing to race for.)
    fn abandon(self, vfs: &dyn Vfs) {
        drop(self.held);
        if self.made {
            let _ = vfs.remove_file(&self.path);
        }
    }
}

/// Loads the directory; a read-only handle retries when the writer renamed or deleted a file
/// between listing and opening it.
pub(crate) fn load_retrying(
    vfs: &dyn Vfs,
    dir: &Path,
    read_only: bool,
    new_keydir: impl Fn() -> KeyDir,
) -> Result<(KeyDir, recovery::Recovered)> {
    let mut attempts = 0;
    loop {
        let keydir = new_keydir();
        match recovery::recover(vfs, dir, read_only, &keydir) {
            Err(e) if read_only && recovery::is_vanished(&e) && attempts < 100 => attempts += 1,
            other => return other.map(|rec| (keydir, rec)),
        }
    }
}

impl Shared {
    pub(crate) fn vfs(&self) -> &dyn Vfs {
        &*self.opts.vfs
    }

    pub fn writer(&self) -> Result<&Mutex<Writer>> {
        self.writer.as_ref().ok_or(Error::ReadOnly)
    }

    /// Fails when an earlier unrecoverable error stopped writes.
    pub fn check_running(&self) -> Result<()> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(Error::Stopped(lock(&self.stop_reason).clone()));
        }
        Ok(())
    }

    /// Stops writes for good: the state on disk is no longer known to match memory.
    pub fn stop(&self, reason: &Error) {
        let mut r = lock(&self.stop_reason);
        if r.is_empty() {
            *r = reason.to_string();
        }
        self.stopped.store(true, Ordering::Release);
    }

    fn write(&self, key: &[u8], value: &[u8], tombstone: bool) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        // The slot is a cache (and TLB) miss; it loads while the record is written.
        let hash = self.keydir.prefetch(key);
        let arrival = (self.opts.sync == SyncMode::Always).then(|| self.commit.arrive());
        let mut w = lock(self.writer()?);
        self.check_running()?;
        if tombstone && self.keydir.get(key)?.is_none() {
            return Err(Error::KeyNotFound);
        }
        let len = record::record_len(key.len(), value.len());
        // Room for the record and, after it, the seal that closes the file.
        let fits = w
            .active
            .as_ref()
            .is_some_and(|a| a.end + len + record::SEAL_LEN <= a.capacity);
        if !fits {
            self.rotate(&mut w, len)?;
        }
        let seq = w.next_seq;
        let now = filename::coarse_now_millis();
        let active = w.active.as_mut().expect("rotate leaves an active file");
        let offset = active.end;
        if let Err(e) = active
            .file
            .append_record(offset, seq, now, tombstone, key, value)
        {
            // Never leave a partial record in front of later good ones.
            if let Err(te) = active.file.file.set_len(offset) {
                self.stop(&Error::io(
                    "truncate after a failed write",
                    active.file.path(),
                    te,
                ));
            }
            return Err(e);
        }
        active.end += len;
        let ask_next = active.end >= active.prepare_at;
        let loc = Location {
            file: active.no,
            offset: offset as u32,
            rec_len: len as u32,
        };
        w.next_seq += 1;
        if ask_next {
            self.prepare_next(&mut w);
        }
        // Published now, before the `fdatasync` of `SyncMode::Always`, so a put whose sync
        // fails has been visible (as `put` documents). Publishing after the sync would not
        // make "nothing written" true: a failed fdatasync does not say whether the record
        // reached the disk, so a reopen may find it whatever readers were shown. And it would
        // move publication to the sync's leader, which would have to publish each batch in
        // sequence order (two writers of one key must never leave the older record
        // published) while a remove's check above, the live-byte count and a compaction's
        // sealing all saw a directory behind the log.
        let old = if tombstone {
            self.keydir.remove_hashed(hash, key)
        } else {
            self.keydir.insert_hashed(hash, key, loc)
        };
        // The record is on disk; an index failure (an I/O error confirming a key) would leave
        // memory behind the disk, so no further writes are accepted.
        let old = old.inspect_err(|e| self.stop(e))?;
        let freed = old.map_or(0, |o| o.rec_len as u64);
        let added = if tombstone { 0 } else { len };
        // Writers are serialized, so a load-modify-store cannot race another writer.
        let live = self.live_bytes.load(Ordering::Relaxed);
        self.live_bytes
            .store((live + added).saturating_sub(freed), Ordering::Relaxed);
        drop(arrival);
        drop(w);
        if self.opts.sync == SyncMode::Always {
            self.commit.wait_durable(self, seq)?;
        }
        Ok(())
    }

    /// Removes a file from the file set and the key directory's file tables.
    pub fn forget_file(&self, id: u64) {
        if let Some(e) = lock(&self.files).remove(id) {
            self.keydir.remove_file(e.no);
        }
    }

    pub fn sync_dir(&self) -> Result<()> {
        self.vfs()
            .sync_dir(&self.dir)
            .map_err(|e| Error::io("sync directory", &self.dir, e))
    }

    /// `fdatasync`s the active file; returns the last sequence number it covers. A failure
    /// stops writes: the kernel may have dropped the dirty pages, so retrying proves nothing.
    ///
    /// Records in earlier files were made durable when those were sealed, under the writer
    /// mutex; if such a seal failed, or failed while this `fdatasync` ran on the same file
    /// (the kernel reports a writeback error to one caller only), the handle is stopped by the
    /// time the writer mutex is free again, and this fails too.
    pub(crate) fn sync_active(&self) -> Result<u64> {
        let (file, upto) = {
            let w = lock(self.writer()?);
            (w.active.as_ref().map(|a| a.file.clone()), w.next_seq - 1)
        };
        if let Some(f) = file {
            if let Err(e) = f.file.sync_data() {
                let err = Error::io("sync", f.path(), e);
                self.stop(&err);
                return Err(err);
            }
        }
        let _w = lock(self.writer()?);
        self.check_running()?;
        Ok(upto)
    }

    pub(crate) fn sync_now(&self) -> Result<()> {
        if self.writer.is_none() {
            return Ok(());
        }
        self.sealing.wait();
        self.check_running()?;
        if self.opts.sync == SyncMode::Always {
            // Through group commit: never an `fdatasync` of the active file beside another.
            let upto = lock(self.writer()?).next_seq - 1;
            self.commit.wait_durable(self, upto)?;
            return self.sync_dir().inspect_err(|e| self.stop(e));
        }
        let _one_at_a_time = lock(&self.syncing);
        self.check_running()?;
        let upto = self.sync_active()?;
        // Without SyncMode::Always a new active file's directory entry is not synced when the
        // file is made; this makes it (and anything else in the directory) durable.
        self.sync_dir().inspect_err(|e| self.stop(e))?;
        self.commit.mark_durable(upto);
        Ok(())
    }

    fn stats(&self) -> Stats {
        let live = self.live_bytes.load(Ordering::Relaxed);
        let active_end = self
            .writer
            .as_ref()
            .and_then(|w| lock(w).active.as_ref().map(|a| (a.file.id(), a.end)));
        let files = lock(&self.files);
        let mut records = 0u64;
        let mut disk = 0u64;
        for e in files.by_id.values() {
            let len = e.file.file.len().unwrap_or(0);
            // A sealed file's seal is overhead, like its header: neither live nor dead.
            let end = match active_end {
                Some((id, end)) if id == e.file.id() => end,
                _ if e.active => e.scanned_to,
                _ => len.saturating_sub(record::SEAL_LEN),
            };
            records += end.saturating_sub(FILE_HEADER_LEN as u64);
            disk += len + e.hint_len;
        }
        Stats {
            key_count: self.keydir.len() as u64,
            live_bytes: live,
            dead_bytes: records.saturating_sub(live),
            data_files: files.by_id.len() as u64,
            disk_bytes: disk,
            torn_bytes: self.torn_bytes.load(Ordering::Relaxed),
        }
    }

    /// Trims the active file's reserved tail and syncs it when durability was asked for.
    fn finish(&self) -> Result<()> {
        let Some(w) = &self.writer else { return Ok(()) };
        self.preparer.discard(self.vfs(), true);
        self.sealing.wait();
        // Nothing is queued any more: stop the threads, so none outlives the handle.
        self.preparer.worker.shutdown();
        self.sealer.shutdown();
        let w = lock(w);
        let Some(a) = &w.active else { return Ok(()) };
        if self.stopped.load(Ordering::Acquire) {
            return Ok(());
        }
        let f = &a.file;
        f.file
            .set_len(a.end)
            .map_err(|e| Error::io("truncate", f.path(), e))?;
        if self.opts.sync != SyncMode::None {
            f.file
                .sync_data()
                .map_err(|e| Error::io("sync", f.path(), e))?;
        }
        Ok(())
    }
}
