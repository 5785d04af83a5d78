//! The primitives below the standard library that the engine uses outside the file layer,
//! kept here because they need `unsafe` (like `vfs/posix.rs` and `ffi/`):
//! - a futex, so that the writers released by a group commit's sync wake with one system
//!   call and none of them queues on a mutex first (see `durability`);
//! - a cache-line prefetch, so that the writer's key-directory slot loads while it appends
//!   the record (see `keydir`);
//! - the kernel's coarse real-time clock, for records' timestamps (see `filename`);
//! - handing freed heap memory back to the kernel after an open (see `recovery`);
//! - the hour of the day in local time, for the automatic merge's window (see `options`).

#![allow(unsafe_code)]

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `word` holds `seen`, for at most `timeout`; may return early (spuriously, on
/// a signal, or because `word` changed).
pub(crate) fn futex_wait(word: &AtomicU32, seen: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT reads the 32-bit word at a valid, aligned address that outlives the
    // call, and reads `ts_ptr` (null or a live timespec); it changes no memory of ours.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            seen,
            ts_ptr,
        );
    }
}

/// Wakes every thread sleeping in `futex_wait` on `word`.
pub(crate) fn futex_wake_all(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key; it touches no memory.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        );
    }
}

/// Asks the processor to start loading the cache line at `p` (no effect elsewhere than
/// x86-64). A hint only: it never faults, whatever `p` is.
#[inline]
pub(crate) fn prefetch_line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no architectural effect and does not fault.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Milliseconds since the Unix epoch from `CLOCK_REALTIME_COARSE`; `None` if unavailable.
pub(crate) fn coarse_realtime_millis() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into `ts`, a live timespec of ours.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    (rc == 0 && ts.tv_sec >= 0).then(|| ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000)
}

/// Returns the C heap's free memory to the kernel. An open from hint files builds tens of
/// megabytes of short-lived batches on two threads, freed after the key directory's tables
/// (allocated later) have pinned the heaps' tops: without this, they stay resident as free
/// heap. Does nothing where the C library is not glibc.
pub(crate) fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only gives free pages of the allocator's own heaps back to the
    // kernel; it takes the allocator's locks and touches no memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The flags `/proc/self/smaps` lists for the mapping holding `addr` (for tests of what a
/// mapping was advised).
/// The hour of the day (0..24) in the local time zone; 0 when the time cannot be had.
pub(crate) fn local_hour() -> u8 {
    // SAFETY: time(NULL) only reads the clock.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: tm is plain data, all zeros a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r reads `now` and writes only `tm`, both live locals; it is the
    // reentrant form, safe beside other threads.
    let ok = unsafe { !libc::localtime_r(&now, &mut tm).is_null() };
    if ok {
        tm.tm_hour.clamp(0, 23) as u8
    } else {
        0
    }
}

#[cfg(test)]
pub(crate) fn vm_flags(addr: usize) -> String {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let holds_addr = |line: &str| {
        let range = line.split_whitespace().next().unwrap_or("");
        let Some((start, end)) = range.split_once('-') else {
            return false;
        };
        let parse = |x| usize::from_str_radix(x, 16).ok();
        matches!((parse(start), parse(end)), (Some(s), Some(e)) if s <= addr && addr < e)
    };
    let mut lines = smaps.lines().skip_while(|l| !holds_addr(l));
    let flags = lines.find(|l| l.starts_with("VmFlags:"));
    flags.expect("the mapping is listed").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn prefetch_of_any_address_is_harmless() {
        let x = [1u8; 64];
        prefetch_line(x.as_ptr());
        prefetch_line(std::ptr::null());
        assert_eq!(x[0], 1);
    }

    #[test]
    fn wait_returns_at_once_when_the_word_moved_on() {
        let word = AtomicU32::new(5);
        futex_wait(&word, 4, None);
    }

    #[test]
    fn wait_ends_at_its_timeout() {
        let word = AtomicU32::new(1);
        let started = Instant::now();
        futex_wait(&word, 1, Some(Duration::from_millis(20)));
        assert!(started.elapsed() >= Duration::from_millis(10));
    }

    #[test]
    fn wake_all_releases_every_sleeper() {
        let word = Arc::new(AtomicU32::new(0));
        let sleepers: Vec<_> = (0..3)
            .map(|_| {
                let word = word.clone();
                std::thread::spawn(move || {
                    while word.load(Ordering::Acquire) == 0 {
                        futex_wait(&word, 0, None);
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        word.store(1, Ordering::Release);
        futex_wake_all(&word);
        for s in sleepers {
            s.join().unwrap();
        }
    }
}
