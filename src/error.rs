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
    /// A file was written by an unknown or newer format version.
    Incompatible { path: PathBuf, reason: String },
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
                "the store is locked by another writer (open it read-only, or close the other handle)"
            ),
            Error::ReadOnly => write!(f, "the handle is read-only"),
            Error::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Error::TooLarge { what, len, max } => {
                write!(f, "{what} of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::Io { op, path, source } => {
                write!(f, "{op} {}: {source}", path.display())
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
            Error::Stopped(reason) => write!(
                f,
                "the handle stopped accepting writes after an earlier failure ({reason}); reopen the store"
            ),
        }
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
