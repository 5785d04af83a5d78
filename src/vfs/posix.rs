//! The operating system's file system. Files that can be (immutable sealed files, and active
//! files whose space is reserved) are memory-mapped, so a read is a copy out of the page
//! cache and an append a copy into it: no system call on either path. A store into a
//! `MAP_SHARED` mapping is in the kernel's hands at once, so it survives `kill -9` of the
//! process like a `write()` does. Everything else uses positioned `pread`/`pwrite`.

#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

use super::descriptors::{self, MappingSlot};
use super::{FileLock, OpenMode, Pages, Special, VFile, Vfs};

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct PosixVfs;

impl Vfs for PosixVfs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir(dir)
    }

    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::remove_dir(dir)
    }

    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        Ok(std::fs::metadata(path)?.is_dir())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn list_dir_typed(&self, dir: &Path) -> io::Result<Vec<(String, Option<Special>)>> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            // The type comes with the listing on most file systems (no system call); a
            // symbolic link is judged by what it leads to, as opening it would.
            let file_type = entry.file_type()?;
            let special = if file_type.is_symlink() {
                // One that leads nowhere is left to the open to report.
                std::fs::metadata(entry.path())
                    .ok()
                    .and_then(|m| Special::of(m.file_type()))
            } else {
                Special::of(file_type)
            };
            entries.push((name, special));
        }
        Ok(entries)
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VFile>> {
        let mut oo = OpenOptions::new();
        oo.custom_flags(NO_WAIT_FLAGS);
        match mode {
            OpenMode::ReadSealed | OpenMode::ReadShared => oo.read(true),
            OpenMode::Write => oo.read(true).write(true),
            OpenMode::CreateNew => oo.read(true).write(true).create_new(true),
        };
        let file = oo.open(path).map_err(|e| explain(path, e))?;
        regular_only(&file)?;
        if mode == OpenMode::ReadSealed {
            return Ok(Box::new(PosixFile::sealed(file, path)?));
        }
        Ok(Box::new(PosixFile::new(file)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::hard_link(from, to)
    }

    fn same_file(&self, a: &Path, b: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn free_space(&self, dir: &Path) -> io::Result<Option<u64>> {
        let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: statvfs is plain data, all zeros a valid value.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is a NUL-terminated path that outlives the call; statvfs writes only `st`.
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // f_bavail: the blocks an unprivileged process may still take.
        Ok(Some(
            (st.f_bavail as u64).saturating_mul(st.f_frsize as u64),
        ))
    }

    fn lock_exclusive(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(NO_WAIT_FLAGS)
            .open(path)
            .map_err(|e| explain(path, e))?;
        regular_only(&file)?;
        fs2::FileExt::try_lock_exclusive(&file).map_err(|e| {
            if e.kind() == fs2::lock_contended_error().kind() {
                io::Error::from(io::ErrorKind::WouldBlock)
            } else {
                e
            }
        })?;
        Ok(Box::new(PosixLock { _file: file }))
    }
}

/// Flags of every open: `O_NONBLOCK` because opening a FIFO for reading waits for a writer,
/// for ever if none comes; `O_NOCTTY` so that a terminal never becomes the process's
/// controlling one. Whatever the name holds, the open returns at once, and `regular_only`
/// then refuses anything but a regular file.
const NO_WAIT_FLAGS: libc::c_int = libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY;

/// Fails unless `file` is a regular file, judged on the descriptor itself (`fstat`), so no
/// rename between a check and the open can slip another file in; then clears `O_NONBLOCK`,
/// which would otherwise stay on the descriptor.
fn regular_only(file: &File) -> io::Result<()> {
    if let Some(special) = Special::of(file.metadata()?.file_type()) {
        return Err(special.error());
    }
    let fd = file.as_raw_fd();
    // SAFETY: F_GETFL on a descriptor we own reads its status flags; nothing else.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: F_SETFL on a descriptor we own, with its own flags less O_NONBLOCK.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The error of an open of `path` that failed with `err`: the errors the kernel gives for a
/// directory opened for writing (`EISDIR`), a socket (`ENXIO`) or a device without a driver
/// (`ENODEV`) become what `regular_only` says, which names the cause.
fn explain(path: &Path, err: io::Error) -> io::Error {
    let special = match err.raw_os_error() {
        Some(libc::EISDIR | libc::ENXIO | libc::ENODEV) => std::fs::metadata(path)
            .ok()
            .and_then(|m| Special::of(m.file_type())),
        _ => None,
    };
    special.map_or(err, Special::error)
}

struct PosixLock {
    _file: File,
}

impl FileLock for PosixLock {}

/// A mapping of the first `len` bytes of a file.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    /// Mapped without write permission (an immutable, sealed file).
    read_only: bool,
}

// SAFETY: the mapping is plain shared memory; all access goes through `PosixFile`, which only
// copies bytes in ranges the engine has published or owns for writing.
unsafe impl Send for Mapping {}
// SAFETY: see `Send`; concurrent copies touch disjoint or read-only ranges.
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` came from a successful mmap and are unmapped exactly once.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// How a file is reached.
enum Handle {
    /// Through its open descriptor (and a mapping when it has one).
    Open(File),
    /// A sealed file mapped whole: the mapping needs no descriptor, so none is kept.
    Mapped { len: u64, _slot: MappingSlot },
    /// A sealed file past the process's mapping budget (see `descriptors`): read with a
    /// descriptor borrowed from the cache, opened again by path when evicted.
    Cold { path: PathBuf, len: u64, key: u64 },
}

struct PosixFile {
    handle: Handle,
    map: OnceLock<Mapping>,
    /// Bytes at the start of the mapping that are backed by the file (and by reserved blocks
    /// when writable). Accesses past it use pread/pwrite, which cannot fault.
    window: AtomicU64,
    /// Set once the file has been cut (`set_len`): `prefault` stops.
    cut: AtomicBool,
    /// The end of the furthest write through the mapping: `prefault` keeps ahead of it.
    written_to: AtomicU64,
}

impl PosixFile {
    fn new(file: File) -> PosixFile {
        PosixFile {
            handle: Handle::Open(file),
            map: OnceLock::new(),
            window: AtomicU64::new(0),
            cut: AtomicBool::new(false),
            written_to: AtomicU64::new(0),
        }
    }

    /// A sealed file, which is never written, cut or synced again: mapped read-only when the
    /// mapping budget allows, and either way without a descriptor of its own.
    fn sealed(file: File, path: &Path) -> io::Result<PosixFile> {
        let len = file.metadata()?.len();
        let mut f = PosixFile::new(file);
        let handle = match MappingSlot::take() {
            Some(slot) => {
                f.install_map(len, libc::PROT_READ, Pages::Base)?;
                Handle::Mapped { len, _slot: slot }
            }
            None => Handle::Cold {
                path: path.to_path_buf(),
                len,
                key: descriptors::new_key(),
            },
        };
        // Drops the descriptor: a mapping stays valid without it.
        f.handle = handle;
        Ok(f)
    }

    /// The descriptor of a file that keeps one (every file but a sealed one).
    fn fd(&self) -> io::Result<&File> {
        match &self.handle {
            Handle::Open(file) => Ok(file),
            _ => Err(io::Error::from_raw_os_error(libc::EBADF)),
        }
    }

    /// Maps the first `len` bytes. A read-only mapping always asks for base pages: huge ones
    /// would make a fault on a file that is not cached read 2 MiB from the disk (while pages
    /// already cached huge, as an active file's were, are mapped huge all the same).
    fn install_map(&self, len: u64, prot: libc::c_int, pages: Pages) -> io::Result<()> {
        if len == 0 || self.map.get().is_some() {
            return Ok(());
        }
        let len_usize =
            usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: mapping a file we hold open; the kernel picks the address. The result is
        // checked for MAP_FAILED before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len_usize,
                prot,
                libc::MAP_SHARED,
                self.fd()?.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).expect("mmap returned null");
        if pages == Pages::Huge {
            // Before anything touches the mapping: the advice shapes the pages its faults
            // create. Only advice, so a kernel that refuses it changes nothing.
            // SAFETY: advice on the mapping just made; it cannot change its contents.
            unsafe {
                libc::madvise(ptr.as_ptr().cast(), len_usize, libc::MADV_HUGEPAGE);
            }
        }
        if self
            .map
            .set(Mapping {
                ptr,
                len: len_usize,
                read_only: prot & libc::PROT_WRITE == 0,
            })
            .is_err()
        {
            // Lost a race with another installer: ours is unmapped by its Drop.
            return Ok(());
        }
        self.window.store(len, Ordering::Release);
        Ok(())
    }

    /// The mapped range `[offset, offset+len)`, when it lies inside the window.
    fn mapped(&self, offset: u64, len: usize) -> Option<*mut u8> {
        let map = self.map.get()?;
        let end = offset.checked_add(len as u64)?;
        if end > self.window.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: `offset + len <= window <= map.len`, so the pointer stays inside the mapping.
        Some(unsafe { map.ptr.as_ptr().add(offset as usize) })
    }
}

impl Drop for PosixFile {
    fn drop(&mut self) {
        // A file that is closed (deleted by a merge, or the store closed) keeps no cached
        // descriptor open.
        if let Handle::Cold { key, .. } = self.handle {
            descriptors::forget(key);
        }
    }
}

/// How far ahead of the writer `prefault` starts.
const WRITER_LEAD: u64 = 256 * 1024;

/// Where a prefault asked to start at `offset` starts, once the writer has written up to
/// `reached` (0: not yet). The pages the writer has reached it faulted itself, and it is
/// about to fault the next ones: prefaulting those would only make one of the two threads
/// sleep on the other's page lock. So the prefault starts a lead ahead of the writer.
fn prefault_start(offset: u64, reached: u64) -> u64 {
    match reached {
        0 => offset,
        _ => offset.max((reached + WRITER_LEAD).next_multiple_of(4096)),
    }
}

fn total_len<T: AsRef<[u8]>>(bufs: &[T]) -> usize {
    bufs.iter().map(|b| b.as_ref().len()).sum()
}

impl VFile for PosixFile {
    fn len(&self) -> io::Result<u64> {
        match &self.handle {
            Handle::Open(file) => Ok(file.metadata()?.len()),
            Handle::Mapped { len, .. } | Handle::Cold { len, .. } => Ok(*len),
        }
    }

    fn read_exact_at(&self, offset: u64, bufs: &mut [&mut [u8]]) -> io::Result<()> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if let Some(mut src) = self.mapped(offset, total) {
            for buf in bufs.iter_mut() {
                // SAFETY: `src..src+total` lies in the mapping (checked by `mapped`); the
                // engine only reads ranges whose writes happened-before (published through
                // the key directory's locks), and `buf` is a distinct Rust allocation.
                unsafe {
                    std::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), buf.len());
                    src = src.add(buf.len());
                }
            }
            return Ok(());
        }
        let borrowed;
        let file = match &self.handle {
            Handle::Open(file) => file,
            Handle::Cold { path, key, .. } => {
                borrowed = descriptors::borrow(*key, path, |p| {
                    let file = descriptors::open_for_reading(p, NO_WAIT_FLAGS)?;
                    regular_only(&file)?;
                    Ok(file)
                })?;
                &*borrowed
            }
            // Everything of a mapped sealed file is in its mapping.
            Handle::Mapped { .. } => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
        };
        let mut pos = offset;
        for buf in bufs.iter_mut() {
            file.read_exact_at(buf, pos)?;
            pos += buf.len() as u64;
        }
        Ok(())
    }

    fn write_all_at(&self, offset: u64, bufs: &[&[u8]]) -> io::Result<()> {
        let total = total_len(bufs);
        if let Some(mut dst) = self.mapped(offset, total) {
            // One writer at a time writes a file, so a load and a store do (no atomic
            // read-modify-write on every append).
            let end = offset + total as u64;
            if end > self.written_to.load(Ordering::Relaxed) {
                self.written_to.store(end, Ordering::Relaxed);
            }
            for buf in bufs {
                // SAFETY: the destination range lies in a writable mapping backed by reserved
                // blocks (window), and only the single writer writes to unpublished ranges.
                unsafe {
                    std::ptr::copy_nonoverlapping(buf.as_ptr(), dst, buf.len());
                    dst = dst.add(buf.len());
                }
            }
            return Ok(());
        }
        let file = self.fd()?;
        let mut pos = offset;
        for buf in bufs {
            file.write_all_at(buf, pos)?;
            pos += buf.len() as u64;
        }
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        self.fd()?.sync_data()
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        let map = self.map.get()?;
        if !map.read_only {
            return None;
        }
        let len = self.window.load(Ordering::Acquire) as usize;
        // SAFETY: a read-only mapping is made only of ReadSealed files, which nothing writes
        // or shrinks while they are open; `len <= map.len`, and the slice borrows `self`, so
        // the mapping outlives it.
        Some(unsafe { std::slice::from_raw_parts(map.ptr.as_ptr(), len) })
    }

    fn start_writeback(&self) -> io::Result<()> {
        // SAFETY: sync_file_range on an fd we own; it only schedules writeback.
        let rc = unsafe {
            libc::sync_file_range(self.fd()?.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE)
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        // Shrink the usable window first, so nothing touches mapped pages past the new end.
        self.window.fetch_min(len, Ordering::AcqRel);
        self.cut.store(true, Ordering::Release);
        if let Some(map) = self.map.get().filter(|m| !m.read_only) {
            // A file is cut when it is done being written (sealed, closed) or after a failed
            // append. Drop the writable mapping's page-table entries (the pages stay in the
            // page cache, dirty ones marked so, and readers fault them back in read-only):
            // writeback, which the seal's fdatasync starts, must write-protect every page
            // still mapped writable, with a TLB shootdown per 4 KiB page that interrupts the
            // writer on the other core; dropping the whole range costs one.
            // SAFETY: advice on our own mapping; for a shared file mapping it cannot lose
            // data or invalidate the mapping, and later accesses fault the pages back in.
            unsafe {
                libc::madvise(map.ptr.as_ptr().cast(), map.len, libc::MADV_DONTNEED);
            }
        }
        self.fd()?.set_len(len)
    }

    fn prefault(&self, offset: u64, len: u64) -> bool {
        let Some(map) = self.map.get().filter(|m| !m.read_only) else {
            return false;
        };
        let end = offset
            .saturating_add(len)
            .min(self.window.load(Ordering::Acquire));
        if self.cut.load(Ordering::Acquire) || offset % 4096 != 0 || offset >= end {
            return false;
        }
        let offset = prefault_start(offset, self.written_to.load(Ordering::Relaxed));
        if offset >= end {
            return true; // the writer is past this range: nothing to do here
        }
        // SAFETY: `offset..end` lies inside the mapping (`end <= window <= map.len`) and
        // `offset` is page-aligned; populating a shared file mapping only faults pages in (a
        // page that cannot be faulted fails the call with EFAULT instead of raising SIGBUS).
        let rc = unsafe {
            libc::madvise(
                map.ptr.as_ptr().add(offset as usize).cast(),
                (end - offset) as usize,
                libc::MADV_POPULATE_WRITE,
            )
        };
        rc == 0
    }

    fn reserve(&self, len: u64, pages: Pages) -> io::Result<bool> {
        let off_len =
            libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: fallocate on an fd we own; mode 0 allocates blocks and extends the size.
        let rc = unsafe { libc::fallocate(self.fd()?.as_raw_fd(), 0, 0, off_len) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => Ok(false),
                _ => Err(err),
            };
        }
        if self.map.get().is_none() {
            self.install_map(len, libc::PROT_READ | libc::PROT_WRITE, pages)?;
            Ok(true)
        } else {
            let map_len = self.map.get().map_or(0, |m| m.len as u64);
            self.window.store(len.min(map_len), Ordering::Release);
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_at_once_and_a_regular_file_left_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        for mode in [OpenMode::ReadSealed, OpenMode::ReadShared, OpenMode::Write] {
            let err = PosixVfs.open(&fifo, mode).err().expect("a FIFO opened");
            assert!(
                err.to_string().starts_with("a FIFO, not a regular file"),
                "{err}"
            );
        }
        let err = PosixVfs.lock_exclusive(&fifo).err().expect("a FIFO locked");
        assert!(err.to_string().starts_with("a FIFO"), "{err}");
        let err = PosixVfs
            .lock_exclusive(dir.path())
            .err()
            .expect("a directory locked");
        assert!(err.to_string().starts_with("a directory"), "{err}");

        let path = dir.path().join("file");
        std::fs::write(&path, b"x").unwrap();
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(NO_WAIT_FLAGS)
            .open(&path)
            .unwrap();
        regular_only(&file).unwrap();
        // SAFETY: F_GETFL on a descriptor we own.
        let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0);
        let typed = PosixVfs.list_dir_typed(dir.path()).unwrap();
        let mut typed: Vec<_> = typed.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        typed.sort_by_key(|(n, _)| *n);
        assert_eq!(typed, [("fifo", Some(Special::Fifo)), ("file", None)]);
    }

    #[test]
    fn prefault_starts_a_lead_past_the_writer() {
        assert_eq!(prefault_start(0, 0), 0, "nothing written yet");
        assert_eq!(prefault_start(8192, 0), 8192);
        // Past the writer's furthest write plus the lead, on a page boundary.
        assert_eq!(prefault_start(0, 100), 4096 + WRITER_LEAD);
        assert_eq!(prefault_start(0, 4096), 4096 + WRITER_LEAD);
        assert_eq!(prefault_start(0, 4097), 8192 + WRITER_LEAD);
        // Already far enough ahead: unchanged.
        let ahead = 4096 + 2 * WRITER_LEAD;
        assert_eq!(prefault_start(ahead, 4096), ahead);
    }

    #[test]
    fn only_a_reservation_for_huge_pages_advises_them() {
        let dir = tempfile::tempdir().unwrap();
        for pages in [Pages::Base, Pages::Huge] {
            let path = dir.path().join(format!("{pages:?}"));
            let f = PosixFile::new(File::create_new(&path).unwrap());
            if !f.reserve(4 << 20, pages).unwrap() {
                return; // no fallocate here: nothing is mapped
            }
            let addr = f.map.get().unwrap().ptr.as_ptr() as usize;
            let huge = crate::util::sys::vm_flags(addr)
                .split_whitespace()
                .any(|flag| flag == "hg");
            assert_eq!(huge, pages == Pages::Huge, "{pages:?}");
            // Sealed and mapped again for reading, it asks for base pages.
            f.write_all_at(0, &[b"data"]).unwrap();
            f.set_len(4).unwrap();
            let sealed = PosixFile::sealed(File::open(&path).unwrap(), &path).unwrap();
            let addr = sealed.map.get().unwrap().ptr.as_ptr() as usize;
            assert!(
                !crate::util::sys::vm_flags(addr).contains(" hg"),
                "{pages:?}"
            );
            assert_eq!(sealed.as_bytes(), Some(&b"data"[..]));
        }
    }

    #[test]
    fn a_sealed_file_keeps_no_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("7.log");
        std::fs::write(&path, b"sealed bytes").unwrap();
        let open_fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
        let before = open_fds();
        let files: Vec<_> = (0..50)
            .map(|_| PosixVfs.open(&path, OpenMode::ReadSealed).unwrap())
            .collect();
        // Other tests open files meanwhile: far fewer than one descriptor per file.
        assert!(open_fds() < before + 25, "{} -> {}", before, open_fds());
        for f in &files {
            assert_eq!(f.len().unwrap(), 12);
            let mut buf = [0u8; 5];
            f.read_exact_at(7, &mut [&mut buf]).unwrap();
            assert_eq!(&buf, b"bytes");
            assert!(
                f.read_exact_at(8, &mut [&mut buf]).is_err(),
                "read past the end"
            );
        }
    }

    #[test]
    fn prefault_stops_at_the_end_and_once_cut_and_a_cut_keeps_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let vfs = PosixVfs;
        let f = vfs
            .open(&dir.path().join("f"), OpenMode::CreateNew)
            .unwrap();
        assert!(!f.prefault(0, 4096), "nothing mapped yet");
        if !f.reserve(1 << 20, Pages::Base).unwrap() {
            return; // no fallocate here: nothing is mapped
        }
        assert!(f.prefault(0, 256 << 10));
        assert!(f.prefault(768 << 10, 1 << 20), "clamped to the end");
        assert!(!f.prefault(1 << 20, 4096), "past the end");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        f.write_all_at(100, &[&data]).unwrap();
        // Behind the writer, and within its lead, there is nothing to do but more further on;
        // prefaulting never changes written bytes.
        assert!(f.prefault(0, 256 << 10), "behind the writer");
        assert!(f.prefault(512 << 10, 32 << 10), "within the writer's lead");
        assert!(f.prefault(768 << 10, 256 << 10), "ahead of the writer");
        // Cutting drops the writable mapping's page-table entries, never the written bytes.
        f.set_len(100 + data.len() as u64).unwrap();
        assert!(!f.prefault(0, 4096), "cut");
        let mut back = vec![0u8; data.len()];
        f.read_exact_at(100, &mut [&mut back]).unwrap();
        assert_eq!(back, data);
        drop(f);
        assert_eq!(
            std::fs::read(dir.path().join("f")).unwrap()[100..],
            data[..]
        );
    }
}
