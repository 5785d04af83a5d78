//! `bitask_batch`: the operations of an atomic write, and `bitask_write`, which applies one.

use std::ffi::c_uint;

use super::db::bitask;
use super::panic::{boundary, status_boundary};
use super::status::bitask_status::{self, *};
use super::status::{fail, from_error};
use super::{handle, handle_mut, key_arg, value_arg};
use crate::batch::WriteBatch;

/// bitask_write flag: make the batch durable (one fdatasync) before returning, whatever the
/// handle's sync mode.
pub const BITASK_WRITE_SYNC: c_uint = 1;

/// Puts and removes to apply atomically with bitask_write. Made by bitask_batch_new,
/// released by bitask_batch_free. A batch belongs to one thread at a time; it is not tied to
/// any store, and may be written to several, or to one several times.
pub struct bitask_batch {
    batch: WriteBatch,
}

/// Makes an empty batch. Returns NULL when out of memory. Release it with bitask_batch_free.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn bitask_batch_new() -> *mut bitask_batch {
    boundary(|| {
        Box::into_raw(Box::new(bitask_batch {
            batch: WriteBatch::new(),
        }))
    })
}

/// Releases a batch made by bitask_batch_new. NULL is ignored. Thread safety: not while
/// another call uses the batch.
#[no_mangle]
pub extern "C" fn bitask_batch_free(batch: *mut bitask_batch) {
    boundary(|| {
        if !batch.is_null() {
            // SAFETY: the caller passes a batch from bitask_batch_new, not yet freed, that no
            // other call uses; it came from Box::into_raw.
            drop(unsafe { Box::from_raw(batch) });
        }
    });
}

/// Borrows the batch behind `batch` for a change.
fn batch_mut<'a>(batch: *mut bitask_batch) -> Result<&'a mut bitask_batch, bitask_status> {
    // SAFETY: the caller passes NULL or a batch from bitask_batch_new, not yet freed, used by
    // no other call meanwhile.
    unsafe { handle_mut(batch, "batch") }
}

/// Adds a put of value under key to the batch. The bytes are copied: key and value are
/// borrowed for the call only (value may be NULL when value_len is 0).
///
/// Returns BITASK_OK; BITASK_ERR_INVALID_ARGUMENT (batch NULL, key_len 0, a NULL pointer
/// with a non-zero length); BITASK_ERR_TOO_LARGE (a length over the limit); BITASK_ERR_IO
/// (out of memory). A failure leaves the batch as it was. Thread safety: one thread at a time
/// per batch.
#[no_mangle]
pub extern "C" fn bitask_batch_put(
    batch: *mut bitask_batch,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> bitask_status {
    status_boundary(|| {
        let b = batch_mut(batch)?;
        // SAFETY: the caller promises key_len readable bytes at key (checked: not NULL).
        let key = unsafe { key_arg(key, key_len) }?;
        // SAFETY: as for the key.
        let value = unsafe { value_arg(value, value_len) }?;
        b.batch.put(key, value).map_err(from_error)
    })
}

/// Adds a put of value under key that expires at at_ms (milliseconds since the Unix epoch;
/// see bitask_put_expiring_at) to the batch. An instant, not a time to live, so that the
/// batch means the same whenever it is written. The bytes are copied, as by bitask_batch_put.
///
/// Returns what bitask_batch_put returns. Thread safety: one thread at a time per batch.
#[no_mangle]
pub extern "C" fn bitask_batch_put_expiring_at(
    batch: *mut bitask_batch,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    at_ms: u64,
) -> bitask_status {
    status_boundary(|| {
        let b = batch_mut(batch)?;
        // SAFETY: the caller promises key_len readable bytes at key (checked: not NULL).
        let key = unsafe { key_arg(key, key_len) }?;
        // SAFETY: as for the key.
        let value = unsafe { value_arg(value, value_len) }?;
        b.batch
            .put_expiring_at(key, value, at_ms)
            .map_err(from_error)
    })
}

/// Adds a removal of key to the batch (the key is copied). Removing a key that is absent is
/// no error in a batch: bitask_write succeeds and that operation changes nothing.
///
/// Returns BITASK_OK; BITASK_ERR_INVALID_ARGUMENT (batch NULL, key_len 0, key NULL);
/// BITASK_ERR_TOO_LARGE; BITASK_ERR_IO (out of memory). Thread safety: one thread at a time
/// per batch.
#[no_mangle]
pub extern "C" fn bitask_batch_remove(
    batch: *mut bitask_batch,
    key: *const u8,
    key_len: usize,
) -> bitask_status {
    status_boundary(|| {
        let b = batch_mut(batch)?;
        // SAFETY: the caller promises key_len readable bytes at key (checked: not NULL).
        let key = unsafe { key_arg(key, key_len) }?;
        b.batch.remove(key).map_err(from_error)
    })
}

/// Removes every operation from the batch, keeping its memory for the next one.
///
/// Returns BITASK_OK, or BITASK_ERR_INVALID_ARGUMENT when batch is NULL. Thread safety: one
/// thread at a time per batch.
#[no_mangle]
pub extern "C" fn bitask_batch_clear(batch: *mut bitask_batch) -> bitask_status {
    status_boundary(|| {
        batch_mut(batch)?.batch.clear();
        Ok(())
    })
}

/// Applies every operation of the batch to the store, in the order they were added, or
/// none: after any crash the store holds all of them or none, and readers of this handle
/// see all of them or none. The batch is written to one data file followed by one commit
/// record; in BITASK_SYNC_ALWAYS it is made durable by one fdatasync shared with concurrent
/// writers. The batch is borrowed for the call and left unchanged.
///
/// flags: 0, or BITASK_WRITE_SYNC to make the batch durable before returning in any sync
/// mode.
///
/// Returns BITASK_OK (an empty batch writes nothing); BITASK_ERR_INVALID_ARGUMENT (db or
/// batch NULL, an unknown flag); BITASK_ERR_TOO_LARGE (the batch's records would not fit in
/// a data file of 2 GiB); BITASK_ERR_READ_ONLY; BITASK_ERR_NO_SPACE; BITASK_ERR_IO. An error
/// writes nothing, except a failed fdatasync, as for bitask_put: the batch is then visible,
/// whole, and after a reopen either all there or all absent. Thread safety: any thread,
/// concurrently with other calls on db; the batch must not change during the call.
#[no_mangle]
pub extern "C" fn bitask_write(
    db: *mut bitask,
    batch: *const bitask_batch,
    flags: c_uint,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: NULL or a handle from bitask_open not yet closed (it is Sync).
        let db = unsafe { handle(db.cast_const(), "db") }?;
        // SAFETY: NULL or a batch from bitask_batch_new, not changed during the call.
        let b = unsafe { handle(batch, "batch") }?;
        if flags & !BITASK_WRITE_SYNC != 0 {
            return Err(fail(
                BITASK_ERR_INVALID_ARGUMENT,
                format!("unknown bitask_write flags {flags:#x}"),
            ));
        }
        db.db.write(&b.batch).map_err(from_error)?;
        if flags & BITASK_WRITE_SYNC != 0 && !b.batch.is_empty() {
            db.db.sync().map_err(from_error)?;
        }
        Ok(())
    })
}
