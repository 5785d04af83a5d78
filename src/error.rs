//! Error type of the engine. Every failure names what failed: the file, the offset inside it,
//! and the operating system's error, so a message alone is enough to find the problem.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in a bitask call.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The key is not in the store.
    KeyNotFound,
    /// Another handle (in this or another process) holds the directory's writer lock.
    WriterLock,
    /// A write was attempted on a handle opened with `Options::read_only(true)`.
    ReadOnly,
    /// An empty key was given (keys are 1 to `MAX_KEY_LEN` bytes); nothing was written. The
    /// name bitask 0.1.1 gave this error.
    InvalidEmptyKey,
    /// An argument was rejected; nothing was written.
    InvalidArgument(String),
    /// A key or value is longer than the documented limit; nothing was written.
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    /// The operating system failed an operation on `path`.
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// Stored data failed its checksum or is malformed.
    Corruption {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A file is not one this library can prove it wrote: an unknown or newer format
    /// version, a file of another program or of bitask 0.1.1, or a file of another store.
    /// Nothing was changed on disk.
    Incompatible { path: PathBuf, reason: String },
    /// The key directory cannot number another data file (it numbers them in 17 bits): `path`
    /// could not be opened or made. Compact the store, or use a larger `max_file_size`.
    TooManyFiles { path: PathBuf, reason: String },
    /// The directory already holds a store, and the open asked for a new one
    /// (`Options::error_if_exists`). Nothing was changed on disk.
    Exists(PathBuf),
    /// The handle stopped accepting writes after an earlier failure it cannot undo
    /// (a failed fsync, a failed rotation). Reopen the store to recover from what is on disk.
    Stopped(String),
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corruption(
        path: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Error {
        Error::Corruption {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::KeyNotFound => write!(f, "key not found"),
            Error::WriterLock => write!(
                f,
                "another handle holds the store's writer lock (db.lock): open the store \
                 read-only, or close the other writer"
            ),
            Error::ReadOnly => write!(f, "the handle is read-only"),
            Error::InvalidEmptyKey => write!(f, "invalid argument: keys must be at least 1 byte"),
            Error::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Error::TooLarge { what, len, max } => {
                write!(f, "{what} of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::Io { op, path, source } => {
                write!(f, "{op} {}: {}", path.display(), os_words(source))
            }
            Error::Corruption {
                path,
                offset,
                reason,
            } => write!(
                f,
                "corruption in {} at offset {offset}: {reason}",
                path.display()
            ),
            Error::Incompatible { path, reason } => {
                write!(f, "incompatible file {}: {reason}", path.display())
            }
            Error::TooManyFiles { path, reason } => {
                write!(f, "too many data files for {}: {reason}", path.display())
            }
            Error::Exists(path) => write!(
                f,
                "{} already holds a store (the open asked for a new one)",
                path.display()
            ),
            Error::Stopped(reason) => write!(
                f,
                "the handle stopped accepting writes after an earlier failure ({reason}); reopen the store"
            ),
        }
    }
}

/// An I/O error in the operating system's words (`strerror`), without Rust's
/// " (os error N)" suffix.
pub(crate) fn os_words(e: &io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(code) => text
            .strip_suffix(&format!(" (os error {code})"))
            .map_or_else(|| text.clone(), str::to_owned),
        None => text,
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
