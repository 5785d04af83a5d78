//! A simulated file system for power-loss testing, in memory.
//!
//! [`SimVfs`] behaves like a POSIX file system for the engine, and (when made with
//! [`SimVfs::recording`]) logs every operation that changes the disk, in order, as an [`Op`].
//! [`Replayer`] walks such a log and, at any point of it, produces the disks a power cut at
//! that point could leave ([`Replayer::crash_images`]):
//! - data made durable by `sync_data` of its file is kept;
//! - a file's unsynced writes and length changes persist as a prefix, in order, and the last
//!   one may be torn: cut at any byte, or its unwritten part read back as garbage or zeros
//!   (the length reached the disk, the data did not);
//! - creations, renames and removals not yet made durable by `sync_dir` of their directory are
//!   undone, newest first (a prefix of them persists).
//!
//! At each point the images are: every prefix of the unsynced directory operations with all
//! files at their synced contents and with all files whole; for each file with unsynced
//! operations, prefixes of them with the other files whole and with the other files synced
//! only; and for the newest write of the file written last, every tear ([`CrashConfig`]
//! bounds the counts). An older write was the newest one at an earlier point, where its
//! tears were produced.
//!
//! This is the model of LevelDB's fault-injection test and of the ALICE study (OSDI 2014),
//! simplified to in-order persistence within one file and within one directory.
//!
//! [`SimVfs::from_image`] turns a disk back into a file system to open the store on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{FileLock, OpenMode, Pages, VFile, Vfs};
use crate::util::sync::lock;

/// One operation that changes the disk, or a marker the test put in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A new, empty file `ino` was linked at `path`.
    Create { path: PathBuf, ino: u64 },
    /// Bytes written at an offset of file `ino` (one `write_all_at` call).
    Write {
        ino: u64,
        offset: u64,
        data: Vec<u8>,
    },
    /// The length of file `ino` was set (truncation, or zero extension by `set_len`/`reserve`).
    SetLen { ino: u64, len: u64 },
    /// `sync_data` of file `ino` returned.
    SyncData { ino: u64 },
    /// `rename(from, to)`.
    Rename { from: PathBuf, to: PathBuf },
    /// `unlink(path)`.
    Remove { path: PathBuf },
    /// `sync_dir(dir)` returned.
    SyncDir { dir: PathBuf },
    /// A test's marker (see [`SimVfs::mark`]); changes nothing.
    Mark(u64),
}

/// What `reserve` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reserve {
    /// Unsupported: returns `Ok(false)`, the file keeps its length.
    Unsupported,
    /// Like `fallocate`: extends the file with zeros to the reserved length, returns `Ok(true)`.
    ZeroExtend,
}

/// A disk: directories and the contents of the files in them, by path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Image {
    pub dirs: BTreeSet<PathBuf>,
    pub files: BTreeMap<PathBuf, Vec<u8>>,
}

impl Image {
    /// A 64-bit digest of names and contents (FNV-1a), to tell images apart cheaply.
    pub fn digest(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= b as u64;
                h = h.wrapping_mul(0x100_0000_01b3);
            }
            h ^= 0xff;
            h = h.wrapping_mul(0x100_0000_01b3);
        };
        for (p, data) in &self.files {
            eat(p.as_os_str().as_encoded_bytes());
            eat(&(data.len() as u64).to_le_bytes());
            eat(data);
        }
        h
    }
}

#[derive(Default)]
struct State {
    dirs: BTreeSet<PathBuf>,
    names: BTreeMap<PathBuf, u64>,
    inodes: HashMap<u64, Vec<u8>>,
    next_ino: u64,
    locks: BTreeSet<PathBuf>,
    trace: Option<Vec<Op>>,
    reserve: Option<Reserve>,
}

impl State {
    fn log(&mut self, op: impl FnOnce() -> Op) {
        if let Some(t) = &mut self.trace {
            t.push(op());
        }
    }

    fn parent_exists(&self, path: &Path) -> bool {
        path.parent().is_some_and(|p| {
            p.parent().is_none() || p.as_os_str().is_empty() || self.dirs.contains(p)
        })
    }
}

/// The simulated file system. Clones share the same disk.
#[derive(Clone, Default)]
pub struct SimVfs {
    st: Arc<Mutex<State>>,
}

impl fmt::Debug for SimVfs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SimVfs")
    }
}

/// As the operating system reports it, so messages read the same on both file systems.
fn not_found() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOENT)
}

impl SimVfs {
    /// An empty file system that keeps no log; `reserve` is unsupported.
    pub fn new() -> SimVfs {
        SimVfs::default()
    }

    /// An empty file system that logs every operation for [`Replayer`].
    pub fn recording() -> SimVfs {
        let v = SimVfs::new();
        v.lock().trace = Some(Vec::new());
        v
    }

    /// Chooses what `reserve` does (default [`Reserve::Unsupported`]).
    pub fn with_reserve(self, r: Reserve) -> SimVfs {
        self.lock().reserve = Some(r);
        self
    }

    /// A file system holding `image` (not recording).
    pub fn from_image(image: &Image) -> SimVfs {
        let v = SimVfs::new();
        {
            let mut st = v.lock();
            st.dirs = image.dirs.clone();
            for (p, data) in &image.files {
                let ino = st.next_ino;
                st.next_ino += 1;
                st.inodes.insert(ino, data.clone());
                st.names.insert(p.clone(), ino);
            }
        }
        v
    }

    /// A file system holding `image` that logs every operation from now on; its files get
    /// inode numbers 0, 1, ... in path order, as [`Replayer::from_image`] expects.
    pub fn recording_from(image: &Image) -> SimVfs {
        let v = SimVfs::from_image(image);
        v.lock().trace = Some(Vec::new());
        v
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.st)
    }

    /// Puts a marker in the log, so a test can tell which of its steps a crash point falls in.
    pub fn mark(&self, m: u64) {
        self.lock().log(|| Op::Mark(m));
    }

    /// The log so far (empty when not recording).
    pub fn trace(&self) -> Vec<Op> {
        self.lock().trace.clone().unwrap_or_default()
    }

    /// The disk as it is now: what a crash of the process (not of the machine) leaves.
    pub fn image(&self) -> Image {
        let st = self.lock();
        Image {
            dirs: st.dirs.clone(),
            files: st
                .names
                .iter()
                .map(|(p, ino)| (p.clone(), st.inodes[ino].clone()))
                .collect(),
        }
    }

    /// Replaces a file's contents (for corruption tests). Not logged.
    pub fn overwrite(&self, path: &Path, data: Vec<u8>) -> io::Result<()> {
        let mut st = self.lock();
        let ino = *st.names.get(path).ok_or_else(not_found)?;
        st.inodes.insert(ino, data);
        Ok(())
    }
}

impl Vfs for SimVfs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.lock();
        for a in dir.ancestors() {
            if !a.as_os_str().is_empty() {
                if st.names.contains_key(a) {
                    return Err(io::Error::from(io::ErrorKind::AlreadyExists));
                }
                st.dirs.insert(a.to_path_buf());
            }
        }
        Ok(())
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.lock();
        if st.names.contains_key(dir) || st.dirs.contains(dir) {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        if !st.parent_exists(dir) {
            return Err(not_found());
        }
        st.dirs.insert(dir.to_path_buf());
        Ok(())
    }

    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.lock();
        if !st.dirs.contains(dir) {
            return Err(not_found());
        }
        let occupied = st
            .names
            .keys()
            .chain(st.dirs.iter())
            .any(|p| p.parent() == Some(dir));
        if occupied {
            return Err(io::Error::from_raw_os_error(libc::ENOTEMPTY));
        }
        st.dirs.remove(dir);
        Ok(())
    }

    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        let st = self.lock();
        if st.dirs.contains(path) || path.parent().is_none() {
            Ok(true)
        } else if st.names.contains_key(path) {
            Ok(false)
        } else {
            Err(not_found())
        }
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let st = self.lock();
        if !st.dirs.contains(dir) {
            return Err(not_found());
        }
        Ok(st
            .names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VFile>> {
        let mut st = self.lock();
        let ino = match (mode, st.names.get(path)) {
            (OpenMode::CreateNew, Some(_)) => {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists))
            }
            (OpenMode::CreateNew, None) => {
                if !st.parent_exists(path) {
                    return Err(not_found());
                }
                let ino = st.next_ino;
                st.next_ino += 1;
                st.inodes.insert(ino, Vec::new());
                st.names.insert(path.to_path_buf(), ino);
                st.log(|| Op::Create {
                    path: path.to_path_buf(),
                    ino,
                });
                ino
            }
            (_, Some(&ino)) => ino,
            (_, None) => return Err(not_found()),
        };
        let writable = matches!(mode, OpenMode::Write | OpenMode::CreateNew);
        Ok(Box::new(SimFile {
            vfs: self.clone(),
            ino,
            writable,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.lock();
        let ino = st.names.remove(from).ok_or_else(not_found)?;
        st.names.insert(to.to_path_buf(), ino);
        st.log(|| Op::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
        });
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.names.remove(path).ok_or_else(not_found)?;
        st.log(|| Op::Remove {
            path: path.to_path_buf(),
        });
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.lock();
        if !st.dirs.contains(dir) && dir.parent().is_some() {
            return Err(not_found());
        }
        st.log(|| Op::SyncDir {
            dir: dir.to_path_buf(),
        });
        Ok(())
    }

    fn lock_exclusive(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        let mut st = self.lock();
        if !st.parent_exists(path) {
            return Err(not_found());
        }
        if !st.locks.insert(path.to_path_buf()) {
            return Err(io::Error::from(io::ErrorKind::WouldBlock));
        }
        Ok(Box::new(SimLock {
            vfs: self.clone(),
            path: path.to_path_buf(),
        }))
    }
}

struct SimLock {
    vfs: SimVfs,
    path: PathBuf,
}

impl FileLock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        self.vfs.lock().locks.remove(&self.path);
    }
}

struct SimFile {
    vfs: SimVfs,
    ino: u64,
    writable: bool,
}

impl SimFile {
    fn check_writable(&self) -> io::Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(libc::EBADF))
        }
    }
}

impl VFile for SimFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.vfs.lock().inodes[&self.ino].len() as u64)
    }

    fn read_exact_at(&self, offset: u64, bufs: &mut [&mut [u8]]) -> io::Result<()> {
        let st = self.vfs.lock();
        let data = &st.inodes[&self.ino];
        let mut pos =
            usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        for buf in bufs.iter_mut() {
            let end = pos.checked_add(buf.len()).filter(|&e| e <= data.len());
            let Some(end) = end else {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            };
            buf.copy_from_slice(&data[pos..end]);
            pos = end;
        }
        Ok(())
    }

    fn write_all_at(&self, offset: u64, bufs: &[&[u8]]) -> io::Result<()> {
        self.check_writable()?;
        let mut st = self.vfs.lock();
        let joined: Vec<u8> = bufs.concat();
        let data = st.inodes.get_mut(&self.ino).expect("open inode");
        let start = offset as usize;
        let end = start + joined.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(&joined);
        let ino = self.ino;
        st.log(|| Op::Write {
            ino,
            offset,
            data: joined,
        });
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut st = self.vfs.lock();
        let ino = self.ino;
        st.log(|| Op::SyncData { ino });
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check_writable()?;
        let mut st = self.vfs.lock();
        st.inodes
            .get_mut(&self.ino)
            .expect("open inode")
            .resize(len as usize, 0);
        let ino = self.ino;
        st.log(|| Op::SetLen { ino, len });
        Ok(())
    }

    fn reserve(&self, len: u64, _pages: Pages) -> io::Result<bool> {
        self.check_writable()?;
        let mode = self.vfs.lock().reserve.unwrap_or(Reserve::Unsupported);
        match mode {
            Reserve::Unsupported => Ok(false),
            Reserve::ZeroExtend => {
                if self.len()? < len {
                    self.set_len(len)?;
                }
                Ok(true)
            }
        }
    }
}

/// A directory operation not yet made durable.
#[derive(Clone, Debug)]
enum DirOp {
    Link { path: PathBuf, ino: u64 },
    Rename { from: PathBuf, to: PathBuf },
    Unlink { path: PathBuf },
}

impl DirOp {
    fn dir(&self) -> Option<&Path> {
        match self {
            DirOp::Link { path, .. } | DirOp::Unlink { path } => path.parent(),
            DirOp::Rename { from, .. } => from.parent(),
        }
    }

    fn apply(&self, names: &mut BTreeMap<PathBuf, u64>) {
        match self {
            DirOp::Link { path, ino } => {
                names.insert(path.clone(), *ino);
            }
            DirOp::Rename { from, to } => {
                if let Some(ino) = names.remove(from) {
                    names.insert(to.clone(), ino);
                }
            }
            DirOp::Unlink { path } => {
                names.remove(path);
            }
        }
    }
}

/// How the last persisted operation of a file is torn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tear {
    /// Only the first `n` bytes of the write reached the disk (the file is shorter).
    Cut(usize),
    /// The file has the write's full length, but after its first `n` bytes it reads garbage.
    Garbage(usize),
    /// The file has the write's full length, but after its first `n` bytes it reads zeros.
    Zeros(usize),
}

/// Which crash images [`Replayer::crash_images`] produces.
#[derive(Clone, Copy, Debug)]
pub struct CrashConfig {
    /// Every byte position of a torn write up to this length is tried; longer writes are
    /// cut at this many positions spread over the write (always including both ends).
    pub cuts_per_write: usize,
    /// Also produce writes whose unwritten part reads back as garbage, and as zeros.
    pub garbage_and_zeros: bool,
    /// Every prefix of the unsynced directory operations is tried when there are at most
    /// this many; otherwise this many prefixes spread over them (always both ends).
    pub dir_prefixes: usize,
}

impl Default for CrashConfig {
    fn default() -> Self {
        CrashConfig {
            cuts_per_write: 96,
            garbage_and_zeros: true,
            dir_prefixes: 16,
        }
    }
}

#[derive(Default)]
struct InodeLog {
    durable: Vec<u8>,
    /// Indexes into the trace of the unsynced `Write`/`SetLen` operations, in order.
    pending: Vec<usize>,
}

/// Walks a log and produces the disks a power cut could leave at each point of it.
pub struct Replayer<'t> {
    trace: &'t [Op],
    pos: usize,
    dirs: BTreeSet<PathBuf>,
    durable_names: BTreeMap<PathBuf, u64>,
    pending_dir: Vec<DirOp>,
    inodes: HashMap<u64, InodeLog>,
    /// The file the last `Write`/`SetLen` changed.
    last_written: Option<u64>,
}

impl<'t> Replayer<'t> {
    /// A replayer before the first operation of `trace`; `dirs` are the directories that exist
    /// (directory creation is taken to be durable).
    pub fn new(trace: &'t [Op], dirs: BTreeSet<PathBuf>) -> Replayer<'t> {
        Replayer {
            trace,
            pos: 0,
            dirs,
            durable_names: BTreeMap::new(),
            pending_dir: Vec::new(),
            inodes: HashMap::new(),
            last_written: None,
        }
    }

    /// A replayer starting from a disk `base` (all of it durable), for the log of a
    /// [`SimVfs::recording_from`] of that disk.
    pub fn from_image(trace: &'t [Op], base: &Image) -> Replayer<'t> {
        let mut r = Replayer::new(trace, base.dirs.clone());
        for (i, (p, data)) in base.files.iter().enumerate() {
            let ino = i as u64;
            r.durable_names.insert(p.clone(), ino);
            r.inodes.insert(
                ino,
                InodeLog {
                    durable: data.clone(),
                    pending: Vec::new(),
                },
            );
        }
        r
    }

    /// Number of operations applied so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Applies the next operation and returns it; `None` at the end of the log.
    pub fn step(&mut self) -> Option<&'t Op> {
        let trace = self.trace;
        let idx = self.pos;
        let op = trace.get(idx)?;
        self.pos += 1;
        match op {
            Op::Create { path, ino } => {
                self.inodes.insert(*ino, InodeLog::default());
                self.pending_dir.push(DirOp::Link {
                    path: path.clone(),
                    ino: *ino,
                });
            }
            Op::Write { ino, .. } | Op::SetLen { ino, .. } => {
                self.last_written = Some(*ino);
                self.inodes.entry(*ino).or_default().pending.push(idx);
            }
            Op::SyncData { ino } => {
                let log = self.inodes.entry(*ino).or_default();
                let pending = std::mem::take(&mut log.pending);
                for i in pending {
                    apply_file_op(&mut log.durable, &trace[i], None);
                }
            }
            Op::Rename { from, to } => self.pending_dir.push(DirOp::Rename {
                from: from.clone(),
                to: to.clone(),
            }),
            Op::Remove { path } => self.pending_dir.push(DirOp::Unlink { path: path.clone() }),
            Op::SyncDir { dir } => {
                let (now, later): (Vec<DirOp>, Vec<DirOp>) = self
                    .pending_dir
                    .drain(..)
                    .partition(|d| d.dir() == Some(dir.as_path()));
                for d in &now {
                    d.apply(&mut self.durable_names);
                }
                self.pending_dir = later;
            }
            Op::Mark(_) => {}
        }
        Some(op)
    }

    /// True when a power cut now could leave anything other than the current disk.
    pub fn has_unsynced(&self) -> bool {
        !self.pending_dir.is_empty() || self.inodes.values().any(|l| !l.pending.is_empty())
    }

    fn names_after(&self, dir_prefix: usize) -> BTreeMap<PathBuf, u64> {
        let mut names = self.durable_names.clone();
        for d in &self.pending_dir[..dir_prefix] {
            d.apply(&mut names);
        }
        names
    }

    /// Contents of `ino` with its first `keep` unsynced operations, and then the next one torn.
    fn contents(&self, ino: u64, keep: usize, tear: Option<Tear>) -> Vec<u8> {
        let log = &self.inodes[&ino];
        let mut data = log.durable.clone();
        for &i in &log.pending[..keep] {
            apply_file_op(&mut data, &self.trace[i], None);
        }
        if let Some(t) = tear {
            apply_file_op(
                &mut data,
                &self.trace[log.pending[keep]],
                Some((t, ino, keep)),
            );
        }
        data
    }

    fn image(&self, names: &BTreeMap<PathBuf, u64>, mut pick: impl FnMut(u64) -> Vec<u8>) -> Image {
        Image {
            dirs: self.dirs.clone(),
            files: names
                .iter()
                .map(|(p, &ino)| (p.clone(), pick(ino)))
                .collect(),
        }
    }

    /// The disks a power cut right now could leave, each with a description. Duplicates are
    /// possible (the caller dedupes by digest). With nothing unsynced, just the current disk.
    pub fn crash_images(&self, cfg: &CrashConfig) -> Vec<(String, Image)> {
        let mut out = Vec::new();
        let d = self.pending_dir.len();
        let all = |l: &InodeLog| l.pending.len();
        for p in spread(d, cfg.dir_prefixes) {
            let names = self.names_after(p);
            out.push((
                format!("dir {p}/{d}, files synced only"),
                self.image(&names, |ino| self.contents(ino, 0, None)),
            ));
            out.push((
                format!("dir {p}/{d}, files whole"),
                self.image(&names, |ino| {
                    self.contents(ino, all(&self.inodes[&ino]), None)
                }),
            ));
        }
        let names = self.names_after(d);
        let mut torn: Vec<u64> = names
            .values()
            .copied()
            .filter(|ino| !self.inodes[ino].pending.is_empty())
            .collect();
        torn.sort_unstable();
        torn.dedup();
        for &x in &torn {
            let n_pending = self.inodes[&x].pending.len();
            let whole_others = |ino: u64| {
                if ino == x {
                    None
                } else {
                    Some(self.contents(ino, all(&self.inodes[&ino]), None))
                }
            };
            let synced_others = |ino: u64| {
                if ino == x {
                    None
                } else {
                    Some(self.contents(ino, 0, None))
                }
            };
            for j in spread(n_pending, cfg.dir_prefixes) {
                if j > 0 && j < n_pending {
                    out.push((
                        format!("inode {x}: {j}/{n_pending} unsynced ops, others whole"),
                        self.image(&names, |ino| {
                            whole_others(ino).unwrap_or_else(|| self.contents(x, j, None))
                        }),
                    ));
                }
                if j > 0 {
                    out.push((
                        format!("inode {x}: {j}/{n_pending} unsynced ops, others synced only"),
                        self.image(&names, |ino| {
                            synced_others(ino).unwrap_or_else(|| self.contents(x, j, None))
                        }),
                    ));
                }
            }
            // Tearing an older write gives the disks a crash right after it gave, except for
            // what other files and the directory did since: only the newest write of the file
            // written last is torn.
            let j = n_pending - 1;
            let newest = &self.trace[self.inodes[&x].pending[j]];
            let Op::Write { data, .. } = newest else {
                continue;
            };
            if self.last_written != Some(x) {
                continue;
            }
            for tear in tears(data.len(), cfg) {
                out.push((
                    format!(
                        "inode {x}: {j}/{n_pending} unsynced ops, then {tear:?} of {}",
                        data.len()
                    ),
                    self.image(&names, |ino| {
                        whole_others(ino).unwrap_or_else(|| self.contents(x, j, Some(tear)))
                    }),
                ));
            }
        }
        out
    }
}

/// `0..=n` when it has at most `max + 1` numbers, else `max + 1` of them spread evenly.
fn spread(n: usize, max: usize) -> Vec<usize> {
    if n <= max {
        return (0..=n).collect();
    }
    let mut v: Vec<usize> = (0..=max).map(|i| i * n / max.max(1)).collect();
    v.dedup();
    v
}

/// The tears tried for a write of `len` bytes.
fn tears(len: usize, cfg: &CrashConfig) -> Vec<Tear> {
    let cuts: Vec<usize> = if len <= cfg.cuts_per_write {
        (1..len).collect()
    } else {
        let n = cfg.cuts_per_write.max(2);
        let mut v: Vec<usize> = (0..n).map(|i| 1 + i * (len - 2) / (n - 1)).collect();
        v.dedup();
        v
    };
    let mut out: Vec<Tear> = cuts.iter().map(|&n| Tear::Cut(n)).collect();
    if cfg.garbage_and_zeros && len > 0 {
        for n in [0, len / 2, len - 1] {
            out.push(Tear::Garbage(n));
            out.push(Tear::Zeros(n));
        }
        out.dedup();
    }
    out
}

fn apply_file_op(data: &mut Vec<u8>, op: &Op, tear: Option<(Tear, u64, usize)>) {
    match op {
        Op::Write {
            offset,
            data: bytes,
            ..
        } => {
            let start = *offset as usize;
            let (keep, fill_to, fill): (usize, usize, Option<u8>) = match tear {
                None => (bytes.len(), bytes.len(), None),
                Some((Tear::Cut(n), ..)) => (n, n, None),
                Some((Tear::Garbage(n), ..)) => (n, bytes.len(), Some(1)),
                Some((Tear::Zeros(n), ..)) => (n, bytes.len(), Some(0)),
            };
            let end = start + fill_to;
            if data.len() < end {
                data.resize(end, 0);
            }
            data[start..start + keep].copy_from_slice(&bytes[..keep]);
            if let (Some(kind), Some((_, ino, j))) = (fill, tear) {
                let mut x = (ino << 32) ^ (j as u64) ^ 0x9e37_79b9_7f4a_7c15;
                for b in &mut data[start + keep..end] {
                    *b = if kind == 0 {
                        0
                    } else {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    };
                }
            }
        }
        Op::SetLen { len, .. } => data.resize(*len as usize, 0),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_creation_and_data_are_dropped() {
        let v = SimVfs::recording();
        let dir = Path::new("/d");
        v.create_dir_all(dir).unwrap();
        let f = v.open(&dir.join("a"), OpenMode::CreateNew).unwrap();
        f.write_all_at(0, &[b"hello"]).unwrap();
        let trace = v.trace();
        let mut r = Replayer::new(&trace, v.image().dirs);
        while r.step().is_some() {}
        let images = r.crash_images(&CrashConfig::default());
        assert!(
            images.iter().any(|(_, i)| i.files.is_empty()),
            "creation undone"
        );
        assert!(images
            .iter()
            .any(|(_, i)| i.files.get(&dir.join("a")).is_some_and(|d| d.is_empty())));
        assert!(images
            .iter()
            .any(|(_, i)| i.files.get(&dir.join("a")).is_some_and(|d| d == b"he")));
        assert!(images
            .iter()
            .any(|(_, i)| i.files.get(&dir.join("a")).is_some_and(|d| d == b"hello")));
    }

    #[test]
    fn synced_data_and_directory_survive() {
        let v = SimVfs::recording();
        let dir = Path::new("/d");
        v.create_dir_all(dir).unwrap();
        let f = v.open(&dir.join("a"), OpenMode::CreateNew).unwrap();
        f.write_all_at(0, &[b"hello"]).unwrap();
        f.sync_data().unwrap();
        v.sync_dir(dir).unwrap();
        v.rename(&dir.join("a"), &dir.join("b")).unwrap();
        f.write_all_at(5, &[b" world"]).unwrap();
        let trace = v.trace();
        let mut r = Replayer::new(&trace, v.image().dirs);
        while r.step().is_some() {}
        for (desc, img) in r.crash_images(&CrashConfig::default()) {
            let (name, data) = img.files.iter().next().expect(&desc);
            assert!(name.ends_with("a") || name.ends_with("b"), "{desc}");
            assert!(data.starts_with(b"hello"), "{desc}: {data:?}");
        }
    }
}
