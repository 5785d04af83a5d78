//! The file-system layer. Every file operation of the engine goes through [`Vfs`] and
//! [`VFile`]; nothing else in the engine touches `std::fs` or libc's file calls. The real
//! implementation ([`PosixVfs`]) maps files into memory where it can and falls back to
//! `pread`/`pwrite`; test implementations inject I/O faults or simulate power loss.

mod descriptors;
#[cfg(any(test, feature = "testkit"))]
#[doc(hidden)]
pub mod fault;
mod posix;
#[cfg(any(test, feature = "testkit"))]
#[doc(hidden)]
pub mod sim;

use std::fmt;
use std::io;
use std::path::Path;

pub use posix::PosixVfs;

/// How a file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// An immutable file: read only, and it never shrinks while open, so it may be mapped.
    ReadSealed,
    /// A file that another process may still append to or truncate: read only, never mapped
    /// (reading a mapped page past a shrunken end would raise SIGBUS).
    ReadShared,
    /// An existing file, for reading and writing.
    Write,
    /// A new file, for reading and writing; fails if the name exists.
    CreateNew,
}

/// The pages a file's writable mapping asks for (see `VFile::reserve`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pages {
    /// The system's base pages (4 KiB).
    Base,
    /// Huge pages (2 MiB on x86-64), where the kernel and the file system can hold a file's
    /// page cache in pieces that large (Linux 6.16 and later on ext4; XFS): pages created
    /// through the mapping are then 2 MiB each, and every later mapping of the file (the
    /// sealed file's, for reads) covers each with one TLB entry instead of 512. The cost:
    /// the kernel writes back a whole 2 MiB page when any byte of it is dirty.
    Huge,
}

/// A directory-level file system.
pub trait Vfs: Send + Sync {
    /// Creates `dir` and its parents when missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Creates the one directory `dir`, whose parent must exist (`NotFound` otherwise);
    /// `AlreadyExists` when the name is taken.
    fn create_dir(&self, dir: &Path) -> io::Result<()>;
    /// Removes the empty directory `dir`.
    fn remove_dir(&self, dir: &Path) -> io::Result<()>;
    /// Whether `path` is a directory (`false` for any other kind of file); `NotFound` when
    /// nothing has that name.
    fn is_dir(&self, path: &Path) -> io::Result<bool>;
    /// Names of the entries of `dir` (files only matter; order unspecified).
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// `list_dir`, with what each entry is when it is not a regular file (`None`: a regular
    /// file, or a symbolic link to one). By default every entry is taken for a regular file,
    /// as on a file system that holds nothing else.
    fn list_dir_typed(&self, dir: &Path) -> io::Result<Vec<(String, Option<Special>)>> {
        Ok(self.list_dir(dir)?.into_iter().map(|n| (n, None)).collect())
    }
    /// Opens or creates a file. Opening an existing name that is not a regular file fails
    /// (see [`Special::error`]) and never waits (as opening a FIFO for reading would).
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VFile>>;
    /// Atomically renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes `to` a second name of the file `from` (a hard link); fails when `to` exists,
    /// with `CrossesDevices` (EXDEV) across file systems, and `Unsupported` where the file
    /// system has no hard links. Callers copy instead when it fails. By default unsupported.
    fn hard_link(&self, _from: &Path, _to: &Path) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    /// Whether `a` and `b` are names of one file (same device and inode); `false` when
    /// either is missing. By default `false`, which only costs a copy.
    fn same_file(&self, _a: &Path, _b: &Path) -> bool {
        false
    }
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes creations, renames and removals inside `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Bytes free for this process in the file system holding `dir`; `None` when the layer
    /// cannot tell (the automatic merge then starts without checking).
    fn free_space(&self, _dir: &Path) -> io::Result<Option<u64>> {
        Ok(None)
    }
    /// Takes an exclusive advisory lock on `path` (created if missing, never deleted). Fails
    /// with `ErrorKind::WouldBlock` when another holder has it, and like `open` when `path`
    /// is not a regular file. Released when dropped.
    fn lock_exclusive(&self, path: &Path) -> io::Result<Box<dyn FileLock>>;
}

/// An open file.
// `len` is a fallible system call here, not a container size: an `is_empty` would mislead.
#[allow(clippy::len_without_is_empty)]
pub trait VFile: Send + Sync {
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Fills each buffer in turn from consecutive bytes starting at `offset`; reading past
    /// the end fails with `ErrorKind::UnexpectedEof`.
    fn read_exact_at(&self, offset: u64, bufs: &mut [&mut [u8]]) -> io::Result<()>;
    /// Writes the buffers back to back at `offset`, all of them or an error. After an error
    /// the bytes in the range are unspecified (the caller truncates them away).
    fn write_all_at(&self, offset: u64, bufs: &[&[u8]]) -> io::Result<()>;
    /// Makes the file's data durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// The whole file as bytes in memory, when it is mapped read-only (a `ReadSealed` file):
    /// reading it needs no copy. `None` otherwise.
    fn as_bytes(&self) -> Option<&[u8]> {
        None
    }
    /// Starts writing the file's dirty data back without waiting (a hint that a `sync_data`
    /// will follow, so it finds less to do). Guarantees nothing; by default does nothing.
    fn start_writeback(&self) -> io::Result<()> {
        Ok(())
    }
    /// Faults `offset..offset + len` of a writable mapping in for writing now (page tables,
    /// page-cache pages, block reservations), so that appends there later cost a copy, not a
    /// page fault each. Pages the writer has reached, or is about to, are left to it (two
    /// threads faulting one page make one wait for the other). Best effort; false when there
    /// is nothing (more) to do: no writable mapping, the range past its end, the file already
    /// cut, or the call failed.
    fn prefault(&self, _offset: u64, _len: u64) -> bool {
        false
    }
    /// Sets the length, cutting or zero-extending.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Reserves disk blocks for the first `len` bytes, so later writes below `len` cannot fail
    /// for lack of space (and writes through a mapping never raise SIGBUS). The first
    /// reservation maps the file for writing, with `pages`, which only shapes pages not yet
    /// in the page cache: to have all of a new file's pages huge, reserve before writing to
    /// it. Returns false when the file system cannot reserve; writes then fall back to plain
    /// `write` calls.
    fn reserve(&self, len: u64, pages: Pages) -> io::Result<bool>;
}

/// What a directory entry is when it is not a regular file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    Directory,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    /// A type without a name here.
    Other,
}

impl Special {
    /// What `file_type` is, unless it is a regular file.
    pub fn of(file_type: std::fs::FileType) -> Option<Special> {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_file() {
            return None;
        }
        Some(if file_type.is_dir() {
            Special::Directory
        } else if file_type.is_fifo() {
            Special::Fifo
        } else if file_type.is_socket() {
            Special::Socket
        } else if file_type.is_char_device() {
            Special::CharDevice
        } else if file_type.is_block_device() {
            Special::BlockDevice
        } else {
            Special::Other
        })
    }

    /// The error for such an entry under a name the store keeps a file in. No `errno` says
    /// this (Linux has no `EFTYPE`), and the one a read would give (`ESPIPE`, `EISDIR`,
    /// `ENXIO`, or none at all for a FIFO, which waits) names neither the cause nor the
    /// remedy: the message says what the entry is and what to do about it.
    pub fn error(self) -> io::Error {
        let what = match self {
            Special::Directory => "a directory",
            Special::Fifo => "a FIFO",
            Special::Socket => "a socket",
            Special::CharDevice => "a character device",
            Special::BlockDevice => "a block device",
            Special::Other => "something else",
        };
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{what}, not a regular file: bitask keeps only regular files under its file \
                 names; move it out of the store's directory"
            ),
        )
    }
}

/// A held lock; dropping it releases the lock.
pub trait FileLock: Send + Sync {}

impl fmt::Debug for dyn Vfs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Vfs")
    }
}
