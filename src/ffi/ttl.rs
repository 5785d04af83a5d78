//! Keys with a time to live: bitask_put_ttl, bitask_put_expiring_at, bitask_expire,
//! bitask_expire_at, bitask_persist, bitask_ttl and bitask_expiry. Expiry times are milliseconds: times to
//! live from now, or instants since the Unix epoch, both as the store's clock reads them
//! (the system's real-time clock).

use std::time::Duration;

use super::db::bitask;
use super::panic::status_boundary;
use super::status::bitask_status::{self, *};
use super::status::{fail, from_error};
use super::{handle, key_arg, require_out, value_arg, write_out};

/// Stores value under key, as bitask_put does, with a time to live of ttl_ms milliseconds:
/// from then on the key is absent to every read (bitask_get, bitask_contains, iteration,
/// bitask_stat), and the next bitask_compact drops its record. ttl_ms 0 stores a key that
/// is absent at once.
///
/// key, value: as for bitask_put, borrowed for the call.
///
/// Returns what bitask_put returns, with the same durability and failures. Thread safety:
/// any thread, concurrently.
#[no_mangle]
pub extern "C" fn bitask_put_ttl(
    db: *mut bitask,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    ttl_ms: u64,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: NULL or a handle from bitask_open not yet closed (it is Sync).
        let db = unsafe { handle(db.cast_const(), "db") }?;
        // SAFETY: the caller promises key_len readable bytes at key (checked: not NULL).
        let key = unsafe { key_arg(key, key_len) }?;
        // SAFETY: as for the key.
        let value = unsafe { value_arg(value, value_len) }?;
        let ttl = Duration::from_millis(ttl_ms);
        db.db.put_with_ttl(key, value, ttl).map_err(from_error)
    })
}

/// Stores value under key, as bitask_put does, expiring at at_ms (milliseconds since the
/// Unix epoch): absent from that instant on. An instant already past stores a key that is
/// absent at once.
///
/// key, value: as for bitask_put, borrowed for the call.
///
/// Returns what bitask_put returns, with the same durability and failures. Thread safety:
/// any thread, concurrently.
#[no_mangle]
pub extern "C" fn bitask_put_expiring_at(
    db: *mut bitask,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    at_ms: u64,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: NULL or a handle from bitask_open not yet closed (it is Sync).
        let db = unsafe { handle(db.cast_const(), "db") }?;
        // SAFETY: the caller promises key_len readable bytes at key (checked: not NULL).
        let key = unsafe { key_arg(key, key_len) }?;
        // SAFETY: as for the key.
        let value = unsafe { value_arg(value, value_len) }?;
        db.db.put_expiring_at(key, value, at_ms).map_err(from_error)
    })
}

/// Makes key expire ttl_ms milliseconds from now, keeping its value: its record is written
/// again with the new expiry (one record, as atomic and durable as a bitask_put).
///
/// key: key_len bytes (1 to BITASK_MAX_KEY_LEN), borrowed for the call.
///
/// Returns BITASK_OK; BITASK_NOT_FOUND (the key has no value: nothing written);
/// BITASK_ERR_INVALID_ARGUMENT (db NULL, key_len 0, key NULL); BITASK_ERR_TOO_LARGE;
/// BITASK_ERR_READ_ONLY; BITASK_ERR_NO_SPACE; BITASK_ERR_CORRUPTION; BITASK_ERR_IO;
/// durability and failures as for bitask_put. Thread safety: any thread, concurrently.
#[no_mangle]
pub extern "C" fn bitask_expire(
    db: *mut bitask,
    key: *const u8,
    key_len: usize,
    ttl_ms: u64,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: NULL or a handle from bitask_open not yet closed (it is Sync).
        let db = unsafe { handle(db.cast_const(), "db") }?;
        // SAFETY: the caller promises key_len readable bytes at key (checked: not NULL).
        let key = unsafe { key_arg(key, key_len) }?;
        let ttl = Duration::from_millis(ttl_ms);
        db.db.expire(key, ttl).map_err(from_error)
    })
}

/// bitask_expire, at the instant at_ms (milliseconds since the Unix epoch).
///
/// Returns what bitask_expire returns. Thread safety: any thread, concurrently.
#[no_mangle]
pub extern "C" fn bitask_expire_at(
    db: *mut bitask,
    key: *const u8,
    key_len: usize,
    at_ms: u64,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: NULL or a handle from bitask_open not yet closed (it is Sync).
        let db = unsafe { handle(db.cast_const(), "db") }?;
        // SAFETY: the caller promises key_len readable bytes at key (checked: not NULL).
        let key = unsafe { key_arg(key, key_len) }?;
        db.db.expire_at(key, at_ms).map_err(from_error)
    })
}

/// Removes key's expiry, keeping its value. When the key had one, its record is written
/// again without it (as atomic and durable as a bitask_put); when it had none, nothing is
/// written.
///
/// key: key_len bytes (1 to BITASK_MAX_KEY_LEN), borrowed for the call. removed_out: NULL,
/// or where to store 1 when an expiry was removed and 0 when the key had none (0 on any
/// other status).
///
/// Returns BITASK_OK; BITASK_NOT_FOUND (the key has no value: nothing written);
/// BITASK_ERR_INVALID_ARGUMENT (db NULL, key_len 0, key NULL); BITASK_ERR_TOO_LARGE;
/// BITASK_ERR_READ_ONLY; BITASK_ERR_NO_SPACE; BITASK_ERR_CORRUPTION; BITASK_ERR_IO.
/// Thread safety: any thread, concurrently.
#[no_mangle]
pub extern "C" fn bitask_persist(
    db: *mut bitask,
    key: *const u8,
    key_len: usize,
    removed_out: *mut i32,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: NULL (skipped) or writable, as the caller promises.
        unsafe { write_out(removed_out, 0) };
        // SAFETY: NULL or a handle from bitask_open not yet closed (it is Sync).
        let db = unsafe { handle(db.cast_const(), "db") }?;
        // SAFETY: the caller promises key_len readable bytes at key (checked: not NULL).
        let key = unsafe { key_arg(key, key_len) }?;
        let removed = db.db.persist(key).map_err(from_error)?;
        // SAFETY: NULL (skipped) or writable, as the caller promises.
        unsafe { write_out(removed_out, removed as i32) };
        Ok(())
    })
}

/// The time key has left before it expires: *ttl_ms_out receives the remaining
/// milliseconds (0 in its last millisecond), or -1 when the key does not expire.
///
/// key: key_len bytes (1 to BITASK_MAX_KEY_LEN), borrowed for the call. ttl_ms_out: not
/// NULL; set to 0 on any status but BITASK_OK.
///
/// Returns BITASK_OK; BITASK_NOT_FOUND (the key has no value, or has expired);
/// BITASK_ERR_INVALID_ARGUMENT (db or ttl_ms_out NULL, key_len 0, key NULL);
/// BITASK_ERR_TOO_LARGE; BITASK_ERR_CORRUPTION; BITASK_ERR_IO. Thread safety: any thread,
/// concurrently.
#[no_mangle]
pub extern "C" fn bitask_ttl(
    db: *mut bitask,
    key: *const u8,
    key_len: usize,
    ttl_ms_out: *mut i64,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: NULL or a handle from bitask_open not yet closed (it is Sync).
        let db = unsafe { handle(db.cast_const(), "db") }?;
        require_out(ttl_ms_out, "ttl_ms_out")?;
        // SAFETY: checked not NULL; the caller promises it is writable.
        unsafe { write_out(ttl_ms_out, 0) };
        // SAFETY: the caller promises key_len readable bytes at key (checked: not NULL).
        let key = unsafe { key_arg(key, key_len) }?;
        let ms = match db.db.ttl(key) {
            Ok(None) => -1,
            Ok(Some(left)) => i64::try_from(left.as_millis()).unwrap_or(i64::MAX),
            Err(crate::Error::KeyNotFound) => {
                return Err(fail(BITASK_NOT_FOUND, "key not found"));
            }
            Err(e) => return Err(from_error(e)),
        };
        // SAFETY: checked not NULL; the caller promises it is writable.
        unsafe { write_out(ttl_ms_out, ms) };
        Ok(())
    })
}

/// When key expires: *at_ms_out receives the instant (milliseconds since the Unix epoch), or
/// 0 when the key does not expire (no live key can expire at 0, long past).
///
/// key: key_len bytes (1 to BITASK_MAX_KEY_LEN), borrowed for the call. at_ms_out: not NULL;
/// set to 0 on any status but BITASK_OK.
///
/// Returns what bitask_ttl returns. Thread safety: any thread, concurrently.
#[no_mangle]
pub extern "C" fn bitask_expiry(
    db: *mut bitask,
    key: *const u8,
    key_len: usize,
    at_ms_out: *mut u64,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: NULL or a handle from bitask_open not yet closed (it is Sync).
        let db = unsafe { handle(db.cast_const(), "db") }?;
        require_out(at_ms_out, "at_ms_out")?;
        // SAFETY: checked not NULL; the caller promises it is writable.
        unsafe { write_out(at_ms_out, 0) };
        // SAFETY: the caller promises key_len readable bytes at key (checked: not NULL).
        let key = unsafe { key_arg(key, key_len) }?;
        let at = match db.db.expiry(key) {
            Ok(at) => at.unwrap_or(0),
            Err(crate::Error::KeyNotFound) => {
                return Err(fail(BITASK_NOT_FOUND, "key not found"));
            }
            Err(e) => return Err(from_error(e)),
        };
        // SAFETY: checked not NULL; the caller promises it is writable.
        unsafe { write_out(at_ms_out, at) };
        Ok(())
    })
}
