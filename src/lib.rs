//! bitask: a crash-safe Bitcask key-value store.
//!
//! ```no_run
//! use bitask::db::Bitask;
//! # fn main() -> Result<(), bitask::db::Error> {
//! let db = Bitask::open("./db")?;
//! db.put(b"key".to_vec(), b"value".to_vec())?;
//! assert_eq!(db.ask(b"key")?, b"value");
//! db.remove(b"key".to_vec())?;
//! db.compact()?;
//! assert!(matches!(Bitask::open("./db"), Err(bitask::db::Error::WriterLock)));
//! # Ok(()) }
//! ```
//!
//! Layout of the crate, one concept per module: `record` (the record format), `datafile`
//! (one data file), `hint` (hint files), `filename` (names and ids), `keydir` (the in-memory
//! index) and `arena` (its lookup tables' memory, on huge pages), `recovery` (opening a
//! directory), `compaction` (merging), `refresh` (read-only handles catching up), `vfs`
//! (every file operation), `db` (the handle and write path), `durability` (group commit),
//! `rotation` and `worker` (sealing and preparing data files, on background threads), `sys`
//! (a futex, a prefetch, the coarse clock), `ffi` (the C ABI). `unsafe` code lives only in
//! `ffi`, `vfs/posix.rs`, `arena` and `sys`. `docs/format.md` describes the files,
//! `docs/concurrency.md` the threads.

// `unsafe` is the compiler's business to keep where it belongs: the modules that need it
// (`ffi`, `vfs::posix`, `keydir::arena`, `util::sys`) allow it, and every block says why it
// is sound.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod arena;
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod datafile;
#[cfg(not(feature = "testkit"))]
mod datafile;
pub mod db;
mod engine;
pub mod error;
pub mod ffi;
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
pub mod options;
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod record;
#[cfg(not(feature = "testkit"))]
mod record;
mod recovery;
mod util;
pub mod vfs;

pub use db::{Bitask, Stats};
pub use error::{Error, Result};
pub use iter::Iter;
pub use options::{Options, SyncMode, DEFAULT_MAX_FILE_SIZE, MAX_KEY_LEN, MAX_VALUE_LEN};
