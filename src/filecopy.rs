//! Putting a file under a second name, in another directory or the same one: a hard link
//! where the file system allows it, a copy otherwise (across devices, EXDEV, or where there
//! are no hard links). Either way the new name's data is durable when these return; the
//! caller fsyncs the directory that holds the new name.

use std::io;
use std::path::Path;

use crate::error::{Error, Result};
use crate::vfs::{OpenMode, VFile, Vfs};

/// How a file reached its new name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placed {
    Linked,
    Copied,
}

const CHUNK: usize = 1 << 20;

/// Gives the whole file `from` the new name `to`, which must not exist: linked where
/// possible, else copied.
pub fn link_or_copy(vfs: &dyn Vfs, from: &Path, to: &Path) -> Result<Placed> {
    match vfs.hard_link(from, to) {
        Ok(()) => {
            // The file is the source's, already durable if the source was; its new name is
            // made durable by the caller's directory fsync.
            return Ok(Placed::Linked);
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(Error::io("link", to, e));
        }
        Err(_) => {}
    }
    let src = vfs
        .open(from, OpenMode::ReadShared)
        .map_err(|e| Error::io("open", from, e))?;
    let len = src.len().map_err(|e| Error::io("stat", from, e))?;
    copy_prefix(vfs, &*src, from, to, len)?;
    Ok(Placed::Copied)
}

/// Copies the first `len` bytes of `src` (opened from `from`) into the new file `to`, and
/// fsyncs it. A failed copy removes what it made.
pub fn copy_prefix(vfs: &dyn Vfs, src: &dyn VFile, from: &Path, to: &Path, len: u64) -> Result<()> {
    let dst = vfs
        .open(to, OpenMode::CreateNew)
        .map_err(|e| Error::io("create", to, e))?;
    let copy = || -> Result<()> {
        let mut buf = crate::datafile::zeroed(CHUNK.min(len as usize))
            .map_err(|e| Error::io("copy", from, e))?;
        let mut at = 0u64;
        while at < len {
            let n = ((len - at) as usize).min(buf.len());
            src.read_exact_at(at, &mut [&mut buf[..n]])
                .map_err(|e| Error::io("read", from, e))?;
            dst.write_all_at(at, &[&buf[..n]])
                .map_err(|e| Error::io("write", to, e))?;
            at += n as u64;
        }
        dst.sync_data().map_err(|e| Error::io("sync", to, e))
    };
    let done = copy();
    if done.is_err() {
        drop(dst);
        let _ = vfs.remove_file(to);
    }
    done
}

/// Writes `bytes` as the new file `to` and fsyncs it.
pub fn write_new(vfs: &dyn Vfs, to: &Path, bytes: &[u8]) -> Result<()> {
    let f = vfs
        .open(to, OpenMode::CreateNew)
        .map_err(|e| Error::io("create", to, e))?;
    let done = f
        .write_all_at(0, &[bytes])
        .and_then(|()| f.sync_data())
        .map_err(|e| Error::io("write", to, e));
    if done.is_err() {
        drop(f);
        let _ = vfs.remove_file(to);
    }
    done
}
