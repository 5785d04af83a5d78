//! `bitask_iter`: ordered iteration over a snapshot of the keys.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::db::bitask;
use super::panic::{boundary, status_boundary};
use super::status::bitask_status::{self, *};
use super::status::{fail, from_error};
use super::{handle, handle_mut, prefix_arg, require_out, write_out};
use crate::iter::Iter;

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
    status_boundary(|| {
        // SAFETY: it_out is NULL or writable, as the caller promises.
        unsafe { write_out(it_out, std::ptr::null_mut()) };
        // SAFETY: db is NULL or a live handle from bitask_open, used through shared refs.
        let db = unsafe { handle(db.cast_const(), "db") }?;
        require_out(it_out, "it_out")?;
        // SAFETY: the caller promises prefix_len readable bytes at prefix.
        let prefix = unsafe { prefix_arg(prefix, prefix_len) }?;
        let it = Box::new(bitask_iter {
            iter: db.db.iter_prefix(prefix),
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
        if it.closed.load(Ordering::Acquire) {
            return Err(fail(
                BITASK_ERR_INVALID_ARGUMENT,
                "the iterator's handle was closed (free iterators before bitask_close)",
            ));
        }
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
