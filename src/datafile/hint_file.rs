//! The hint file of a sealed data file, made from the file itself: read back (it was just
//! written, so it is in the page cache), every record's entry pushed, the newest of each key
//! kept (`HintWriter`), and published the way every file is: `<id>.hint.tmp` written and
//! fsynced, renamed `<id>.hint`, the directory fsynced.

use std::io;
use std::path::Path;

use super::committed::{BatchGate, Gate};
use super::{DataFile, Found};
use crate::error::{Error, Result};
use crate::filename::{self, FileKind};
use crate::hint::{HintEntry, HintWriter};
use crate::record::Header;
use crate::vfs::{OpenMode, Vfs};

/// The hint of sealed file `f`, which must be durable under its sealed name already (nothing
/// may rely on a hint whose data file a crash could still lose); returns the hint file's
/// length. On failure nothing is published and the temporary file is removed (best effort:
/// an open removes leftovers anyway); the data file is as it was.
pub(crate) fn write_hint(vfs: &dyn Vfs, dir: &Path, f: &DataFile) -> Result<u64> {
    let bytes = build_hint(f)?;
    let tmp = filename::path(dir, f.id(), FileKind::TempHint);
    let published = publish(vfs, dir, f.id(), &tmp, &bytes);
    if published.is_err() {
        let _ = vfs.remove_file(&tmp);
    }
    published.map(|()| bytes.len() as u64)
}

/// The bytes of `f`'s version 2 hint, from a scan of its records (each CRC checked: a hint
/// never describes a record that is not whole). The seal applies nothing and has no entry.
pub(crate) fn build_hint(f: &DataFile) -> Result<Vec<u8>> {
    let path = f.path();
    let len = f.len()?;
    let mut scanner = super::Scanner::new(&*f.file, super::FILE_HEADER_LEN as u64, len);
    let mut w = HintWriter::new(f.id());
    // A batch's members count only with their commit (a sealed file holds whole batches).
    let mut gate = BatchGate::new(f.header.is_merge_output());
    loop {
        match scanner.next_record() {
            Ok(Found::Record(r)) => match gate.admit(&r) {
                Gate::Counts if r.header.is_seal() => {}
                Gate::Counts => w.push(&entry(r.offset, &r.header, r.key)),
                Gate::Held => {}
                Gate::Committed(members) => {
                    for m in &members {
                        w.push(&entry(m.offset, &m.header, &m.key));
                    }
                }
                Gate::Misplaced(reason) => return Err(Error::corruption(&path, r.offset, reason)),
            },
            Ok(Found::End) => break,
            Ok(Found::Bad(bad)) => return Err(Error::corruption(&path, bad.offset, bad.reason)),
            Err(e) => return Err(Error::io("read", &path, e)),
        }
    }
    if gate.holding() {
        let at = gate.counted_end(len);
        return Err(Error::corruption(
            &path,
            at,
            "a batch without its commit in a sealed file",
        ));
    }
    Ok(w.finish(len))
}

fn entry<'k>(offset: u64, h: &Header, key: &'k [u8]) -> HintEntry<'k> {
    HintEntry {
        seq: h.seq,
        offset,
        value_len: h.value_len,
        tombstone: h.is_tombstone(),
        expiry: h.expiry(),
        key,
    }
}

fn publish(vfs: &dyn Vfs, dir: &Path, id: u64, tmp: &Path, bytes: &[u8]) -> Result<()> {
    // A temporary hint left by an earlier attempt of this handle is replaced.
    match vfs.remove_file(tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("remove", tmp, e)),
    }
    let hf = vfs
        .open(tmp, OpenMode::CreateNew)
        .map_err(|e| Error::io("create", tmp, e))?;
    hf.write_all_at(0, &[bytes])
        .and_then(|()| hf.sync_data())
        .map_err(|e| Error::io("write", tmp, e))?;
    drop(hf);
    let to = filename::path(dir, id, FileKind::Hint);
    vfs.rename(tmp, &to)
        .map_err(|e| Error::io("rename", tmp, e))?;
    vfs.sync_dir(dir)
        .map_err(|e| Error::io("sync directory", dir, e))
}

/// A whole (small, immutable) file, read with one positioned read: cheaper than mapping it,
/// touching its pages once and unmapping it again. `None` when it is longer than `max` or
/// there is no memory for it: a hint is only a shortcut, and the scan that replaces it reads
/// through a buffer of fixed size.
pub(crate) fn read_whole(vfs: &dyn Vfs, path: &Path, max: u64) -> io::Result<Option<Vec<u8>>> {
    let f = vfs.open(path, OpenMode::ReadShared)?;
    let len = f.len()?;
    let Some(Ok(mut buf)) = usize::try_from(len)
        .ok()
        .filter(|_| len <= max)
        .map(crate::datafile::zeroed)
    else {
        return Ok(None);
    };
    f.read_exact_at(0, &mut [&mut buf])?;
    Ok(Some(buf))
}
