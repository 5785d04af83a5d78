//! Upgrading a store written by bitask 0.1.1, the crate this one succeeds, into this format:
//! [`upgrade`] (`bitask_upgrade` in C, `bitask DIR upgrade` on the command line).
//!
//! # What 0.1.1 wrote
//!
//! A directory holding `db.lock` (deleted again when the store was closed) and data files
//! named by the millisecond they were made: `<ts>.active.log`, the one being appended to, and
//! sealed `<ts>.log` files. No file header; records back to back, little-endian:
//!
//! ```text
//! 0   u32  crc32 of the key and value bytes (the header itself is not covered)
//! 4   u64  timestamp, milliseconds since the Unix epoch
//! 12  u32  key length (0.1.1 refused empty keys)
//! 16  u32  value length; 0 is a deletion (0.1.1 refused empty values)
//! 20  -    key, then value
//! ```
//!
//! Rotation: a put that finds the active file past 4 MiB renames it `<w>.log` and creates
//! `<now>.active.log` before writing. Compaction: copies the live records of the sealed files
//! into a new `<now>.log`, then deletes every other sealed file; the active file is left alone.
//!
//! # How the records are read
//!
//! Every data file is read, in file order, each from its first byte to its last; the last
//! record of a key in (file, offset) order wins, a deletion removes the key. 0.1.1's own open
//! read only the active file and let the newer timestamp win, keeping the first of two puts
//! made in one millisecond; here timestamps decide nothing within a file.
//!
//! **File order.** The active file comes last: 0.1.1 only ever appended to it, and it was
//! made after every file sealed before it (rotation seals the old file, then makes the new
//! one), so everything in it is newer than everything else. Sealed files made by rotation hold
//! records written after the file was made, never older than its name; they come in the order
//! of their names. A compaction's output is the exception: it is named by the time of the
//! compaction, later than the active file of the moment, yet holds copies of records older
//! than that active file, which may be sealed later under its own, smaller name with newer
//! values of the same keys. So a sealed file takes its place by the smaller of its name and
//! its newest record's timestamp, and at a tie the file whose records are all older than its
//! name (the compaction's output) comes first. This assumes a clock that did not step back
//! while 0.1.1 wrote; without compactions it is plain name order.
//!
//! **Damage.** Each record's CRC is checked. Where a record is not whole and checksummed, the
//! reading resynchronises: at the end of the damaged record as its lengths give it, when a
//! valid record starts there (a damaged value), else at the next byte offset where a valid
//! record starts (damaged lengths), and the bytes in between are reported as unreadable, with
//! their file and offset. A damaged record is never converted: its key keeps the value of its
//! last good record, if any. When no valid record follows, the rest of the file is a torn
//! tail if it is a record cut short (fewer bytes than its header announces, with lengths
//! within this format's limits) or zeros, which a crash in the middle of a write leaves;
//! otherwise it is unreadable too. A record found by
//! resynchronising must also have lengths within this format's limits and a timestamp between
//! 2020 and 2100, which a stray match inside a value almost never has; the scan costs one
//! pass over the damaged bytes.
//!
//! # The steps, and why a crash at any of them is safe
//!
//! `DIR` is the 0.1.1 store; `DIR/0.bitask-upgrade/` (the staging folder) and
//! `DIR/bitask-0.1.1-backup/` (the backup folder) are made by the upgrade. The staging
//! folder's name starts with `0.` so that 0.1.1 still opens its store while it is there
//! (0.1.1 reads every name up to its first dot as a number, and ignores those not ending
//! `.log`); this library's open ignores both folders.
//!
//! 1. Take the writer lock `DIR/db.lock` (making it if 0.1.1 deleted it; removed again if the
//!    upgrade is refused, or fails before it changed anything, and made it).
//! 2. If the staging folder holds a `MANIFEST`, an earlier upgrade was interrupted after
//!    step 5: go on at step 6 (or only step 10 once `DIR/db.id` is there). Otherwise check
//!    that `DIR` is a 0.1.1 store, else refuse, changing nothing: only `db.lock`, `<ts>.log`,
//!    at most one `<ts>.active.log`, each of them 0.1.1's (no data file header of this
//!    format, and at least one valid record unless it is empty or only a torn record), and a
//!    staging folder without `MANIFEST`, left by an upgrade interrupted before step 5, which
//!    is removed.
//! 3. Read the 0.1.1 files, as above; nothing is written.
//! 4. Build the new store in the staging folder through this library's ordinary write path:
//!    open a store there, put the live keys, sync, close; then fsync every file in it and
//!    the folder, and remove its `db.lock`. A store with no live key gets a put and a remove
//!    of one key, so that it has a data file (see the moves below).
//! 5. Write `MANIFEST` (the 0.1.1 files with their lengths, the new store's data files):
//!    `MANIFEST.tmp`, fsync, rename, fsync the folder. From here on a rerun finishes the
//!    upgrade rather than starting over.
//! 6. Make the backup folder, fsync `DIR`.
//! 7. Move the new store's data files from the staging folder into `DIR`; fsync both.
//! 8. Move the 0.1.1 files into the backup folder; fsync both; check their lengths there.
//! 9. Commit: rename the staging folder's `db.id` to `DIR/db.id`; fsync both.
//! 10. Remove `MANIFEST` and the staging folder; fsync `DIR`.
//!
//! - A crash before `MANIFEST` is durable leaves the 0.1.1 store untouched beside a staging
//!   folder that 0.1.1 and this library ignore: this library's open refuses the 0.1.1 files
//!   as before, 0.1.1 opens its store, and a rerun removes the folder and starts over.
//! - Between steps 5 and 6 a rerun resumes if the 0.1.1 files still have the names and
//!   lengths in `MANIFEST`; if 0.1.1 wrote to its store meanwhile, the rerun starts over.
//! - During steps 6 to 9 `DIR` has no `db.id`, and holds 0.1.1 files, or data files carrying
//!   the new store's tag, or both. This library's open refuses every such mix with
//!   `Error::Incompatible` and changes nothing: 0.1.1 files are not of this format, and
//!   tagged files without their `db.id` are not proved to be the store's. The new data files
//!   arrive before the first 0.1.1 file leaves, and there is at least one, so `DIR` never
//!   looks like an empty directory, which an open would take for a new store. 0.1.1 cannot
//!   open `DIR` either once the backup folder is there (its name is no number). A rerun
//!   finishes the moves: every rename is checked, and repeated only where it has not happened.
//! - Step 9 is one rename. Before it the above holds; after it `DIR` is the finished store:
//!   its `db.id`, and data files that are all durable and all carry its tag, beside the
//!   complete backup folder.
//! - A crash after step 9 leaves at most the staging folder, which the store ignores; a
//!   rerun removes it and reports the upgrade. A crash right after `MANIFEST` is removed
//!   leaves it empty, and a rerun then refuses `DIR` as a store of this format; the empty
//!   folder may be removed by hand.
//!
//! The backup folder keeps the 0.1.1 files byte for byte (they are only renamed) until the
//! user removes it; moving them back into `DIR` in place of every other file but `db.lock`
//! gives back the 0.1.1 store.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::datafile::DATA_MAGIC;
use crate::db::Bitask;
use crate::error::{Error, Result};
use crate::filename::{self, ID_FILE, LOCK_FILE};
use crate::options::{Options, SyncMode, MAX_KEY_LEN, MAX_VALUE_LEN};
use crate::vfs::{OpenMode, VFile, Vfs};
use crate::writer_lock::WriterLock;

/// The folder inside the store's directory that keeps the files of bitask 0.1.1 after an
/// upgrade, until the user removes it.
pub const BACKUP_DIR: &str = "bitask-0.1.1-backup";
/// The folder inside the store's directory where the upgrade builds the new store.
pub const STAGING_DIR: &str = "0.bitask-upgrade";
/// In the staging folder: what the upgrade moves; its presence means the new store is built.
const MANIFEST: &str = "MANIFEST";
const MANIFEST_TMP: &str = "MANIFEST.tmp";
const MANIFEST_FIRST_LINE: &str = "bitask upgrade from 0.1.1, version 1";
/// Put and removed in a store that would otherwise have no data file (see step 4).
const PLACEHOLDER_KEY: &[u8] = b"bitask-upgrade";
/// Bytes of a 0.1.1 record header.
const HEADER_LEN: usize = 20;
/// The timestamps a record found by resynchronising may carry: 2020-01-01 to 2100-01-01.
const RESYNC_TIMESTAMPS: std::ops::RangeInclusive<u64> = 1_577_836_800_000..=4_102_444_800_000;

/// A data file of bitask 0.1.1: `<id>.log`, or `<id>.active.log` for the active one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegacyFile {
    /// The number in the file's name: the millisecond 0.1.1 made it.
    pub id: u64,
    /// The active file (`<id>.active.log`).
    pub active: bool,
}

impl LegacyFile {
    /// The file's name.
    pub fn name(&self) -> String {
        if self.active {
            format!("{}.active.log", self.id)
        } else {
            format!("{}.log", self.id)
        }
    }

    fn parse(name: &str) -> Option<LegacyFile> {
        let (stem, active) = match name.strip_suffix(".active.log") {
            Some(s) => (s, true),
            None => (name.strip_suffix(".log")?, false),
        };
        if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(LegacyFile {
            id: stem.parse().ok()?,
            active,
        })
    }
}

/// One 0.1.1 data file as the upgrade read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRead {
    pub file: LegacyFile,
    /// Its length in bytes.
    pub len: u64,
    /// Valid records in it, deletions included.
    pub records: u64,
    /// Of those, deletions.
    pub tombstones: u64,
}

/// Bytes of a 0.1.1 file that are not whole, checksummed records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub file: LegacyFile,
    pub offset: u64,
    pub len: u64,
    /// A torn tail: the file ends with a record cut short, or with zeros, as a crash in the
    /// middle of a write leaves it. Otherwise the bytes are unreadable: damaged, with valid
    /// records after them, or a whole record whose checksum fails.
    pub torn: bool,
}

/// What [`upgrade`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpgradeReport {
    /// The 0.1.1 data files, in the order they were read (see the module documentation).
    pub files: Vec<FileRead>,
    /// Valid records read, deletions included.
    pub records_read: u64,
    /// Deletions among them.
    pub tombstones: u64,
    /// Live keys written to the new store.
    pub keys_converted: u64,
    /// Unreadable regions and torn tails, in the order they were met.
    pub regions: Vec<Region>,
    /// Where the 0.1.1 files are now: `DIR/bitask-0.1.1-backup`.
    pub backup_dir: PathBuf,
    /// This call finished an upgrade that an earlier call had begun and not finished.
    pub resumed: bool,
}

impl UpgradeReport {
    /// Bytes that could not be read and are not torn tails: they may have held records.
    pub fn unreadable_bytes(&self) -> u64 {
        self.regions.iter().filter(|r| !r.torn).map(|r| r.len).sum()
    }

    /// Bytes of torn tails: writes a crash cut short.
    pub fn torn_bytes(&self) -> u64 {
        self.regions.iter().filter(|r| r.torn).map(|r| r.len).sum()
    }
}

/// Converts the store of bitask 0.1.1 in `path` into a store of this format, in place; see
/// the module documentation for how its files are read and the steps that make it safe
/// against a crash. The 0.1.1 files are kept in `path/bitask-0.1.1-backup/`.
///
/// Refuses, with [`Error::Incompatible`] and nothing changed, a directory that is not a 0.1.1
/// store: a store of this format (the second upgrade of a store included), an empty
/// directory, one holding other files. [`Error::WriterLock`] while another process (0.1.1 or
/// this library) has the store open for writing. Damaged bytes are not an error: they are in
/// the report ([`UpgradeReport::unreadable_bytes`]), and the original files in the backup.
/// After a crash or a failure, calling it again finishes or redoes the upgrade.
pub fn upgrade(path: impl AsRef<Path>) -> Result<UpgradeReport> {
    upgrade_with(path, Options::default())
}

/// [`upgrade`] with options for the new store: its file system layer
/// ([`Options::vfs`]) and [`Options::max_file_size`]. The new store is always made durable;
/// the sync mode, `create_if_missing` and `error_if_exists` do not apply (the directory must
/// exist), and a read-only `opts` is refused.
pub fn upgrade_with(path: impl AsRef<Path>, opts: Options) -> Result<UpgradeReport> {
    opts.validate()?;
    if opts.read_only {
        return Err(Error::InvalidArgument(
            "an upgrade writes: the options must not be read-only".into(),
        ));
    }
    let path = path.as_ref();
    let dir = std::path::absolute(path).map_err(|e| Error::io("resolve", path, e))?;
    let vfs = opts.vfs.clone();
    match vfs.is_dir(&dir) {
        Ok(true) => {}
        Ok(false) => {
            return Err(Error::io(
                "open",
                &dir,
                io::Error::from_raw_os_error(libc::ENOTDIR),
            ))
        }
        Err(e) => return Err(Error::io("open", &dir, e)),
    }
    let lock = WriterLock::take(&*vfs, &dir)?;
    let up = Upgrade {
        vfs: &*vfs,
        staging: dir.join(STAGING_DIR),
        backup: dir.join(BACKUP_DIR),
        dir,
        opts,
    };
    let mut changed = false;
    let result = up.run(&mut changed);
    if result.is_err() && !changed {
        lock.abandon(&*vfs);
    }
    result
}

/// A 0.1.1 directory that is not one: nothing in it was changed.
fn refuse(path: impl Into<PathBuf>, why: impl std::fmt::Display) -> Error {
    Error::Incompatible {
        path: path.into(),
        reason: format!("{why}: not a store of bitask 0.1.1 to upgrade; nothing was changed"),
    }
}

/// What a path names.
#[derive(PartialEq, Eq)]
enum Entry {
    Missing,
    File,
    Dir,
}

fn entry(vfs: &dyn Vfs, path: &Path) -> Result<Entry> {
    match vfs.is_dir(path) {
        Ok(true) => Ok(Entry::Dir),
        Ok(false) => Ok(Entry::File),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Entry::Missing),
        Err(e) => Err(Error::io("stat", path, e)),
    }
}

fn sync_dir(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    vfs.sync_dir(dir)
        .map_err(|e| Error::io("sync directory", dir, e))
}

fn rename(vfs: &dyn Vfs, from: &Path, to: &Path) -> Result<()> {
    vfs.rename(from, to)
        .map_err(|e| Error::io("rename", from, e))
}

fn file_len(vfs: &dyn Vfs, path: &Path) -> Result<u64> {
    let f = vfs
        .open(path, OpenMode::ReadShared)
        .map_err(|e| Error::io("open", path, e))?;
    f.len().map_err(|e| Error::io("stat", path, e))
}

/// One upgrade of one directory, under its writer lock.
struct Upgrade<'v> {
    vfs: &'v dyn Vfs,
    dir: PathBuf,
    staging: PathBuf,
    backup: PathBuf,
    opts: Options,
}

impl Upgrade<'_> {
    /// Sets `changed` once the directory is changed beyond the staging folder.
    fn run(&self, changed: &mut bool) -> Result<UpgradeReport> {
        if let Some(manifest) = self.read_manifest()? {
            *changed = true;
            if let Some(report) = self.resume(&manifest)? {
                return Ok(report);
            }
            // 0.1.1 wrote to its store after the manifest was made: start over.
            *changed = false;
        }
        self.fresh(changed)
    }

    /// Steps 2 to 10 on a directory with no interrupted upgrade past its build.
    fn fresh(&self, changed: &mut bool) -> Result<UpgradeReport> {
        let files = self.classify()?;
        let located: Vec<(LegacyFile, PathBuf)> = files
            .iter()
            .map(|f| (*f, self.dir.join(f.name())))
            .collect();
        let read = read_legacy(self.vfs, &located, true)?;
        read.check_limits()?;
        // From here on the staging folder changes; until the manifest is durable, nothing else.
        self.discard_staging()?;
        let built = self
            .build(&read, &files)
            .and_then(|new| self.check_names(&files, &new).map(|()| new))
            .and_then(|new| {
                let m = Manifest {
                    old: read.files.iter().map(|f| (f.file, f.len)).collect(),
                    new,
                };
                self.write_manifest(&m).map(|()| m)
            });
        let manifest = match built {
            Ok(m) => m,
            Err(e) => {
                // Best effort: a rerun removes what is left anyway.
                let _ = self.discard_staging();
                return Err(e);
            }
        };
        *changed = true;
        self.finish(&manifest)?;
        Ok(read.report(self.backup.clone(), false))
    }

    /// Step 2: the 0.1.1 data files of the directory, or a refusal.
    fn classify(&self) -> Result<Vec<LegacyFile>> {
        let vfs = self.vfs;
        let id_path = self.dir.join(ID_FILE);
        if entry(vfs, &id_path)? != Entry::Missing {
            let mut why = "the directory already holds a store of this format (its identity file)"
                .to_string();
            if entry(vfs, &self.backup)? == Entry::Dir {
                why.push_str(&format!(
                    ", and its files of bitask 0.1.1 are in {}",
                    self.backup.display()
                ));
            }
            return Err(refuse(id_path, why));
        }
        if entry(vfs, &self.backup)? != Entry::Missing {
            return Err(refuse(
                &self.backup,
                "it is in the way of the backup this upgrade makes (an earlier upgrade's? \
                 move it out of the directory)",
            ));
        }
        let mut names = vfs
            .list_dir(&self.dir)
            .map_err(|e| Error::io("list", &self.dir, e))?;
        names.sort();
        let mut files = Vec::new();
        for name in names {
            let path = self.dir.join(&name);
            if name == LOCK_FILE || name == STAGING_DIR {
                continue;
            }
            let Some(file) = LegacyFile::parse(&name) else {
                let why = if filename::parse(&name).is_some() || name.starts_with(ID_FILE) {
                    "a file of a store of this format, which bitask 0.1.1 does not write"
                } else {
                    "bitask 0.1.1 writes no file of this name (its stores hold db.lock, \
                     <timestamp>.log and <timestamp>.active.log)"
                };
                return Err(refuse(path, why));
            };
            if entry(vfs, &path)? == Entry::Dir {
                return Err(refuse(path, "a directory under the name of a data file"));
            }
            files.push(file);
        }
        if files.is_empty() {
            return Err(refuse(
                &self.dir,
                "the directory holds no data file of bitask 0.1.1",
            ));
        }
        let active: Vec<&LegacyFile> = files.iter().filter(|f| f.active).collect();
        if active.len() > 1 {
            return Err(refuse(
                self.dir.join(active[1].name()),
                format!(
                    "a second active file beside {} (bitask 0.1.1 had one at a time)",
                    active[0].name()
                ),
            ));
        }
        Ok(files)
    }

    /// Refuses a new file whose name a 0.1.1 file has: both would be in the directory at once
    /// during the moves. The new store's ids start past the 0.1.1 files' (`build`), so this
    /// only guards that rule.
    fn check_names(&self, old: &[LegacyFile], new: &[String]) -> Result<()> {
        for n in new {
            if old.iter().any(|f| f.name() == *n) {
                return Err(Error::Incompatible {
                    path: self.dir.join(n),
                    reason: "the new store made a file of the name of a file of bitask 0.1.1; \
                             nothing was changed"
                        .into(),
                });
            }
        }
        Ok(())
    }

    /// Removes the staging folder and everything in it: an upgrade's build, never anything
    /// else (the folder's name is this module's, and its files are a store's or the
    /// manifest).
    fn discard_staging(&self) -> Result<()> {
        let vfs = self.vfs;
        if entry(vfs, &self.staging)? != Entry::Dir {
            return Ok(());
        }
        let names = vfs
            .list_dir(&self.staging)
            .map_err(|e| Error::io("list", &self.staging, e))?;
        for n in names {
            let path = self.staging.join(&n);
            match vfs.remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", path, e)),
            }
        }
        match vfs.remove_dir(&self.staging) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove directory", &self.staging, e)),
        }
        sync_dir(vfs, &self.dir)
    }

    /// Step 4: builds the new store in the staging folder; returns its data files' names.
    fn build(&self, read: &Legacy, old: &[LegacyFile]) -> Result<Vec<String>> {
        let vfs = self.vfs;
        vfs.create_dir(&self.staging)
            .map_err(|e| Error::io("create directory", &self.staging, e))?;
        sync_dir(vfs, &self.dir)?;
        let opts = self
            .opts
            .clone()
            .sync(SyncMode::None)
            .create_if_missing(false)
            .error_if_exists(true)
            .min_file_id(old.iter().map(|f| f.id).max().unwrap_or(0));
        let db = Bitask::open_with(&self.staging, opts)?;
        // In the order of the records that won: the old files are read front to back.
        for (key, value) in read.live() {
            db.put(key, value)?;
        }
        if read.live.is_empty() {
            db.put(PLACEHOLDER_KEY, b"")?;
            db.remove(PLACEHOLDER_KEY)?;
        }
        db.sync()?;
        db.close()?;
        let mut names = vfs
            .list_dir(&self.staging)
            .map_err(|e| Error::io("list", &self.staging, e))?;
        names.sort();
        let mut data = Vec::new();
        for n in names {
            let path = self.staging.join(&n);
            if n == LOCK_FILE {
                vfs.remove_file(&path)
                    .map_err(|e| Error::io("remove", &path, e))?;
                continue;
            }
            // Closing cut the active file's reserved tail without syncing the new length.
            let f = vfs
                .open(&path, OpenMode::ReadShared)
                .map_err(|e| Error::io("open", &path, e))?;
            f.sync_data().map_err(|e| Error::io("sync", &path, e))?;
            if n == ID_FILE {
                continue;
            }
            if filename::parse(&n).is_none() {
                return Err(Error::io(
                    "build",
                    path,
                    io::Error::other("a file the new store does not own"),
                ));
            }
            data.push(n);
        }
        sync_dir(vfs, &self.staging)?;
        Ok(data)
    }

    fn manifest_path(&self) -> PathBuf {
        self.staging.join(MANIFEST)
    }

    /// Step 5.
    fn write_manifest(&self, m: &Manifest) -> Result<()> {
        let vfs = self.vfs;
        let tmp = self.staging.join(MANIFEST_TMP);
        let io_err = |op, e| Error::io(op, &tmp, e);
        let f = vfs
            .open(&tmp, OpenMode::CreateNew)
            .map_err(|e| io_err("create", e))?;
        f.write_all_at(0, &[&m.encode()])
            .map_err(|e| io_err("write", e))?;
        f.sync_data().map_err(|e| io_err("sync", e))?;
        drop(f);
        rename(vfs, &tmp, &self.manifest_path())?;
        sync_dir(vfs, &self.staging)
    }

    /// The manifest of an upgrade interrupted after step 5, if any.
    fn read_manifest(&self) -> Result<Option<Manifest>> {
        let path = self.manifest_path();
        let f = match self.vfs.open(&path, OpenMode::ReadShared) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open", path, e)),
        };
        let len = f.len().map_err(|e| Error::io("stat", &path, e))?;
        if len > 1 << 24 {
            return Err(damaged_manifest(path));
        }
        let mut b = vec![0u8; len as usize];
        f.read_exact_at(0, &mut [&mut b])
            .map_err(|e| Error::io("read", &path, e))?;
        Manifest::decode(&b)
            .map(Some)
            .ok_or_else(|| damaged_manifest(path))
    }

    /// Steps 6 to 10, each done only where it has not been.
    fn finish(&self, m: &Manifest) -> Result<()> {
        let vfs = self.vfs;
        match entry(vfs, &self.backup)? {
            Entry::Dir => {}
            Entry::File => return Err(refuse(&self.backup, "a file is in the way of the backup")),
            Entry::Missing => {
                vfs.create_dir(&self.backup)
                    .map_err(|e| Error::io("create directory", &self.backup, e))?;
            }
        }
        sync_dir(vfs, &self.dir)?;
        for n in &m.new {
            self.move_once(&self.staging.join(n), &self.dir.join(n))?;
        }
        sync_dir(vfs, &self.dir)?;
        sync_dir(vfs, &self.staging)?;
        for (f, _) in &m.old {
            self.move_once(&self.dir.join(f.name()), &self.backup.join(f.name()))?;
        }
        sync_dir(vfs, &self.backup)?;
        sync_dir(vfs, &self.dir)?;
        for (f, len) in &m.old {
            let path = self.backup.join(f.name());
            let now = file_len(vfs, &path)?;
            if now != *len {
                return Err(changed_file(path, *len, now));
            }
        }
        self.move_once(&self.staging.join(ID_FILE), &self.dir.join(ID_FILE))?;
        sync_dir(vfs, &self.dir)?;
        sync_dir(vfs, &self.staging)?;
        self.clean_up()
    }

    /// Renames `from` to `to` unless an earlier run did.
    fn move_once(&self, from: &Path, to: &Path) -> Result<()> {
        match (entry(self.vfs, from)?, entry(self.vfs, to)?) {
            (Entry::File, Entry::Missing) => rename(self.vfs, from, to),
            (Entry::Missing, Entry::File) => Ok(()),
            (Entry::Missing, Entry::Missing) => Err(Error::io(
                "move",
                from,
                io::Error::from_raw_os_error(libc::ENOENT),
            )),
            _ => Err(Error::Incompatible {
                path: to.into(),
                reason: format!(
                    "{} is there too: the upgrade cannot tell which to keep; nothing more was \
                     changed",
                    from.display()
                ),
            }),
        }
    }

    /// Step 10.
    fn clean_up(&self) -> Result<()> {
        let vfs = self.vfs;
        let path = self.manifest_path();
        match vfs.remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove", path, e)),
        }
        self.discard_staging()
    }

    /// Finishes an upgrade interrupted after step 5; `None` when 0.1.1 changed its store
    /// before the moves began (the staging folder is then removed, to start over).
    fn resume(&self, m: &Manifest) -> Result<Option<UpgradeReport>> {
        let vfs = self.vfs;
        let committed = entry(vfs, &self.dir.join(ID_FILE))? != Entry::Missing;
        if committed && entry(vfs, &self.staging.join(ID_FILE))? != Entry::Missing {
            return Err(Error::Incompatible {
                path: self.dir.join(ID_FILE),
                reason: format!(
                    "{} is there too: the directory was made a store while an upgrade was \
                     interrupted; nothing more was changed",
                    self.staging.join(ID_FILE).display()
                ),
            });
        }
        if committed {
            // Only step 10 was left. The store is finished whatever the backup holds now.
            self.clean_up()?;
            let located: Vec<(LegacyFile, PathBuf)> = m
                .old
                .iter()
                .map(|(f, _)| (*f, self.backup.join(f.name())))
                .collect();
            let read = read_legacy(vfs, &located, false)?;
            return Ok(Some(read.report(self.backup.clone(), true)));
        }
        let mut located = Vec::new();
        let mut moved = false;
        for n in &m.new {
            moved |= entry(vfs, &self.dir.join(n))? == Entry::File;
        }
        for (f, _) in &m.old {
            let in_dir = self.dir.join(f.name());
            let in_backup = self.backup.join(f.name());
            let here = if entry(vfs, &in_backup)? == Entry::File {
                moved = true;
                in_backup
            } else {
                in_dir
            };
            located.push((*f, here));
        }
        if !moved && !self.unchanged_since(m)? {
            self.discard_staging()?;
            if entry(vfs, &self.backup)? == Entry::Dir {
                // Made by step 6, and empty: nothing was moved.
                vfs.remove_dir(&self.backup)
                    .map_err(|e| Error::io("remove directory", &self.backup, e))?;
                sync_dir(vfs, &self.dir)?;
            }
            return Ok(None);
        }
        for ((f, len), (_, path)) in m.old.iter().zip(&located) {
            match file_len(vfs, path) {
                Ok(now) if now == *len => {}
                Ok(now) => return Err(changed_file(path.clone(), *len, now)),
                Err(e) => {
                    return Err(Error::Incompatible {
                        path: self.backup.join(f.name()),
                        reason: format!(
                            "a file of bitask 0.1.1 the interrupted upgrade was moving is \
                             missing ({e}); nothing more was changed"
                        ),
                    })
                }
            }
        }
        let read = read_legacy(vfs, &located, false)?;
        self.finish(m)?;
        Ok(Some(read.report(self.backup.clone(), true)))
    }

    /// Whether the directory's data files are the manifest's 0.1.1 files, with their lengths.
    fn unchanged_since(&self, m: &Manifest) -> Result<bool> {
        let names = self
            .vfs
            .list_dir(&self.dir)
            .map_err(|e| Error::io("list", &self.dir, e))?;
        let mut now: Vec<LegacyFile> = names.iter().filter_map(|n| LegacyFile::parse(n)).collect();
        now.sort();
        let mut then: Vec<LegacyFile> = m.old.iter().map(|(f, _)| *f).collect();
        then.sort();
        if now != then {
            return Ok(false);
        }
        for (f, len) in &m.old {
            if file_len(self.vfs, &self.dir.join(f.name()))? != *len {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn damaged_manifest(path: PathBuf) -> Error {
    Error::Incompatible {
        path,
        reason: "not a manifest this upgrade wrote (damaged?): the interrupted upgrade cannot \
                 be finished; nothing was changed"
            .into(),
    }
}

fn changed_file(path: PathBuf, was: u64, now: u64) -> Error {
    Error::Incompatible {
        path,
        reason: format!(
            "{now} bytes, where the upgrade read {was}: it changed during the upgrade; nothing \
             more was changed"
        ),
    }
}

/// What the upgrade moves, written once the new store is built (step 5).
///
/// ```text
/// bitask upgrade from 0.1.1, version 1
/// old <name> <length>     a 0.1.1 file, moved into the backup folder, in reading order
/// new <name>              a data file of the new store, moved into the directory
/// crc32 <8 hex digits>    of every byte before this line
/// ```
#[derive(Debug, PartialEq, Eq)]
struct Manifest {
    old: Vec<(LegacyFile, u64)>,
    new: Vec<String>,
}

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let mut s = format!("{MANIFEST_FIRST_LINE}\n");
        for (f, len) in &self.old {
            s.push_str(&format!("old {} {len}\n", f.name()));
        }
        for n in &self.new {
            s.push_str(&format!("new {n}\n"));
        }
        let crc = crc32fast::hash(s.as_bytes());
        s.push_str(&format!("crc32 {crc:08x}\n"));
        s.into_bytes()
    }

    fn decode(b: &[u8]) -> Option<Manifest> {
        let text = std::str::from_utf8(b).ok()?;
        let body = text.strip_suffix('\n')?;
        let at = body.rfind('\n')? + 1;
        let crc = u32::from_str_radix(body[at..].strip_prefix("crc32 ")?, 16).ok()?;
        if crc != crc32fast::hash(&b[..at]) {
            return None;
        }
        let mut lines = body[..at].lines();
        if lines.next()? != MANIFEST_FIRST_LINE {
            return None;
        }
        let mut m = Manifest {
            old: Vec::new(),
            new: Vec::new(),
        };
        for line in lines {
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["old", name, len] => m.old.push((LegacyFile::parse(name)?, len.parse().ok()?)),
                ["new", name] if filename::parse(name).is_some() => m.new.push(name.to_string()),
                _ => return None,
            }
        }
        Some(m)
    }
}

/// The bytes of a 0.1.1 file: its read-only mapping, or a copy where the file system
/// layer maps nothing.
struct Bytes {
    file: Box<dyn VFile>,
    copy: Option<Vec<u8>>,
}

impl Bytes {
    fn load(vfs: &dyn Vfs, path: &Path) -> Result<Bytes> {
        // Nothing writes the file meanwhile: 0.1.1 takes the same lock before it writes.
        let file = vfs
            .open(path, OpenMode::ReadSealed)
            .map_err(|e| Error::io("open", path, e))?;
        if file.as_bytes().is_some() {
            return Ok(Bytes { file, copy: None });
        }
        let len = file.len().map_err(|e| Error::io("stat", path, e))?;
        let mut copy = Vec::new();
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| copy.try_reserve_exact(n).is_ok());
        let Some(len) = len else {
            return Err(Error::io(
                "read",
                path,
                io::Error::from(io::ErrorKind::OutOfMemory),
            ));
        };
        copy.resize(len, 0);
        file.read_exact_at(0, &mut [&mut copy])
            .map_err(|e| Error::io("read", path, e))?;
        Ok(Bytes {
            file,
            copy: Some(copy),
        })
    }

    fn get(&self) -> &[u8] {
        match &self.copy {
            Some(c) => c,
            None => self.file.as_bytes().unwrap_or(&[]),
        }
    }
}

/// A valid 0.1.1 record: where it is in its file.
#[derive(Clone, Copy, Debug)]
struct Rec {
    offset: usize,
    key_len: usize,
    value_len: usize,
    ts: u64,
}

impl Rec {
    fn len(&self) -> usize {
        HEADER_LEN + self.key_len + self.value_len
    }

    fn key<'b>(&self, b: &'b [u8]) -> &'b [u8] {
        let at = self.offset + HEADER_LEN;
        &b[at..at + self.key_len]
    }

    fn value<'b>(&self, b: &'b [u8]) -> &'b [u8] {
        let at = self.offset + HEADER_LEN + self.key_len;
        &b[at..at + self.value_len]
    }

    fn is_tombstone(&self) -> bool {
        self.value_len == 0
    }
}

enum Parsed {
    Record(Rec),
    /// Not a valid record. `partial`: the file ends before the record its header announces,
    /// with lengths within this format's limits (or before a whole header). `end`: where the record ends by its lengths, when they fit.
    Bad {
        partial: bool,
        end: Option<usize>,
    },
}

/// The record at `pos` of `b`. `resync`: a candidate found by scanning, which must also be
/// plausible (lengths within this format's limits, a timestamp between 2020 and 2100).
fn parse_at(b: &[u8], pos: usize, resync: bool) -> Parsed {
    let rest = &b[pos..];
    if rest.len() < HEADER_LEN {
        return Parsed::Bad {
            partial: true,
            end: None,
        };
    }
    let u32_at = |i: usize| u32::from_le_bytes(rest[i..i + 4].try_into().unwrap());
    let crc = u32_at(0);
    let ts = u64::from_le_bytes(rest[4..12].try_into().unwrap());
    let (key_len, value_len) = (u32_at(12) as usize, u32_at(16) as usize);
    if key_len == 0 {
        return Parsed::Bad {
            partial: false,
            end: None,
        };
    }
    let total = HEADER_LEN as u64 + key_len as u64 + value_len as u64;
    let within_limits = key_len <= MAX_KEY_LEN && value_len <= MAX_VALUE_LEN;
    if total > rest.len() as u64 {
        // A record cut short by a crash still has the lengths it was written with; lengths
        // past this format's limits are more likely damage.
        return Parsed::Bad {
            partial: within_limits,
            end: None,
        };
    }
    if resync && !(within_limits && RESYNC_TIMESTAMPS.contains(&ts)) {
        return Parsed::Bad {
            partial: false,
            end: None,
        };
    }
    if crc32fast::hash(&rest[HEADER_LEN..total as usize]) != crc {
        return Parsed::Bad {
            partial: false,
            end: Some(pos + total as usize),
        };
    }
    Parsed::Record(Rec {
        offset: pos,
        key_len,
        value_len,
        ts,
    })
}

fn is_record(b: &[u8], pos: usize) -> bool {
    matches!(parse_at(b, pos, true), Parsed::Record(_))
}

/// Reads every record of one file, front to back; returns them with the regions that are
/// not records.
fn scan(file: LegacyFile, b: &[u8]) -> (Vec<Rec>, Vec<Region>) {
    let mut recs = Vec::new();
    let mut regions = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let (partial, end) = match parse_at(b, pos, false) {
            Parsed::Record(r) => {
                pos += r.len();
                recs.push(r);
                continue;
            }
            Parsed::Bad { partial, end } => (partial, end),
        };
        // A damaged value leaves the lengths right: the next record starts where they say.
        let next = end
            .filter(|&e| e < b.len() && matches!(parse_at(b, e, false), Parsed::Record(_)))
            .or_else(|| {
                let last = b.len().checked_sub(HEADER_LEN)?;
                (pos + 1..=last).find(|&q| is_record(b, q))
            });
        let region = |len: usize, torn: bool| Region {
            file,
            offset: pos as u64,
            len: len as u64,
            torn,
        };
        match next {
            Some(q) => {
                regions.push(region(q - pos, false));
                pos = q;
            }
            None => {
                let torn = partial || b[pos..].iter().all(|&x| x == 0);
                regions.push(region(b.len() - pos, torn));
                break;
            }
        }
    }
    (recs, regions)
}

/// A 0.1.1 file read.
struct Scanned {
    file: LegacyFile,
    path: PathBuf,
    bytes: Bytes,
    recs: Vec<Rec>,
    regions: Vec<Region>,
}

impl Scanned {
    /// The file's place in reading order (see the module documentation).
    fn order(&self) -> (bool, u64, bool, u64) {
        let id = self.file.id;
        if self.file.active {
            return (true, 0, false, id);
        }
        match self.recs.iter().map(|r| r.ts).max() {
            // Only records older than its name: a compaction's output.
            Some(newest) if newest < id => (false, newest, false, id),
            _ => (false, id, true, id),
        }
    }
}

/// The 0.1.1 files read, in reading order, and the records that won.
struct Legacy {
    files: Vec<FileRead>,
    scanned: Vec<Scanned>,
    /// (file index, record index) of each live key's winning record, in file and offset order.
    live: Vec<(usize, usize)>,
    regions: Vec<Region>,
}

/// Reads the 0.1.1 files at the given paths. `strict`: refuse a file that holds nothing of
/// 0.1.1 (a first upgrade's check; a resumed one reads files it already accepted).
fn read_legacy(vfs: &dyn Vfs, located: &[(LegacyFile, PathBuf)], strict: bool) -> Result<Legacy> {
    let mut scanned = Vec::new();
    for (file, path) in located {
        let bytes = Bytes::load(vfs, path)?;
        let b = bytes.get();
        if strict && b.starts_with(&DATA_MAGIC) {
            return Err(refuse(
                path,
                "a data file of this format, not of bitask 0.1.1",
            ));
        }
        let (recs, regions) = scan(*file, b);
        if strict && recs.is_empty() && regions.iter().any(|r| !r.torn) {
            return Err(refuse(
                path,
                format!(
                    "its {} bytes hold no whole, checksummed record of bitask 0.1.1 (move it \
                     out of the directory to upgrade the rest)",
                    b.len()
                ),
            ));
        }
        scanned.push(Scanned {
            file: *file,
            path: path.clone(),
            bytes,
            recs,
            regions,
        });
    }
    scanned.sort_by_key(|s| s.order());
    let mut winners: HashMap<&[u8], Option<(usize, usize)>> = HashMap::new();
    for (fi, s) in scanned.iter().enumerate() {
        let b = s.bytes.get();
        for (ri, r) in s.recs.iter().enumerate() {
            let won = (!r.is_tombstone()).then_some((fi, ri));
            winners.insert(r.key(b), won);
        }
    }
    let mut live: Vec<(usize, usize)> = winners.into_values().flatten().collect();
    live.sort_unstable();
    let files = scanned
        .iter()
        .map(|s| FileRead {
            file: s.file,
            len: s.bytes.get().len() as u64,
            records: s.recs.len() as u64,
            tombstones: s.recs.iter().filter(|r| r.is_tombstone()).count() as u64,
        })
        .collect();
    let regions = scanned.iter().flat_map(|s| s.regions.clone()).collect();
    Ok(Legacy {
        files,
        scanned,
        live,
        regions,
    })
}

impl Legacy {
    /// The live keys and their values, in the order of their records.
    fn live(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.live.iter().map(|&(fi, ri)| {
            let s = &self.scanned[fi];
            let (b, r) = (s.bytes.get(), &s.recs[ri]);
            (r.key(b), r.value(b))
        })
    }

    /// Refuses a live key or value this format cannot store (0.1.1 had no limits).
    fn check_limits(&self) -> Result<()> {
        for &(fi, ri) in &self.live {
            let s = &self.scanned[fi];
            let r = &s.recs[ri];
            let (what, len, max) = if r.key_len > MAX_KEY_LEN {
                ("key", r.key_len, MAX_KEY_LEN)
            } else if r.value_len > MAX_VALUE_LEN {
                ("value", r.value_len, MAX_VALUE_LEN)
            } else {
                continue;
            };
            return Err(Error::Incompatible {
                path: s.path.clone(),
                reason: format!(
                    "the record at offset {} holds a {what} of {len} bytes, and this format \
                     stores at most {max}; nothing was changed",
                    r.offset
                ),
            });
        }
        Ok(())
    }

    fn report(&self, backup_dir: PathBuf, resumed: bool) -> UpgradeReport {
        UpgradeReport {
            records_read: self.files.iter().map(|f| f.records).sum(),
            tombstones: self.files.iter().map(|f| f.tombstones).sum(),
            keys_converted: self.live.len() as u64,
            files: self.files.clone(),
            regions: self.regions.clone(),
            backup_dir,
            resumed,
        }
    }
}

#[cfg(test)]
mod tests;
