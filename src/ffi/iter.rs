//! `bitask_iter`: ordered iteration over a snapshot of the keys.

use std::ffi::c_int;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::db::bitask;
use super::panic::{boundary, status_boundary};
use super::status::bitask_status::{self, *};
use super::status::{fail, from_error};
use super::{bound_arg, handle, handle_mut, key_arg, prefix_arg, require_out, write_out, Status};
use crate::iter::{Iter, ScanOptions};

/// bitask_iter_new_range flag: descending key order.
pub const BITASK_ITER_REVERSE: c_int = 1;
/// bitask_iter_new_range flag: yield keys only, each with an empty value; values are never
/// read.
pub const BITASK_ITER_KEYS_ONLY: c_int = 2;
/// bitask_iter_new_range flag: the lower bound itself is excluded (keys > lower).
pub const BITASK_ITER_LOWER_EXCLUSIVE: c_int = 4;
/// bitask_iter_new_range flag: the upper bound itself is included (keys <= upper).
pub const BITASK_ITER_UPPER_INCLUSIVE: c_int = 8;

const ITER_FLAGS: c_int = BITASK_ITER_REVERSE
    | BITASK_ITER_KEYS_ONLY
    | BITASK_ITER_LOWER_EXCLUSIVE
    | BITASK_ITER_UPPER_INCLUSIVE;

/// An iterator over the entries of a store in key byte order. Made by bitask_iter_new,
/// released by bitask_iter_free.
///
/// An iterator belongs to one thread at a time (it may move between threads, but two
/// threads must not use it at once). Other threads may use its handle meanwhile.
pub struct bitask_iter {
    iter: Iter,
    key: Vec<u8>,
    value: Vec<u8>,
    closed: Arc<AtomicBool>,
}

/// Makes an iterator over the keys that start with prefix (every key when prefix_len is 0),
/// in byte order (memcmp order, shorter first on a tie).
///
/// The set of keys is a snapshot taken now; values are read as the iterator reaches them,
/// so a key removed meanwhile is skipped and a key overwritten meanwhile yields its newest
/// value. Writes, compactions and (on a read-only handle) bitask_refresh may run while
/// iterators exist.
///
/// prefix: prefix_len bytes (0 to BITASK_MAX_KEY_LEN), borrowed for the call; may be NULL
/// when prefix_len is 0. it_out: receives the iterator, owned by the caller and released
/// with bitask_iter_free before the handle is closed; set to NULL on failure.
///
/// Returns BITASK_OK; BITASK_ERR_INVALID_ARGUMENT (db or it_out NULL, prefix NULL with a
/// non-zero length); BITASK_ERR_TOO_LARGE (prefix_len over BITASK_MAX_KEY_LEN).
/// Thread safety: any thread, concurrently with other calls on the handle.
#[no_mangle]
pub extern "C" fn bitask_iter_new(
    db: *mut bitask,
    prefix: *const u8,
    prefix_len: usize,
    it_out: *mut *mut bitask_iter,
) -> bitask_status {
    bitask_iter_new_range(
        db,
        prefix,
        prefix_len,
        std::ptr::null(),
        0,
        std::ptr::null(),
        0,
        0,
        it_out,
    )
}

/// Makes an iterator over the keys that start with prefix and lie between lower and upper,
/// in byte order or, with BITASK_ITER_REVERSE, its reverse. A key is yielded when all three
/// conditions hold; each may be left out.
///
/// prefix: prefix_len bytes (0 to BITASK_MAX_KEY_LEN; 0: any key). lower: lower_len bytes
/// (0: no lower bound), included unless flags has BITASK_ITER_LOWER_EXCLUSIVE. upper:
/// upper_len bytes (0: no upper bound), excluded unless flags has
/// BITASK_ITER_UPPER_INCLUSIVE, so lower = "a", upper = "b" is every key of "a" up to but not
/// including "b". Each is borrowed for the call and may be NULL when its length is 0. flags:
/// 0 or any of BITASK_ITER_REVERSE, BITASK_ITER_KEYS_ONLY (bitask_iter_next then lends an
/// empty value, and no value is read), BITASK_ITER_LOWER_EXCLUSIVE,
/// BITASK_ITER_UPPER_INCLUSIVE, or-ed together. it_out: receives the iterator, owned by the
/// caller and released with bitask_iter_free before the handle is closed; set to NULL on
/// failure.
///
/// As for bitask_iter_new, the set of keys is a snapshot taken now and values are read as
/// the iterator reaches them; bitask_iter_seek moves the iterator within the range.
/// bitask_iter_new(db, p, n, it) is bitask_iter_new_range(db, p, n, NULL, 0, NULL, 0, 0, it).
///
/// Returns BITASK_OK; BITASK_ERR_INVALID_ARGUMENT (db or it_out NULL, a NULL pointer with a
/// non-zero length, an unknown flag); BITASK_ERR_TOO_LARGE (a length over
/// BITASK_MAX_KEY_LEN). A failure to read the keys is reported by the first
/// bitask_iter_next. Thread safety: any thread, concurrently with other calls on the handle.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // C has no keyword arguments; an options object would be more calls
pub extern "C" fn bitask_iter_new_range(
    db: *mut bitask,
    prefix: *const u8,
    prefix_len: usize,
    lower: *const u8,
    lower_len: usize,
    upper: *const u8,
    upper_len: usize,
    flags: c_int,
    it_out: *mut *mut bitask_iter,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: it_out is NULL or writable, as the caller promises.
        unsafe { write_out(it_out, std::ptr::null_mut()) };
        // SAFETY: db is NULL or a live handle from bitask_open, used through shared refs.
        let db = unsafe { handle(db.cast_const(), "db") }?;
        require_out(it_out, "it_out")?;
        // SAFETY: the caller promises each length's readable bytes at its pointer.
        let (prefix, lower, upper) = unsafe {
            (
                prefix_arg(prefix, prefix_len)?,
                bound_arg(lower, lower_len, "lower")?,
                bound_arg(upper, upper_len, "upper")?,
            )
        };
        if flags & !ITER_FLAGS != 0 {
            return Err(fail(
                BITASK_ERR_INVALID_ARGUMENT,
                format!("unknown iterator flags {flags:#x} (known: {ITER_FLAGS:#x})"),
            ));
        }
        let scan = scan_options(prefix, lower, upper, flags);
        let it = Box::new(bitask_iter {
            iter: db.db.range(scan),
            // Start with real allocations, so even an empty value has a non-dangling pointer.
            key: Vec::with_capacity(64),
            value: Vec::with_capacity(64),
            closed: db.closed.clone(),
        });
        // SAFETY: checked non-NULL above.
        unsafe { write_out(it_out, Box::into_raw(it)) };
        Ok(())
    })
}

fn scan_options(prefix: &[u8], lower: &[u8], upper: &[u8], flags: c_int) -> ScanOptions {
    ScanOptions::new()
        .prefix(prefix)
        .lower(bound(lower, flags & BITASK_ITER_LOWER_EXCLUSIVE == 0))
        .upper(bound(upper, flags & BITASK_ITER_UPPER_INCLUSIVE != 0))
        .reverse(flags & BITASK_ITER_REVERSE != 0)
        .keys_only(flags & BITASK_ITER_KEYS_ONLY != 0)
}

/// A bound from C: an empty one is no bound (no key is empty).
fn bound(key: &[u8], inclusive: bool) -> Bound<&[u8]> {
    match (key.is_empty(), inclusive) {
        (true, _) => Bound::Unbounded,
        (false, true) => Bound::Included(key),
        (false, false) => Bound::Excluded(key),
    }
}

/// Moves the iterator: the next bitask_iter_next returns the first key >= key (with
/// BITASK_ITER_REVERSE: the last key <= key) within the iterator's range, or
/// BITASK_NOT_FOUND when there is none. The iterator may move backwards as well as forwards;
/// keys already returned are returned again. The memory lent by the last bitask_iter_next
/// stays valid until the next bitask_iter_next.
///
/// key: key_len bytes (1 to BITASK_MAX_KEY_LEN), borrowed for the call.
///
/// Returns BITASK_OK; BITASK_ERR_INVALID_ARGUMENT (it NULL, key NULL, key_len 0, or the
/// iterator's handle was closed); BITASK_ERR_TOO_LARGE (key_len over BITASK_MAX_KEY_LEN).
/// On failure the iterator does not move. Thread safety: one thread at a time per iterator.
#[no_mangle]
pub extern "C" fn bitask_iter_seek(
    it: *mut bitask_iter,
    key: *const u8,
    key_len: usize,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: it is NULL or a live iterator from bitask_iter_new, used by this thread only.
        let it = unsafe { handle_mut(it, "it") }?;
        // SAFETY: the caller promises key_len readable bytes at key.
        let key = unsafe { key_arg(key, key_len) }?;
        check_open(it)?;
        it.iter.seek(key);
        Ok(())
    })
}

/// Fails once the iterator's handle is closed: its engine is shut down.
fn check_open(it: &bitask_iter) -> Status<()> {
    if it.closed.load(Ordering::Acquire) {
        return Err(fail(
            BITASK_ERR_INVALID_ARGUMENT,
            "the iterator's handle was closed (free iterators before bitask_close)",
        ));
    }
    Ok(())
}

/// Advances to the next entry.
///
/// On BITASK_OK, *key / *key_len and *value / *value_len describe the entry's key and
/// value: memory owned by the iterator, valid until the next call on this iterator or
/// bitask_iter_free, never NULL (an empty value has a non-NULL pointer and length 0). On any
/// other status all four are set to NULL/0. All four out-parameters are required.
///
/// Returns BITASK_OK; BITASK_NOT_FOUND (no more entries; later calls return it again);
/// BITASK_ERR_INVALID_ARGUMENT (a NULL argument, or the iterator's handle was closed);
/// BITASK_ERR_CORRUPTION; BITASK_ERR_IO. Thread safety: one thread at a time per iterator.
#[no_mangle]
pub extern "C" fn bitask_iter_next(
    it: *mut bitask_iter,
    key: *mut *const u8,
    key_len: *mut usize,
    value: *mut *const u8,
    value_len: *mut usize,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: out-pointers are NULL or writable, as the caller promises.
        unsafe {
            write_out(key, std::ptr::null());
            write_out(key_len, 0);
            write_out(value, std::ptr::null());
            write_out(value_len, 0);
        }
        // SAFETY: it is NULL or a live iterator from bitask_iter_new, used by this thread only.
        let it = unsafe { handle_mut(it, "it") }?;
        require_out(key, "key")?;
        require_out(key_len, "key_len")?;
        require_out(value, "value")?;
        require_out(value_len, "value_len")?;
        check_open(it)?;
        match it.iter.next_into(&mut it.key, &mut it.value) {
            Ok(true) => {
                // SAFETY: all four checked non-NULL above; the pointers are into buffers the
                // iterator keeps unchanged until its next call.
                unsafe {
                    write_out(key, it.key.as_ptr());
                    write_out(key_len, it.key.len());
                    write_out(value, it.value.as_ptr());
                    write_out(value_len, it.value.len());
                }
                Ok(())
            }
            Ok(false) => Err(fail(BITASK_NOT_FOUND, "no more entries")),
            Err(e) => Err(from_error(e)),
        }
    })
}

/// Releases an iterator, and the memory of the last entry it returned. NULL is a no-op.
/// Freeing the same iterator twice is undefined behaviour. Thread safety: the thread that
/// owns the iterator.
#[no_mangle]
pub extern "C" fn bitask_iter_free(it: *mut bitask_iter) {
    boundary(|| {
        if !it.is_null() {
            // SAFETY: the caller passes an iterator from bitask_iter_new, not yet freed; it
            // came from Box::into_raw.
            drop(unsafe { Box::from_raw(it) });
        }
    })
}
