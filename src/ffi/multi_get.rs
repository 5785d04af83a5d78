//! `bitask_multi_get`: many keys read in one call, their values copied into one caller
//! buffer.

use super::db::bitask;
use super::panic::status_boundary;
use super::status::bitask_status::{self, *};
use super::status::{fail, from_error};
use super::{handle, key_arg};

/// A caller's array of `count` elements, or an error naming it when it is NULL.
///
/// # Safety
/// `ptr` is NULL or points to `count` elements the caller lets this call write, not
/// aliased during the call.
unsafe fn out_array<'a, T>(
    ptr: *mut T,
    count: usize,
    what: &str,
) -> Result<&'a mut [T], bitask_status> {
    if count == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(fail(BITASK_ERR_INVALID_ARGUMENT, format!("{what} is NULL")));
    }
    // SAFETY: not NULL, and the caller promises count writable elements.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, count) })
}

/// The keys, cut out of their concatenation by their lengths, each checked as a key.
///
/// # Safety
/// `key_lens` is NULL or points to `count` lengths; `keys` is NULL or points to their sum of
/// readable bytes.
unsafe fn keys_arg<'a>(
    keys: *const u8,
    key_lens: *const usize,
    count: usize,
) -> Result<Vec<&'a [u8]>, bitask_status> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if key_lens.is_null() || keys.is_null() {
        return Err(fail(
            BITASK_ERR_INVALID_ARGUMENT,
            "keys or key_lens is NULL",
        ));
    }
    // SAFETY: not NULL, and the caller promises count lengths.
    let lens = unsafe { std::slice::from_raw_parts(key_lens, count) };
    let mut out = Vec::with_capacity(count);
    let mut at = 0usize;
    for &len in lens {
        // SAFETY: the caller promises the concatenation of all keys at `keys`; this key
        // starts `at` bytes in, and key_arg checks its length before any byte is read.
        let key = unsafe { key_arg(keys.add(at), len) }?;
        out.push(key);
        at += len; // no overflow: each len is at most BITASK_MAX_KEY_LEN, and count fits
    }
    Ok(out)
}

/// Reads the values of count keys at once, as of one moment: a batch written meanwhile is
/// seen whole or not at all. Faster than count calls of bitask_get_into: every key's index
/// slot and record start loading before the first is read, and the call crosses into the
/// library once.
///
/// keys: the count keys back to back (borrowed for the call), key i being key_lens[i] bytes
/// (1 to BITASK_MAX_KEY_LEN) after the keys before it. buf: caller-owned, cap bytes (may be
/// NULL when cap is 0): the values found are copied into it back to back, in key order.
/// value_offsets, value_lens, statuses: caller-owned arrays of count elements, written for
/// every key on BITASK_OK: statuses[i] is BITASK_OK (the value is the value_lens[i] bytes at
/// buf + value_offsets[i]), BITASK_NOT_FOUND (value_lens[i] 0), or BITASK_BUFFER_TOO_SMALL
/// (the value did not fit in what was left of buf: nothing copied, value_lens[i] is its
/// length, and later values may still be copied). Nothing is allocated: the call owns no
/// memory when it returns.
///
/// Returns BITASK_OK (every key was looked up: see statuses); BITASK_ERR_INVALID_ARGUMENT
/// (db NULL, a NULL array or buffer with a non-zero count or cap, a key length 0);
/// BITASK_ERR_TOO_LARGE (a key length over the limit); BITASK_ERR_CORRUPTION;
/// BITASK_ERR_IO. After an error the arrays and buf are unspecified. Thread safety: any
/// thread, concurrently.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn bitask_multi_get(
    db: *mut bitask,
    count: usize,
    keys: *const u8,
    key_lens: *const usize,
    buf: *mut u8,
    cap: usize,
    value_offsets: *mut usize,
    value_lens: *mut usize,
    statuses: *mut bitask_status,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: NULL or a handle from bitask_open not yet closed (it is Sync).
        let db = unsafe { handle(db.cast_const(), "db") }?;
        // SAFETY: the caller promises count lengths and the keys' bytes.
        let keys = unsafe { keys_arg(keys, key_lens, count) }?;
        // SAFETY: the caller promises count writable elements in each array, cap bytes in buf.
        let offsets = unsafe { out_array(value_offsets, count, "value_offsets") }?;
        // SAFETY: as above.
        let lens = unsafe { out_array(value_lens, count, "value_lens") }?;
        // SAFETY: as above.
        let sts = unsafe { out_array(statuses, count, "statuses") }?;
        // SAFETY: as above.
        let buf = unsafe { out_array(buf, cap, "buf") }?;
        let engine = db.db.engine();
        let mut used = 0;
        let read = |i: usize, key: &[u8], hash| {
            if i == 0 {
                used = 0; // a batch was published meanwhile: everything is read again
            }
            let found = engine.get_into_prefetched(hash, key, &mut buf[used..])?;
            let (offset, len, status) = match found {
                Some(len) if len <= cap - used => (used, len, BITASK_OK),
                Some(len) => (0, len, BITASK_BUFFER_TOO_SMALL),
                None => (0, 0, BITASK_NOT_FOUND),
            };
            if status == BITASK_OK {
                used += len;
            }
            (offsets[i], lens[i], sts[i]) = (offset, len, status);
            Ok(())
        };
        engine
            .multi_get_with(keys.iter().copied(), read)
            .map_err(from_error)
    })
}
