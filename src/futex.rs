//! The one primitive of the operating system used outside the file layer: a futex, so that
//! the writers released by a group commit's sync wake with one system call and none of them
//! queues on a mutex first (see `durability`). Like `vfs/posix.rs` and `ffi/`, a module of
//! its own because it holds `unsafe` code.

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::Instant;

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
