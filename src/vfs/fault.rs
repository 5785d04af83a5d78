//! A fault-injecting wrapper around any [`Vfs`], after SQLite's I/O-error loop: the Nth
//! eligible operation fails, once or from then on.
//!
//! Which operations are eligible depends on the fault:
//! - [`Fault::Enospc`]: operations that can need space (create, write, length change,
//!   reservation, rename, directory creation, file and directory sync).
//! - [`Fault::Eio`]: every operation, reads, listings and opens included.
//! - [`Fault::ShortWrite`]: writes; the failing write stores the first half of its bytes and
//!   then fails with `ENOSPC`, as a `write()` that returned short and then failed would.
//! - [`Fault::SyncFail`]: file and directory syncs, which fail with `EIO` (the data may or
//!   may not have reached the disk).
//! - [`Fault::Full`]: a full disk, that is operations that need space the file system does
//!   not have yet: creating a file, writing past the space a file holds (its length or what
//!   `reserve` reserved, whichever is more), growing a file, reserving more. They fail with
//!   `ENOSPC`, a failing write after storing the first half of its bytes. Everything else
//!   works, as on a real full disk: writes into reserved space, shrinking a file, syncs,
//!   renames and removals (directories are taken to exist already, and to have room for
//!   their entries).
//!
//! The wrapper also counts open files and locks, so a test can check that nothing leaks.
//!
//! It does not pass on `as_bytes` (a mapping's bytes), so every read goes through
//! `read_exact_at`, where a fault can be injected. What the engine does with a sealed file's
//! mapping instead (its length at open, a small record checked in place) is covered by the
//! tests on the real file system (`tests/corruption.rs`, `tests/api.rs`, `tests/on_disk.rs`, `tests/kill9.rs`).

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{FileLock, OpenMode, Pages, Special, VFile, Vfs};
use crate::util::sync::lock;

/// The kind of failure to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Enospc,
    Eio,
    ShortWrite,
    SyncFail,
    Full,
}

impl Fault {
    pub const ALL: [Fault; 4] = [
        Fault::Enospc,
        Fault::Eio,
        Fault::ShortWrite,
        Fault::SyncFail,
    ];
}

/// When to fail: the `at`-th eligible operation (1-based), and after it every eligible
/// operation too when `sticky`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub fault: Fault,
    pub at: u64,
    pub sticky: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Space,
    Write,
    Sync,
    Other,
}

#[derive(Default)]
struct FaultState {
    plan: Mutex<Option<Plan>>,
    armed: AtomicBool,
    seen: AtomicU64,
    injected: AtomicU64,
    open_files: AtomicI64,
    held_locks: AtomicI64,
}

impl FaultState {
    /// Counts an operation of `kind`; returns the error to fail it with, if any.
    fn check(&self, kind: Kind) -> Option<io::Error> {
        self.check_space(kind, false)
    }

    /// `check` for an operation that needs new space when `allocates`.
    fn check_space(&self, kind: Kind, allocates: bool) -> Option<io::Error> {
        if !self.armed.load(Ordering::Acquire) {
            return None;
        }
        let plan = (*lock(&self.plan))?;
        let eligible = match plan.fault {
            Fault::Enospc => matches!(kind, Kind::Space | Kind::Write | Kind::Sync),
            Fault::Eio => true,
            Fault::ShortWrite => kind == Kind::Write,
            Fault::SyncFail => kind == Kind::Sync,
            Fault::Full => allocates,
        };
        if !eligible {
            return None;
        }
        let n = self.seen.fetch_add(1, Ordering::AcqRel) + 1;
        let hit = n == plan.at || (plan.sticky && n > plan.at);
        if !hit {
            return None;
        }
        self.injected.fetch_add(1, Ordering::AcqRel);
        let errno = match plan.fault {
            Fault::Enospc | Fault::ShortWrite | Fault::Full => libc::ENOSPC,
            Fault::Eio | Fault::SyncFail => libc::EIO,
        };
        Some(io::Error::from_raw_os_error(errno))
    }

    fn short_write(&self) -> bool {
        matches!(
            *lock(&self.plan),
            Some(Plan {
                fault: Fault::ShortWrite | Fault::Full,
                ..
            })
        )
    }
}

/// Wraps a file system and fails operations according to a [`Plan`].
#[derive(Clone)]
pub struct FaultVfs {
    inner: Arc<dyn Vfs>,
    sh: Arc<FaultState>,
}

impl FaultVfs {
    /// A wrapper that injects nothing until [`FaultVfs::arm`].
    pub fn new(inner: Arc<dyn Vfs>) -> FaultVfs {
        FaultVfs {
            inner,
            sh: Arc::default(),
        }
    }

    /// Starts counting eligible operations from zero and failing them per `plan`.
    pub fn arm(&self, plan: Plan) {
        *lock(&self.sh.plan) = Some(plan);
        self.sh.seen.store(0, Ordering::Release);
        self.sh.armed.store(true, Ordering::Release);
    }

    /// Stops injecting (the fault "clears").
    pub fn disarm(&self) {
        self.sh.armed.store(false, Ordering::Release);
    }

    /// Eligible operations seen since `arm`.
    pub fn seen(&self) -> u64 {
        self.sh.seen.load(Ordering::Acquire)
    }

    /// Failures injected since the wrapper was made.
    pub fn injected(&self) -> u64 {
        self.sh.injected.load(Ordering::Acquire)
    }

    /// Files opened through the wrapper and not yet closed.
    pub fn open_files(&self) -> i64 {
        self.sh.open_files.load(Ordering::Acquire)
    }

    /// Locks taken through the wrapper and not yet released.
    pub fn held_locks(&self) -> i64 {
        self.sh.held_locks.load(Ordering::Acquire)
    }

    fn fail(&self, kind: Kind) -> io::Result<()> {
        match self.sh.check(kind) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Vfs for FaultVfs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.fail(Kind::Space)?;
        self.inner.create_dir_all(dir)
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        self.fail(Kind::Space)?;
        self.inner.create_dir(dir)
    }

    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        self.fail(Kind::Other)?;
        self.inner.remove_dir(dir)
    }

    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        self.fail(Kind::Other)?;
        self.inner.is_dir(path)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.fail(Kind::Other)?;
        self.inner.list_dir(dir)
    }

    fn list_dir_typed(&self, dir: &Path) -> io::Result<Vec<(String, Option<Special>)>> {
        self.fail(Kind::Other)?;
        self.inner.list_dir_typed(dir)
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VFile>> {
        let create = mode == OpenMode::CreateNew;
        let kind = if create { Kind::Space } else { Kind::Other };
        if let Some(e) = self.sh.check_space(kind, create) {
            return Err(e);
        }
        let file = self.inner.open(path, mode)?;
        self.sh.open_files.fetch_add(1, Ordering::AcqRel);
        Ok(Box::new(FaultFile {
            inner: file,
            sh: self.sh.clone(),
            reserved: AtomicU64::new(0),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.fail(Kind::Space)?;
        self.inner.rename(from, to)
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.fail(Kind::Space)?;
        self.inner.hard_link(from, to)
    }

    fn same_file(&self, a: &Path, b: &Path) -> bool {
        self.inner.same_file(a, b)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.fail(Kind::Other)?;
        self.inner.remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.fail(Kind::Sync)?;
        self.inner.sync_dir(dir)
    }

    fn free_space(&self, dir: &Path) -> io::Result<Option<u64>> {
        self.inner.free_space(dir)
    }

    fn lock_exclusive(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        self.fail(Kind::Other)?;
        let lock = self.inner.lock_exclusive(path)?;
        self.sh.held_locks.fetch_add(1, Ordering::AcqRel);
        Ok(Box::new(FaultLock {
            _inner: lock,
            sh: self.sh.clone(),
        }))
    }
}

struct FaultLock {
    _inner: Box<dyn FileLock>,
    sh: Arc<FaultState>,
}

impl FileLock for FaultLock {}

impl Drop for FaultLock {
    fn drop(&mut self) {
        self.sh.held_locks.fetch_sub(1, Ordering::AcqRel);
    }
}

struct FaultFile {
    inner: Box<dyn VFile>,
    sh: Arc<FaultState>,
    /// Bytes `reserve` reserved (and no cut gave back since), which writes can fill on a full
    /// disk.
    reserved: AtomicU64,
}

impl Drop for FaultFile {
    fn drop(&mut self) {
        self.sh.open_files.fetch_sub(1, Ordering::AcqRel);
    }
}

impl FaultFile {
    fn fail(&self, kind: Kind) -> io::Result<()> {
        self.fail_space(kind, false)
    }

    fn fail_space(&self, kind: Kind, allocates: bool) -> io::Result<()> {
        match self.sh.check_space(kind, allocates) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Whether the file holds space up to `end` already (see `Fault::Full`).
    fn holds(&self, end: u64) -> bool {
        end <= self.reserved.load(Ordering::Acquire) || self.inner.len().is_ok_and(|l| end <= l)
    }
}

impl VFile for FaultFile {
    fn len(&self) -> io::Result<u64> {
        self.fail(Kind::Other)?;
        self.inner.len()
    }

    fn read_exact_at(&self, offset: u64, bufs: &mut [&mut [u8]]) -> io::Result<()> {
        self.fail(Kind::Other)?;
        self.inner.read_exact_at(offset, bufs)
    }

    fn write_all_at(&self, offset: u64, bufs: &[&[u8]]) -> io::Result<()> {
        let end = offset + bufs.iter().map(|b| b.len() as u64).sum::<u64>();
        if let Err(e) = self.fail_space(Kind::Write, !self.holds(end)) {
            if self.sh.short_write() {
                let joined = bufs.concat();
                let half = joined.len() / 2;
                if half > 0 {
                    self.inner.write_all_at(offset, &[&joined[..half]])?;
                }
            }
            return Err(e);
        }
        self.inner.write_all_at(offset, bufs)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.fail(Kind::Sync)?;
        self.inner.sync_data()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.fail_space(Kind::Space, !self.holds(len))?;
        self.inner.set_len(len)?;
        self.reserved.fetch_min(len, Ordering::AcqRel);
        Ok(())
    }

    fn prefault(&self, offset: u64, len: u64) -> bool {
        self.inner.prefault(offset, len)
    }

    fn reserve(&self, len: u64, pages: Pages) -> io::Result<bool> {
        self.fail_space(Kind::Space, !self.holds(len))?;
        let reserved = self.inner.reserve(len, pages)?;
        if reserved {
            self.reserved.fetch_max(len, Ordering::AcqRel);
        }
        Ok(reserved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::sim::{Reserve, SimVfs};

    #[test]
    fn nth_operation_fails_once_or_for_good() {
        let f = FaultVfs::new(Arc::new(SimVfs::new()));
        let dir = Path::new("/d");
        f.create_dir_all(dir).unwrap();
        f.arm(Plan {
            fault: Fault::Eio,
            at: 2,
            sticky: false,
        });
        assert!(f.list_dir(dir).is_ok());
        assert!(f.list_dir(dir).is_err());
        assert!(f.list_dir(dir).is_ok());
        f.arm(Plan {
            fault: Fault::SyncFail,
            at: 1,
            sticky: true,
        });
        assert!(f.list_dir(dir).is_ok(), "not eligible");
        assert!(f.sync_dir(dir).is_err());
        assert!(f.sync_dir(dir).is_err());
        f.disarm();
        assert!(f.sync_dir(dir).is_ok());
        assert_eq!(f.injected(), 3);
    }

    #[test]
    fn a_full_disk_fails_only_what_needs_new_space() {
        let f = FaultVfs::new(Arc::new(SimVfs::new().with_reserve(Reserve::ZeroExtend)));
        let dir = Path::new("/d");
        f.create_dir_all(dir).unwrap();
        let file = f.open(&dir.join("x"), OpenMode::CreateNew).unwrap();
        assert!(file.reserve(8, Pages::Base).unwrap());
        f.arm(Plan {
            fault: Fault::Full,
            at: 1,
            sticky: true,
        });
        let no_space = |r: io::Result<()>| r.unwrap_err().raw_os_error() == Some(libc::ENOSPC);
        file.write_all_at(0, &[b"abcd", b"efgh"]).unwrap();
        assert!(
            no_space(file.write_all_at(6, &[b"ijkl"])),
            "past the reservation"
        );
        assert_eq!(file.len().unwrap(), 8, "half of the write stored");
        assert!(no_space(file.set_len(9)));
        assert!(no_space(file.reserve(16, Pages::Base).map(drop)));
        assert!(no_space(
            f.open(&dir.join("y"), OpenMode::CreateNew).map(drop)
        ));
        file.set_len(4).unwrap();
        file.sync_data().unwrap();
        f.sync_dir(dir).unwrap();
        f.rename(&dir.join("x"), &dir.join("z")).unwrap();
        assert!(
            no_space(file.write_all_at(4, &[b"e"])),
            "the cut gave the space back"
        );
        f.disarm();
        file.write_all_at(4, &[b"e"]).unwrap();
        assert_eq!(f.injected(), 5);
    }

    #[test]
    fn short_write_stores_half_and_files_are_counted() {
        let f = FaultVfs::new(Arc::new(SimVfs::new()));
        let dir = Path::new("/d");
        f.create_dir_all(dir).unwrap();
        let file = f.open(&dir.join("x"), OpenMode::CreateNew).unwrap();
        assert_eq!(f.open_files(), 1);
        f.arm(Plan {
            fault: Fault::ShortWrite,
            at: 1,
            sticky: false,
        });
        let err = file.write_all_at(0, &[b"abcd", b"efgh"]).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(file.len().unwrap(), 4);
        drop(file);
        assert_eq!(f.open_files(), 0);
    }
}
