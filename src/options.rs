//! Options for opening a store, and the documented limits.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::vfs::{PosixVfs, Vfs};

/// Longest key accepted, in bytes (64 KiB). Keys are at least 1 byte.
pub const MAX_KEY_LEN: usize = 64 * 1024;
/// Longest value accepted, in bytes (256 MiB). Empty values are values.
pub const MAX_VALUE_LEN: usize = 256 * 1024 * 1024;
/// Default size at which the active data file is sealed and a new one started (4 MiB).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 4 * 1024 * 1024;
/// Smallest accepted `max_file_size`; tiny files make tests rotate and merge constantly.
pub const MIN_MAX_FILE_SIZE: u64 = 64;
/// Largest accepted `max_file_size`: the key directory keeps offsets inside a data file in
/// 31 bits.
pub const MAX_MAX_FILE_SIZE: u64 = 1 << 31;

/// When acknowledged writes reach stable storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// The operating system flushes when it likes. A put survives a crash of the process
    /// (it is in the kernel's page cache before `put` returns) but not a power cut.
    None,
    /// Every put and remove is on stable storage before it returns. Concurrent writers
    /// share one `fdatasync` (group commit). What a failed `fdatasync` leaves: see
    /// [`crate::Bitask::put`].
    Always,
    /// A background thread flushes every given interval: a power cut loses at most that much.
    Interval(Duration),
}

/// How to open a store. Built with chained setters:
/// `Options::default().max_file_size(1 << 20).sync(SyncMode::Always)`.
#[derive(Clone)]
pub struct Options {
    pub(crate) max_file_size: u64,
    pub(crate) sync: SyncMode,
    pub(crate) read_only: bool,
    pub(crate) create_if_missing: bool,
    pub(crate) error_if_exists: bool,
    pub(crate) vfs: Arc<dyn Vfs>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            sync: SyncMode::None,
            read_only: false,
            create_if_missing: true,
            error_if_exists: false,
            vfs: Arc::new(PosixVfs),
            clock: Arc::new(SystemClock),
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("max_file_size", &self.max_file_size)
            .field("sync", &self.sync)
            .field("read_only", &self.read_only)
            .field("create_if_missing", &self.create_if_missing)
            .field("error_if_exists", &self.error_if_exists)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// Size at which the active file is sealed (default 4 MiB). A record larger than this
    /// gets a data file of its own.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// Durability of writes (default [`SyncMode::None`]).
    pub fn sync(mut self, mode: SyncMode) -> Self {
        self.sync = mode;
        self
    }

    /// Open without the writer lock: any number of read-only handles, in any process, may
    /// read while one writer works. Writes fail with [`Error::ReadOnly`].
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Whether a writer's open creates the store's directory when it does not exist (default
    /// true, as bitask 0.1.1 did). Only the last component is created: a missing parent is
    /// an error, so a mistyped path does not quietly grow a tree of directories. Read-only
    /// opens never create anything.
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.create_if_missing = create;
        self
    }

    /// Whether opening fails with [`Error::Exists`] when the directory already holds a store
    /// (default false): for programs that must start from an empty store.
    pub fn error_if_exists(mut self, fail: bool) -> Self {
        self.error_if_exists = fail;
        self
    }

    /// The file-system layer every file operation goes through (default: the operating
    /// system's). Tests substitute layers that inject faults or simulate power loss.
    pub fn vfs(mut self, vfs: Arc<dyn Vfs>) -> Self {
        self.vfs = vfs;
        self
    }

    /// The clock that decides when keys put with a time to live expire (default: the
    /// system's real-time clock). Tests substitute a [`crate::ManualClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if !(MIN_MAX_FILE_SIZE..=MAX_MAX_FILE_SIZE).contains(&self.max_file_size) {
            return Err(Error::InvalidArgument(format!(
                "max_file_size {} is outside {MIN_MAX_FILE_SIZE}..={MAX_MAX_FILE_SIZE}",
                self.max_file_size
            )));
        }
        if let SyncMode::Interval(d) = self.sync {
            if d.is_zero() {
                return Err(Error::InvalidArgument(
                    "sync interval must be at least 1 ms".into(),
                ));
            }
        }
        Ok(())
    }
}
