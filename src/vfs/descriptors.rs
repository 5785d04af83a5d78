//! How many sealed files a process keeps mapped, and the few descriptors the rest borrow.
//!
//! A sealed file is read through a read-only mapping, which needs no descriptor once made:
//! the store holds no descriptor per sealed file, so `ulimit -n` does not bound its size.
//! Mappings are bounded too (`vm.max_map_count`, 65,530 by default, counts every mapping of
//! the process), so at most half of that many sealed files are mapped at once, process-wide.
//! Files past that budget are read with `pread` through a small cache of open descriptors
//! (as LevelDB's table cache), opened again by path when evicted.

use crate::util::sync::lock;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Descriptors kept open for sealed files that are not mapped.
const CACHED_DESCRIPTORS: usize = 64;
/// `vm.max_map_count` when it cannot be read (the kernel's default).
const DEFAULT_MAX_MAP_COUNT: usize = 65_530;

static MAPPED: AtomicUsize = AtomicUsize::new(0);
static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

/// Sealed files the process may keep mapped at once: half of `vm.max_map_count`, leaving the
/// rest to everything else (libraries, thread stacks, the heap, active files).
fn mapping_budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        let max = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(DEFAULT_MAX_MAP_COUNT);
        max / 2
    })
}

/// A place in the mapping budget, given back when dropped.
pub(super) struct MappingSlot(());

impl MappingSlot {
    /// A place, or `None` when the budget is spent.
    pub fn take() -> Option<MappingSlot> {
        let budget = mapping_budget();
        let mut n = MAPPED.load(Ordering::Relaxed);
        loop {
            if n >= budget {
                return None;
            }
            match MAPPED.compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(MappingSlot(())),
                Err(now) => n = now,
            }
        }
    }
}

impl Drop for MappingSlot {
    fn drop(&mut self) {
        MAPPED.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A key for a file in the descriptor cache, unique for the life of the process.
pub(super) fn new_key() -> u64 {
    NEXT_KEY.fetch_add(1, Ordering::Relaxed)
}

/// The most recently used descriptors, least recent first.
static CACHE: Mutex<Vec<(u64, Arc<File>)>> = Mutex::new(Vec::new());

/// An open descriptor of the sealed file `key` at `path`, from the cache or opened now
/// (with `open`, which checks the file type). The read happens outside the cache's lock.
pub(super) fn borrow(
    key: u64,
    path: &Path,
    open: impl FnOnce(&Path) -> io::Result<File>,
) -> io::Result<Arc<File>> {
    {
        let mut cache = lock(&CACHE);
        if let Some(i) = cache.iter().position(|(k, _)| *k == key) {
            let entry = cache.remove(i);
            let file = entry.1.clone();
            cache.push(entry);
            return Ok(file);
        }
    }
    let file = Arc::new(open(path)?);
    let mut cache = lock(&CACHE);
    if cache.len() >= CACHED_DESCRIPTORS {
        cache.remove(0);
    }
    cache.push((key, file.clone()));
    Ok(file)
}

/// Drops the cached descriptor of `key` (its file is closed by its last reader).
pub(super) fn forget(key: u64) {
    let mut cache = lock(&CACHE);
    cache.retain(|(k, _)| *k != key);
}

/// Opens a file for reading, without waiting on a FIFO (see `posix::regular_only`).
pub(super) fn open_for_reading(path: &Path, flags: libc::c_int) -> io::Result<File> {
    OpenOptions::new().read(true).custom_flags(flags).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_the_most_recent_descriptors_and_reopens_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let mut opens = 0;
        let keys: Vec<u64> = (0..CACHED_DESCRIPTORS + 1).map(|_| new_key()).collect();
        for &k in &keys {
            borrow(k, &path, |p| {
                opens += 1;
                File::open(p)
            })
            .unwrap();
        }
        assert_eq!(opens, keys.len());
        // The first key was evicted by the last; the second is still there.
        borrow(keys[1], &path, |_| panic!("reopened a cached descriptor")).unwrap();
        borrow(keys[0], &path, |p| {
            opens += 1;
            File::open(p)
        })
        .unwrap();
        assert_eq!(opens, keys.len() + 1);
        for k in keys {
            forget(k);
        }
    }

    #[test]
    fn the_mapping_budget_is_given_back() {
        let slot = MappingSlot::take().expect("budget");
        assert!(MAPPED.load(Ordering::Acquire) >= 1);
        drop(slot);
        assert!(mapping_budget() >= 1000);
    }
}
