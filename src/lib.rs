//! bitask: a crash-safe Bitcask key-value store.
//!
//! ```no_run
//! use bitask::{Bitask, Options, SyncMode};
//! # fn main() -> bitask::Result<()> {
//! let db = Bitask::open_with("./db", Options::default().sync(SyncMode::Always))?;
//! db.put("fruit:apple", "red")?;
//! assert_eq!(db.get("fruit:apple")?.as_deref(), Some(&b"red"[..]));
//! for item in db.iter_prefix("fruit:") {
//!     let (key, value) = item?;
//!     println!("{} = {}", String::from_utf8_lossy(&key), String::from_utf8_lossy(&value));
//! }
//! db.remove("fruit:apple")?;
//! db.compact()?;
//! db.close()?;
//! # Ok(()) }
//! ```
//!
//! # Coming from bitask 0.1.1
//! Its names keep working: `bitask::db::Bitask`, `open`, `put`, `ask` (the value, or
//! `Error::KeyNotFound`), `remove`, `compact`, `Error::WriterLock`, `Error::InvalidEmptyKey`,
//! `db::MAX_ACTIVE_FILE_SIZE`. Arguments are `impl AsRef<[u8]>`, so `Vec<u8>` still works;
//! methods take `&self`; an empty value is a value (0.1.1 took it for a deletion). Stores
//! written by 0.1.1 are refused unchanged by `open` (`Error::Incompatible`); the README's
//! "Coming from 0.1.1" section says how to convert one ([`upgrade()`], in place).
//!
//! Layout of the crate, dependencies pointing one way (`tests/layers.rs` fails on a circle):
//!
//! ```text
//! ffi/        the C ABI: status codes, messages, options, the handle, iterators, the panic
//!             boundary (unsafe lives here and in the I/O layer)
//! db.rs       the Rust face: Bitask, each method a few lines into engine/
//! batch.rs    WriteBatch, the operations of an atomic write
//! iter/       ordered scans: options (bounds, prefix, direction), the sorted snapshot
//! engine/     the running store (Engine): open, write, read, sync, stats, rotation of data
//!             files, compaction and the automatic merge, refresh; group commit, the
//!             background jobs, the merge thread and its pace as leaves
//! merge_policy.rs which files an automatic merge takes and why (pure figures in, plan out)
//! recovery/   opening a directory: whose files (ownership), the repairs a crash needs, the
//!             loader of records and hints
//! identity.rs the store's identity file, db.id
//! writer_lock.rs taking db.lock for an open or an upgrade
//! fileset.rs  the data files known to a handle, in load order
//! keydir/     the in-memory index: sharded API, Robin Hood tables, slot layout, hashing,
//!             hint batches, the huge-page arena
//! datafile/   one data file: header, reads, scanner, which records a batch commits, seal
//!             steps
//! record.rs, hint/, filename.rs   the on-disk formats, bytes only (hint/: versions 1 and 2)
//! vfs/        every file operation (posix; sim and fault for tests, with `testkit`)
//! util/       lock helpers, the worker thread, two-thread maps, system calls
//! error.rs, options.rs
//! upgrade.rs  converting a store of bitask 0.1.1 in place
//! ```
//!
//! `docs/format.md` describes the files, `docs/concurrency.md` the threads and the lock
//! order, `docs/reliability.md` what is tested and how.

// `unsafe` is the compiler's business to keep where it belongs: the modules that need it
// (`ffi`, `vfs::posix`, `keydir::arena`, `util::sys`) allow it, and every block says why it
// is sound.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod batch;
pub mod checkpoint;
pub mod clock;
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod datafile;
#[cfg(not(feature = "testkit"))]
mod datafile;
pub mod db;
mod engine;
pub mod error;
pub mod ffi;
mod filecopy;
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod filename;
#[cfg(not(feature = "testkit"))]
mod filename;
mod fileset;
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod hint;
#[cfg(not(feature = "testkit"))]
mod hint;
mod identity;
pub mod iter;
mod keydir;
pub mod merge_policy;
pub mod options;
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod record;
#[cfg(not(feature = "testkit"))]
mod record;
mod recovery;
mod resync;
pub mod salvage;
pub mod upgrade;
mod util;
pub mod verify;
pub mod vfs;
mod writer_lock;

pub use batch::WriteBatch;
pub use checkpoint::CheckpointReport;
pub use clock::{Clock, ManualClock, SystemClock};
pub use db::{Bitask, Stats};
pub use error::{Error, Result};
pub use iter::{Iter, ScanOptions};
pub use merge_policy::{MergeFile, MergeReason, MergeReport, NotDue};
pub use options::{
    MergeOptions, Options, SyncMode, DEFAULT_MAX_FILE_SIZE, MAX_KEY_LEN, MAX_VALUE_LEN,
};
pub use salvage::{repair, RepairReport};
pub use upgrade::{upgrade, UpgradeReport};
pub use verify::{verify, Problem, VerifyReport};
