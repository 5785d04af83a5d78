//! The public handle, [`Bitask`]: each method a few lines into the engine (`engine/`).
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

use std::path::Path;
use std::sync::Arc;

use crate::batch::WriteBatch;
pub use crate::engine::Stats;
use crate::engine::{Engine, Flusher};
pub use crate::error::{Error, Result};
use crate::iter::{Iter, ScanOptions};
use crate::merge_policy::MergeReport;
pub use crate::options::{Options, SyncMode};

/// The size at which the active file is sealed by default, under the name bitask 0.1.1 gave
/// it (see [`crate::DEFAULT_MAX_FILE_SIZE`]; [`Options::max_file_size`] sets it per store).
pub const MAX_ACTIVE_FILE_SIZE: u64 = crate::options::DEFAULT_MAX_FILE_SIZE;

/// A Bitcask store. See the module documentation for the concurrency model.
pub struct Bitask {
    engine: Arc<Engine>,
    flusher: Option<Flusher>,
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
        let (engine, flusher) = Engine::open(path.as_ref(), opts)?;
        Ok(Bitask { engine, flusher })
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
    #[inline]
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.engine.write(key.as_ref(), value.as_ref(), false)
    }

    /// [`Bitask::put`], of a value that expires `ttl` from now (as the handle's
    /// [`crate::Clock`] reads it): from then on the key is absent to every read, and the
    /// next compaction drops its record. A zero `ttl` stores a key that is already absent.
    pub fn put_with_ttl(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: std::time::Duration,
    ) -> Result<()> {
        let at = self.engine.expiry_after(ttl);
        self.put_expiring_at(key, value, at)
    }

    /// [`Bitask::put`], of a value that expires at `at_millis` (milliseconds since the Unix
    /// epoch, compared with the handle's [`crate::Clock`]): absent from that instant on.
    pub fn put_expiring_at(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        at_millis: u64,
    ) -> Result<()> {
        self.engine
            .write_expiring(key.as_ref(), value.as_ref(), false, Some(at_millis))
    }

    /// Makes `key` expire `ttl` from now, keeping its value: rewrites its record with the
    /// new expiry (one record, as atomic and durable as a put). [`Error::KeyNotFound`]
    /// (nothing written) when the key is absent.
    pub fn expire(&self, key: impl AsRef<[u8]>, ttl: std::time::Duration) -> Result<()> {
        let at = self.engine.expiry_after(ttl);
        self.expire_at(key, at)
    }

    /// [`Bitask::expire`], at `at_millis` (milliseconds since the Unix epoch).
    pub fn expire_at(&self, key: impl AsRef<[u8]>, at_millis: u64) -> Result<()> {
        self.engine
            .set_expiry(key.as_ref(), Some(at_millis), false)
            .map(drop)
    }

    /// Removes `key`'s expiry, keeping its value: true when it had one (its record is
    /// rewritten without it), false when it had none (nothing written).
    /// [`Error::KeyNotFound`] when the key is absent.
    pub fn persist(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.engine.set_expiry(key.as_ref(), None, true)
    }

    /// The time `key` has left before it expires, `None` when it does not expire;
    /// [`Error::KeyNotFound`] when it is absent (or has expired).
    pub fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Option<std::time::Duration>> {
        self.engine.ttl(key.as_ref())
    }

    /// When `key` expires (milliseconds since the Unix epoch), `None` when it does not;
    /// [`Error::KeyNotFound`] when it is absent (or has expired).
    pub fn expiry(&self, key: impl AsRef<[u8]>) -> Result<Option<u64>> {
        self.engine.expiry(key.as_ref())?.ok_or(Error::KeyNotFound)
    }

    /// Applies every operation of `batch` atomically: after any crash the store holds all of
    /// them or none, and readers of this handle see all of them or none (a get that finds
    /// one of them finds every later one). The batch is written to one data file with one
    /// commit record, and with [`SyncMode::Always`] made durable by one `fdatasync`. An
    /// error writes nothing, except a failed `fdatasync` (see [`Bitask::put`]: the batch is
    /// then visible, and after a reopen either all there or all absent). An empty batch
    /// writes nothing; a read-only handle returns [`Error::ReadOnly`].
    pub fn write(&self, batch: &WriteBatch) -> Result<()> {
        self.engine.write_batch(batch)
    }

    /// Stores `value` under `key` only when the key is absent (as LMDB's `MDB_NOOVERWRITE`).
    /// Returns false, writing nothing, when it has a value. Atomic against every other
    /// write of this handle.
    pub fn put_if_absent(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<bool> {
        self.engine.put_if_absent(key.as_ref(), value.as_ref())
    }

    /// Compare-and-set: when the value of `key` is `expected` (`None`: the key is absent),
    /// writes `new` (`None`: removes the key) and returns true; else returns false and writes
    /// nothing. Atomic against every other write of this handle. Removing an absent key
    /// that was expected absent writes nothing and returns true.
    pub fn compare_and_set(
        &self,
        key: impl AsRef<[u8]>,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool> {
        self.engine.compare_and_set(key.as_ref(), expected, new)
    }

    /// The values of `keys`, in order (`None` for a key that is absent), read as of one
    /// moment: a batch written meanwhile is seen whole or not at all. Faster than one
    /// [`Bitask::get`] per key: every key's index slot and record start loading before the
    /// first is read.
    pub fn multi_get<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>> {
        self.engine.multi_get(keys)
    }

    /// The value of `key`, or [`Error::KeyNotFound`]: the name bitask 0.1 gave a read (see
    /// [`Bitask::get`] for an `Option`).
    #[inline]
    pub fn ask(&self, key: impl AsRef<[u8]>) -> Result<Vec<u8>> {
        self.get(key)?.ok_or(Error::KeyNotFound)
    }

    /// The value of `key`, or `None` when absent. No memory for the value (up to
    /// `MAX_VALUE_LEN`) is an [`Error::Io`] of kind `OutOfMemory`, not an abort.
    #[inline]
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.engine.get(key.as_ref())
    }

    /// Reads the value of `key` into a buffer made by `make(value_len)` (at least that long),
    /// and returns it; `None` when the key is absent. One index lookup and one copy.
    #[inline]
    pub fn get_with_buffer<B: AsMut<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        make: impl FnOnce(usize) -> B,
    ) -> Result<Option<B>> {
        self.engine.get_with_buffer(key.as_ref(), make)
    }

    /// Copies the value of `key` into `buf` when it fits. Returns the value's length (`None`
    /// when absent); when the length exceeds `buf.len()`, nothing is copied.
    #[inline]
    pub fn get_into(&self, key: impl AsRef<[u8]>, buf: &mut [u8]) -> Result<Option<usize>> {
        self.engine.get_into(key.as_ref(), buf)
    }

    /// True when `key` has a value.
    #[inline]
    pub fn contains(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.engine.contains(key.as_ref())
    }

    /// Deletes `key`: appends a tombstone. [`Error::KeyNotFound`] (and nothing written) when
    /// the key is absent. A failed `fdatasync` leaves the tombstone published, as for
    /// [`Bitask::put`]: readers find the key absent, and after a reopen it is absent or has
    /// its value again.
    #[inline]
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<()> {
        self.engine.write(key.as_ref(), &[], true)
    }

    /// Merges the sealed files (sealing the active one first) into new files with hint
    /// files, keeping only live records, then deletes the old files.
    pub fn compact(&self) -> Result<()> {
        self.engine.compact()
    }

    /// Whether an automatic merge is due, which files it would take and why, and the bytes
    /// it would read, write and give back (see [`crate::MergeOptions`]). On a read-only
    /// handle, never due.
    pub fn needs_merge(&self) -> MergeReport {
        self.engine.needs_merge()
    }

    /// Runs the automatic merge once, now, if [`Bitask::needs_merge`] says it is due (in
    /// the calling thread, at the pace of `MergeOptions::bytes_per_sec`); returns the report
    /// it went by. With `Options::auto_merge(false)`, this is how a program merges a prefix
    /// of the store on its own schedule. A failure leaves the store as it was.
    pub fn merge_if_due(&self) -> Result<MergeReport> {
        self.engine.merge_if_due()
    }

    /// Writes a consistent copy of the store as of this call into `dest` while writes go on
    /// (a hot backup): every write acknowledged before the call, none begun after it. Sealed
    /// files and hints are hard-linked where the file system allows (copied otherwise), the
    /// active file's records copied; everything is fsynced before this returns. The copy
    /// opens as a store, the same one (it keeps `db.id`). `dest` must be missing, empty, or
    /// an earlier backup of this store, which is brought up to date: only new files are
    /// linked or copied, and the store's files no longer in the store are removed from it.
    /// Anything else is refused with [`Error::Incompatible`], nothing changed. A compaction
    /// waits until the backup is done. [`Error::ReadOnly`] on a read-only handle.
    pub fn checkpoint(&self, dest: impl AsRef<Path>) -> Result<crate::CheckpointReport> {
        self.engine.checkpoint(dest.as_ref())
    }

    /// Verifies the store without changing it (see [`crate::verify()`]). On a writer handle
    /// the active file is read up to the end of its records, and compaction waits until
    /// the verification is done.
    pub fn verify(&self) -> Result<crate::VerifyReport> {
        self.engine.verify()
    }

    /// Makes every write so far durable.
    pub fn sync(&self) -> Result<()> {
        self.engine.sync_now()
    }

    /// On a read-only handle, loads what the writer has written since open or the last
    /// refresh. On a writer handle, does nothing.
    pub fn refresh(&self) -> Result<()> {
        if self.engine.opts.read_only {
            self.engine.refresh()
        } else {
            Ok(())
        }
    }

    /// Figures about the store.
    pub fn stats(&self) -> Stats {
        self.engine.stats()
    }

    /// All keys in byte order, with their values read as the iterator reaches them (keys
    /// removed meanwhile are skipped). The keys are those present now.
    ///
    /// Making the iterator reads the sorted hints of the sealed files (mapped once per
    /// handle) and the keys of the active file; if that fails, the iterator's first item is
    /// the error (use [`Bitask::try_iter_prefix`] to get it at once).
    pub fn iter(&self) -> Iter {
        self.iter_prefix(b"")
    }

    /// Like [`Bitask::iter`], restricted to keys that start with `prefix`.
    pub fn iter_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        self.try_iter_prefix(prefix)
            .unwrap_or_else(|e| Iter::failed(self.engine.clone(), e))
    }

    /// Like [`Bitask::iter_prefix`], reporting a failure to make the iterator at once.
    pub fn try_iter_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Iter> {
        self.try_range(&ScanOptions::new().prefix(prefix))
    }

    /// The keys `scan` covers (bounds, prefix), in its direction, with their values unless
    /// it is keys-only; like [`Bitask::iter`] otherwise. [`Iter::seek`] moves within it.
    pub fn range(&self, scan: ScanOptions) -> Iter {
        self.try_range(&scan)
            .unwrap_or_else(|e| Iter::failed(self.engine.clone(), e))
    }

    /// Like [`Bitask::range`], reporting a failure to start the scan at once.
    pub fn try_range(&self, scan: &ScanOptions) -> Result<Iter> {
        Iter::new(self.engine.clone(), scan)
    }

    /// The engine under the handle, for the C ABI's calls that need more than this face.
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The directory of the store.
    pub fn path(&self) -> &Path {
        &self.engine.dir
    }

    /// Closes the handle, reporting what dropping it would silently ignore: trims the active
    /// file's reserved tail and, unless the sync mode is `None`, makes it durable.
    pub fn close(mut self) -> Result<()> {
        self.flusher.take();
        self.engine.finish()
    }
}

impl Drop for Bitask {
    fn drop(&mut self) {
        self.flusher.take();
        let _ = self.engine.finish();
    }
}
