//! What C reads about statuses: their descriptions, the calling thread's detailed message of
//! its last failure, and the library's version. Apart from `status` so that the panic
//! boundary (which records messages through `status`) and these entry points (which run
//! inside it) do not import each other.

use std::ffi::c_char;
use std::os::raw::c_int;

use super::status::LAST_ERROR;

/// A NUL-terminated description of each status; used as a `*const c_char`.
fn describe(status: c_int) -> &'static [u8] {
    match status {
        0 => b"success\0",
        1 => b"not found\0",
        2 => b"buffer too small\0",
        3 => b"invalid argument\0",
        4 => b"the store is locked by another writer\0",
        5 => b"the handle is read-only\0",
        6 => b"input/output error\0",
        7 => b"corrupted data\0",
        8 => b"key or value too large\0",
        9 => b"internal error\0",
        10 => b"incompatible file\0",
        11 => b"no such file or directory\0",
        12 => b"permission denied\0",
        13 => b"not a directory\0",
        14 => b"no space left on device\0",
        15 => b"the store already exists\0",
        16 => b"the key already has a value\0",
        17 => b"the value is not the one expected\0",
        _ => b"unknown status code\0",
    }
}

/// A short, static, English description of a status code.
///
/// Accepts any int: an unknown code gives "unknown status code". The returned string is
/// NUL-terminated, owned by the library and valid for the life of the process; do not free
/// it. Never fails. Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn bitask_strerror(status: c_int) -> *const c_char {
    describe(status).as_ptr().cast()
}

/// Copies the calling thread's detailed message of its last failed call into buf.
///
/// Every call that returns a status other than BITASK_OK replaces the message of the
/// calling thread (like errno, it is per thread: read it on the thread that made the
/// failed call, before that thread makes another failing call); successful calls leave it
/// as it was. The message names what failed: the file, the offset, the operating system's
/// error. Before any failure it is empty.
///
/// buf: caller-owned, at least cap bytes; it receives the message truncated to cap - 1
/// bytes and a terminating NUL. With buf NULL or cap 0 nothing is written, which lets the
/// caller ask for the length first.
///
/// Returns the message's full length in bytes, without the NUL: the message was truncated
/// when the result is >= cap. Never fails. Thread safety: any thread; each sees its own
/// message.
#[no_mangle]
pub extern "C" fn bitask_last_error_message(buf: *mut c_char, cap: usize) -> usize {
    crate::ffi::panic::boundary(|| {
        LAST_ERROR.with(|m| {
            let m = m.borrow();
            let bytes = m.as_bytes();
            if !buf.is_null() && cap > 0 {
                let n = bytes.len().min(cap - 1);
                // SAFETY: the caller promises buf points to at least cap writable bytes, and
                // n + 1 <= cap; a String never overlaps caller memory.
                unsafe {
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
                    *buf.add(n) = 0;
                }
            }
            bytes.len()
        })
    })
}

/// The library's version, "MAJOR.MINOR.PATCH", as a static NUL-terminated string.
///
/// Compare it with BITASK_VERSION_STRING to detect a program running against a library
/// other than the one whose header it was compiled with. Owned by the library; do not free.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn bitask_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
