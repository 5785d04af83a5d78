//! The engine's state: `Engine` (what a handle, its iterators and its background threads
//! share), the writer's state (`Writer`, `Active`), and the few operations every part of the
//! engine uses: stopping writes after a failure that cannot be undone, forgetting a file,
//! syncing the directory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::background::{Hinting, Preparer, Sealing};
use super::durability::GroupCommit;
use super::merger::Merger;
use super::visibility::Visibility;
use crate::datafile::DataFile;
use crate::error::{Error, Result};
use crate::filename::IdGen;
use crate::fileset::FileSet;
use crate::keydir::KeyDir;
use crate::options::Options;
use crate::util::sync::lock;
use crate::util::worker::Worker;
use crate::vfs::{FileLock, Vfs};

/// State engine by the handle, its iterators and its background flusher.
pub(crate) struct Engine {
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
    /// Odd while a write batch is being published; readers wait for it to be even.
    pub(super) visibility: Visibility,
    pub(super) stopped: AtomicBool,
    pub(super) stop_reason: Mutex<String>,
    pub merging: Mutex<()>,
    /// The automatic merge's thread, and the signal that stops a merge when closing.
    pub merger: Arc<Merger>,
    /// Files being sealed in the background.
    pub sealing: Arc<Sealing>,
    /// The thread that seals files in the background.
    pub sealer: Worker,
    /// Hint files being written in the background, and the thread that writes them.
    pub hinting: Arc<Hinting>,
    pub hinter: Worker,
    /// The next active file, made ready in the background.
    pub preparer: Arc<Preparer>,
    /// This handle's own `Arc`, for background work that must not keep it alive.
    pub me: Weak<Engine>,
    /// Serializes `refresh` on read-only handles.
    pub refreshing: Mutex<()>,
    /// Serializes `sync` outside group commit (the interval flusher and callers): the kernel
    /// reports a writeback error to one `fdatasync` only, so two running side by side could
    /// let one succeed over data the other's error lost.
    pub(super) syncing: Mutex<()>,
    pub(super) _lock: Option<Box<dyn FileLock>>,
}

/// The writer's state: the file being appended to and the next sequence number.
pub(crate) struct Writer {
    pub active: Option<Active>,
    pub next_seq: u64,
    pub ids: IdGen,
    /// How fast the last active file sealed full was filled: the writer's pace.
    pub last_fill: Option<Fill>,
    /// A batch's records are encoded here before they are appended (`batch_bytes`); kept
    /// from batch to batch so that a batch allocates nothing once it has grown.
    pub batch_buf: Vec<u8>,
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

impl Engine {
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

    /// Removes a file from the file set and the key directory's file tables.
    pub fn forget_file(&self, id: u64) {
        lock(&self.files).forget(&self.keydir, id);
    }

    pub fn sync_dir(&self) -> Result<()> {
        self.vfs()
            .sync_dir(&self.dir)
            .map_err(|e| Error::io("sync directory", &self.dir, e))
    }
}

/// How fast the writer filled a data file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fill {
    pub bytes: u64,
    pub took: Duration,
}
