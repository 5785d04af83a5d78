//! Conditional writes: bitask_put_if_absent and bitask_compare_and_set.

use super::db::bitask;
use super::panic::status_boundary;
use super::status::bitask_status::{self, *};
use super::status::{fail, from_error};
use super::{handle, key_arg, value_arg};

/// An optional value argument: NULL (with length 0) is "no value", anything else `len`
/// bytes (an empty value is a non-NULL pointer with length 0).
///
/// # Safety
/// As for `value_arg`.
unsafe fn optional_value<'a>(
    ptr: *const u8,
    len: usize,
    what: &str,
) -> Result<Option<&'a [u8]>, bitask_status> {
    if ptr.is_null() {
        if len != 0 {
            let message = format!("{what} is NULL but its length is {len}");
            return Err(fail(BITASK_ERR_INVALID_ARGUMENT, message));
        }
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { value_arg(ptr, len) }.map(Some)
}

/// Stores value under key only when the key has no value (as LMDB's MDB_NOOVERWRITE). The
/// check and the write are one step: no other writer of the handle comes between them.
///
/// key: key_len bytes (1 to BITASK_MAX_KEY_LEN), borrowed for the call. value: value_len
/// bytes, borrowed for the call; may be NULL when value_len is 0.
///
/// Returns BITASK_OK (written); BITASK_KEY_EXISTS (the key has a value: nothing written);
/// BITASK_ERR_INVALID_ARGUMENT; BITASK_ERR_TOO_LARGE; BITASK_ERR_READ_ONLY;
/// BITASK_ERR_NO_SPACE; BITASK_ERR_IO; durability and failures as for bitask_put. Thread
/// safety: any thread, concurrently.
#[no_mangle]
pub extern "C" fn bitask_put_if_absent(
    db: *mut bitask,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: NULL or a handle from bitask_open not yet closed (it is Sync).
        let db = unsafe { handle(db.cast_const(), "db") }?;
        // SAFETY: the caller promises key_len readable bytes at key (checked: not NULL).
        let key = unsafe { key_arg(key, key_len) }?;
        // SAFETY: as for the key.
        let value = unsafe { value_arg(value, value_len) }?;
        match db.db.put_if_absent(key, value) {
            Ok(true) => Ok(()),
            Ok(false) => Err(fail(BITASK_KEY_EXISTS, "the key already has a value")),
            Err(e) => Err(from_error(e)),
        }
    })
}

/// Compare-and-set: when the value of key is the one expected, replaces it with new_value
/// (or removes the key); else writes nothing. The comparison and the write are one step:
/// no other writer of the handle comes between them.
///
/// expected: NULL (expected_len 0) when the key must be absent, else expected_len bytes
/// the value must equal (an empty value: a non-NULL pointer with expected_len 0).
/// new_value: NULL (new_len 0) to remove the key, else new_len bytes to store. Every buffer
/// is borrowed for the call. Removing a key that is absent, as expected, writes nothing and
/// returns BITASK_OK.
///
/// Returns BITASK_OK (the value matched and new_value is stored, or the key removed);
/// BITASK_MISMATCH (it did not match: nothing written); BITASK_ERR_INVALID_ARGUMENT;
/// BITASK_ERR_TOO_LARGE; BITASK_ERR_READ_ONLY; BITASK_ERR_NO_SPACE; BITASK_ERR_CORRUPTION
/// (the current value failed its checksum); BITASK_ERR_IO; durability and failures as for
/// bitask_put. Thread safety: any thread, concurrently.
#[no_mangle]
pub extern "C" fn bitask_compare_and_set(
    db: *mut bitask,
    key: *const u8,
    key_len: usize,
    expected: *const u8,
    expected_len: usize,
    new_value: *const u8,
    new_len: usize,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: NULL or a handle from bitask_open not yet closed (it is Sync).
        let db = unsafe { handle(db.cast_const(), "db") }?;
        // SAFETY: the caller promises key_len readable bytes at key (checked: not NULL).
        let key = unsafe { key_arg(key, key_len) }?;
        // SAFETY: the caller promises expected_len readable bytes at expected, when not NULL.
        let expected = unsafe { optional_value(expected, expected_len, "expected") }?;
        // SAFETY: as for expected.
        let new = unsafe { optional_value(new_value, new_len, "new_value") }?;
        match db.db.compare_and_set(key, expected, new) {
            Ok(true) => Ok(()),
            Ok(false) => Err(fail(BITASK_MISMATCH, "the value is not the one expected")),
            Err(e) => Err(from_error(e)),
        }
    })
}
