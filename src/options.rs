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

/// Largest accepted `MergeOptions::output_file_size`: the same bound as `max_file_size`.
pub const MAX_MERGE_OUTPUT_SIZE: u64 = MAX_MAX_FILE_SIZE;

/// When the automatic merge runs, what it takes and how fast (see `docs/format.md`,
/// "Automatic merge"). The triggers follow Riak's bitcask: a merge is due when the store as a
/// whole is fragmented enough or holds enough dead bytes; it then takes the oldest files up
/// to the newest one that is worth merging by its own fragmentation, dead bytes or size.
#[derive(Clone, Copy, Debug)]
pub struct MergeOptions {
    /// A merge is due once dead bytes are at least this share of the sealed files' records
    /// (default 0.5: the sealed files hold at most about twice the live data they keep).
    pub store_fragmentation: f64,
    /// ... or once the sealed files hold at least this many dead bytes (default 512 MiB,
    /// Riak's `dead_bytes_merge_trigger`): in a large store, fragmentation alone would let
    /// gigabytes pile up.
    pub store_dead_bytes: u64,
    /// Below this many dead bytes in the sealed files nothing is due (default 16 MiB): a few
    /// megabytes of dead records are not worth a merge's reads and fsyncs.
    pub min_dead_bytes: u64,
    /// A file is worth merging when at least this share of its records is dead (default
    /// 0.4, Riak's `frag_threshold`).
    pub file_fragmentation: f64,
    /// ... or when it holds at least this many dead bytes (default 128 MiB, Riak's
    /// `dead_bytes_threshold`), which matters for files larger than the default size.
    pub file_dead_bytes: u64,
    /// ... or when it is smaller than this (default 1 MiB, a quarter of the default file
    /// size): the short files a close, a manual seal or an earlier merge leaves, cheap to
    /// merge into one.
    pub small_file_bytes: u64,
    /// Most bytes of input files one merge reads (default 1 GiB), so one merge ends in
    /// bounded time and a crash repeats a bounded amount of work; a single older file larger
    /// than this is still taken alone.
    pub max_merge_bytes: u64,
    /// Size of each merge output (default 256 MiB): larger than the write side's files, so a
    /// merged store has fewer files and mappings. At most 2 GiB (offsets in the key
    /// directory have 31 bits).
    pub output_file_size: u64,
    /// Bytes per second the merge reads plus writes, at most (default 128 MiB/s; 0: no
    /// limit), plus 4 bytes for each byte the writer fills in the meantime: a writer faster
    /// than the pace would otherwise outrun every merge and the store would grow without
    /// bound. The merge thread sleeps to keep to it; writers never wait for it.
    pub bytes_per_sec: u64,
    /// Hours of the day, local time, in which a merge may start: `Some((start, end))` is
    /// `start <= hour < end` (it wraps past midnight when `start > end`); `None` (the
    /// default) is any hour. A merge that started inside the window runs to its end.
    pub window: Option<(u8, u8)>,
    /// How often the merge thread looks at the store (default 1 s). Looking costs one pass
    /// over the file list, and a pass over the key directory only when a merge may be due.
    pub check_every: Duration,
    /// The hour of the day now (0..24); the local clock by default. Tests substitute one.
    pub hour_now: fn() -> u8,
}

impl Default for MergeOptions {
    fn default() -> Self {
        MergeOptions {
            store_fragmentation: 0.5,
            store_dead_bytes: 512 << 20,
            min_dead_bytes: 16 << 20,
            file_fragmentation: 0.4,
            file_dead_bytes: 128 << 20,
            small_file_bytes: 1 << 20,
            max_merge_bytes: 1 << 30,
            output_file_size: 256 << 20,
            bytes_per_sec: 128 << 20,
            window: None,
            check_every: Duration::from_secs(1),
            hour_now: crate::util::sys::local_hour,
        }
    }
}

impl MergeOptions {
    fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::InvalidArgument(what));
        for (name, share) in [
            ("store_fragmentation", self.store_fragmentation),
            ("file_fragmentation", self.file_fragmentation),
        ] {
            if !(share > 0.0 && share <= 1.0) {
                return bad(format!("merge {name} {share} is outside (0, 1]"));
            }
        }
        if !(MIN_MAX_FILE_SIZE..=MAX_MERGE_OUTPUT_SIZE).contains(&self.output_file_size) {
            return bad(format!(
                "merge output_file_size {} is outside {MIN_MAX_FILE_SIZE}..={MAX_MERGE_OUTPUT_SIZE}",
                self.output_file_size
            ));
        }
        if let Some((start, end)) = self.window {
            if start > 23 || end > 24 || start == end {
                return bad(format!(
                    "merge window {start}..{end} is not two different hours in 0..=24"
                ));
            }
        }
        if self.check_every.is_zero() {
            return bad("merge check_every must be at least 1 ms".into());
        }
        Ok(())
    }
}

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
    pub(crate) auto_merge: bool,
    pub(crate) merge: MergeOptions,
    pub(crate) vfs: Arc<dyn Vfs>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Every file id the handle makes exceeds this (besides those on disk): the upgrade's new
    /// store, built beside files of bitask 0.1.1 named by their own clock, names its files
    /// after theirs.
    pub(crate) min_file_id: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            sync: SyncMode::None,
            read_only: false,
            create_if_missing: true,
            error_if_exists: false,
            auto_merge: true,
            merge: MergeOptions::default(),
            vfs: Arc::new(PosixVfs),
            clock: Arc::new(SystemClock),
            min_file_id: 0,
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
            .field("auto_merge", &self.auto_merge)
            .field("merge", &self.merge)
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

    /// Whether a writer's handle merges on its own, on a background thread, when
    /// `MergeOptions` says a merge is due (default true). Off, space comes back only through
    /// [`crate::Bitask::compact`] or [`crate::Bitask::merge_if_due`]. Read-only handles never
    /// merge.
    pub fn auto_merge(mut self, on: bool) -> Self {
        self.auto_merge = on;
        self
    }

    /// When and how the automatic merge runs (and what `needs_merge` reports).
    pub fn merge(mut self, merge: MergeOptions) -> Self {
        self.merge = merge;
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

    pub(crate) fn min_file_id(mut self, id: u64) -> Self {
        self.min_file_id = id;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if !(MIN_MAX_FILE_SIZE..=MAX_MAX_FILE_SIZE).contains(&self.max_file_size) {
            return Err(Error::InvalidArgument(format!(
                "max_file_size {} is outside {MIN_MAX_FILE_SIZE}..={MAX_MAX_FILE_SIZE}",
                self.max_file_size
            )));
        }
        self.merge.validate()?;
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
