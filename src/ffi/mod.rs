//! The C ABI, declared in `include/bitask.h` (generated from these files with cbindgen by
//! `tests/header.rs`; the doc comments here are the header's documentation).
//!
//! One file per concept: `status` (status codes and the error mapping), `messages` (status
//! descriptions, the last error's message, the version), `panic` (the boundary
//! every entry point runs inside), `options`, `db` (the handle and its operations), `batch`
//! (atomic write batches), `conditional` (put-if-absent, compare-and-set), `multi_get`,
//! `iter`. `upgrade` converts a store of bitask 0.1.1 (`bitask_upgrade`); `tools` backs a
//! store up, verifies and repairs it (`bitask_checkpoint`, `bitask_verify`, `bitask_repair`).
//! This file holds the toolkit they share: turning C pointers and lengths into Rust
//! references and slices after checking them, and writing out-parameters.
//!
//! Rules every entry point follows: check every pointer and length before touching memory;
//! set out-parameters to NULL/0 first, so they hold that on every failure; run inside the
//! panic boundary; record a message for every status other than `BITASK_OK`.

#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
// The types carry their C names, which the header uses.
#![allow(non_camel_case_types)]
// The entry points are called from C, which has no `unsafe`: each one's pointer contract is
// in its doc comment (and so in the header), and each checks NULL and lengths before use.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

// In the header's order (cbindgen follows the declarations; the comments keep rustfmt from
// sorting them).
pub mod status;
// What C reads about a status: descriptions, the last error's message, the version.
pub mod messages;
// Options before the handle that uses them.
pub mod options;
// The handle.
pub mod db;
// Atomic write batches.
pub mod batch;
// Conditional writes.
pub mod conditional;
// Keys with a time to live.
pub mod ttl;
// Reading many keys at once.
pub mod multi_get;
// Iteration.
pub mod iter;
// What an automatic merge would take.
pub mod merge;
// Upgrading a store of bitask 0.1.1.
pub mod upgrade;
// Hot backup, verify and repair.
pub mod tools;
// The panic boundary: nothing for C.
pub(crate) mod panic;

use std::ffi::{c_char, CStr};

use crate::options::{MAX_KEY_LEN, MAX_VALUE_LEN};
use status::bitask_status::{self, *};
use status::fail;

/// Longest key accepted, in bytes (64 KiB). Keys are at least 1 byte long.
pub const BITASK_MAX_KEY_LEN: usize = 65536;
/// Longest value accepted, in bytes (256 MiB). An empty value is a value.
pub const BITASK_MAX_VALUE_LEN: usize = 268435456;

const _: () = assert!(BITASK_MAX_KEY_LEN == MAX_KEY_LEN);
const _: () = assert!(BITASK_MAX_VALUE_LEN == MAX_VALUE_LEN);

// A handle is used from many threads at once; an iterator may move between threads.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    fn sent<T: Send>() {}
    shared::<db::bitask>();
    sent::<iter::bitask_iter>();
};

pub(crate) type Status<T> = Result<T, bitask_status>;

/// Borrows the object behind a handle, or fails for NULL.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` made by this library and not yet freed, not mutated
/// by anyone else for `'a`.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, what: &str) -> Status<&'a T> {
    // SAFETY: the caller's contract above.
    match unsafe { ptr.as_ref() } {
        Some(r) => Ok(r),
        None => Err(fail(BITASK_ERR_INVALID_ARGUMENT, format!("{what} is NULL"))),
    }
}

/// Mutably borrows the object behind a handle, or fails for NULL.
///
/// # Safety
/// As for [`handle`], and no other reference to the object exists for `'a`.
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T, what: &str) -> Status<&'a mut T> {
    // SAFETY: the caller's contract above.
    match unsafe { ptr.as_mut() } {
        Some(r) => Ok(r),
        None => Err(fail(BITASK_ERR_INVALID_ARGUMENT, format!("{what} is NULL"))),
    }
}

/// `len` bytes at `ptr`, after the checks every byte-string argument gets: NULL is accepted
/// only with length 0, and a length over `max` is `BITASK_ERR_TOO_LARGE` (checked before any
/// byte is read, so a huge bogus length is harmless).
///
/// # Safety
/// When `ptr` is not NULL and `len <= max`, it points to `len` readable bytes that stay
/// unchanged for `'a`.
unsafe fn byte_arg<'a>(ptr: *const u8, len: usize, max: usize, what: &str) -> Status<&'a [u8]> {
    if ptr.is_null() && len != 0 {
        return Err(fail(
            BITASK_ERR_INVALID_ARGUMENT,
            format!("{what} is NULL but its length is {len}"),
        ));
    }
    if len > max {
        return Err(fail(
            BITASK_ERR_TOO_LARGE,
            format!("{what} of {len} bytes exceeds the limit of {max} bytes"),
        ));
    }
    if len == 0 {
        return Ok(&[]);
    }
    // SAFETY: ptr is not NULL, len <= max <= isize::MAX, and the caller promises the bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A key argument: 1 to `BITASK_MAX_KEY_LEN` bytes.
///
/// # Safety
/// As for [`byte_arg`].
pub(crate) unsafe fn key_arg<'a>(ptr: *const u8, len: usize) -> Status<&'a [u8]> {
    if len == 0 {
        return Err(fail(
            BITASK_ERR_INVALID_ARGUMENT,
            "keys must be at least 1 byte long",
        ));
    }
    // SAFETY: forwarded contract.
    unsafe { byte_arg(ptr, len, MAX_KEY_LEN, "key") }
}

/// A value argument: 0 to `BITASK_MAX_VALUE_LEN` bytes.
///
/// # Safety
/// As for [`byte_arg`].
pub(crate) unsafe fn value_arg<'a>(ptr: *const u8, len: usize) -> Status<&'a [u8]> {
    // SAFETY: forwarded contract.
    unsafe { byte_arg(ptr, len, MAX_VALUE_LEN, "value") }
}

/// A key prefix: 0 to `BITASK_MAX_KEY_LEN` bytes.
///
/// # Safety
/// As for [`byte_arg`].
pub(crate) unsafe fn prefix_arg<'a>(ptr: *const u8, len: usize) -> Status<&'a [u8]> {
    // SAFETY: forwarded contract.
    unsafe { byte_arg(ptr, len, MAX_KEY_LEN, "prefix") }
}

/// A bound of a scan: 0 to `BITASK_MAX_KEY_LEN` bytes (0: no bound), named `what`.
///
/// # Safety
/// As for [`byte_arg`].
pub(crate) unsafe fn bound_arg<'a>(ptr: *const u8, len: usize, what: &str) -> Status<&'a [u8]> {
    // SAFETY: forwarded contract.
    unsafe { byte_arg(ptr, len, MAX_KEY_LEN, what) }
}

/// A NUL-terminated path argument, not NULL and not empty.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays unchanged for `'a`.
pub(crate) unsafe fn path_arg<'a>(ptr: *const c_char) -> Status<&'a std::path::Path> {
    use std::os::unix::ffi::OsStrExt;
    if ptr.is_null() {
        return Err(fail(BITASK_ERR_INVALID_ARGUMENT, "path is NULL"));
    }
    // SAFETY: not NULL, and the caller promises a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    if bytes.is_empty() {
        return Err(fail(BITASK_ERR_INVALID_ARGUMENT, "path is empty"));
    }
    Ok(std::path::Path::new(std::ffi::OsStr::from_bytes(bytes)))
}

/// Stores `value` through `out` unless `out` is NULL.
///
/// # Safety
/// `out` is NULL or valid for a write of a `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: not NULL, and the caller promises it is writable; `write` drops nothing.
        unsafe { out.write(value) }
    }
}

/// Fails with `BITASK_ERR_INVALID_ARGUMENT` when a required out-parameter is NULL.
pub(crate) fn require_out<T>(out: *mut T, what: &str) -> Status<()> {
    if out.is_null() {
        return Err(fail(BITASK_ERR_INVALID_ARGUMENT, format!("{what} is NULL")));
    }
    Ok(())
}
