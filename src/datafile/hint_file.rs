//! The hint file of a sealed data file, made from the file itself: read back (it was just
//! written, so it is in the page cache), every record's entry pushed, the newest of each key
//! kept (`HintWriter`), and published the way every file is: `<id>.hint.tmp` written and
//! fsynced, renamed `<id>.hint`, the directory fsynced.

use std::path::Path;

use super::{DataFile, Found};
use crate::error::{Error, Result};
use crate::filename::{self, FileKind};
use crate::hint::{HintEntry, HintWriter};
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
    loop {
        match scanner.next_record() {
            Ok(Found::Record(r)) if r.header.is_seal() => {}
            Ok(Found::Record(r)) => w.push(&HintEntry {
                seq: r.header.seq,
                offset: r.offset,
                value_len: r.header.value_len,
                tombstone: r.header.is_tombstone(),
                expiry: None,
                key: r.key,
            }),
            Ok(Found::End) => break,
            Ok(Found::Bad(bad)) => return Err(Error::corruption(&path, bad.offset, bad.reason)),
            Err(e) => return Err(Error::io("read", &path, e)),
        }
    }
    Ok(w.finish(len))
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
