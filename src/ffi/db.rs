//! `bitask`: the handle of an open store, and every operation on it.

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::options::bitask_options;
use super::panic::{boundary, out_of_memory, status_boundary};
use super::status::bitask_status::{self, *};
use super::status::{fail, from_error, from_open_error};
use super::{handle, key_arg, path_arg, require_out, value_arg, write_out};
use crate::db::{Bitask, Stats};
use crate::options::{Options, MAX_VALUE_LEN};

/// An open store. Made by bitask_open, released by bitask_close.
///
/// Every function taking a bitask * may be called from many threads at once on the same
/// handle, except bitask_close, which must be the last call on it and run when no other
/// call on it is in progress.
pub struct bitask {
    pub(crate) db: Bitask,
    /// Set by `bitask_close`; iterators of the handle check it.
    pub(crate) closed: Arc<AtomicBool>,
}

/// Figures about a store, filled in by bitask_stat.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct bitask_stats {
    /// Live keys.
    pub key_count: u64,
    /// Bytes of the records that hold live values.
    pub live_bytes: u64,
    /// Bytes of records that are overwritten, removed, or tombstones; bitask_compact
    /// reclaims them.
    pub dead_bytes: u64,
    /// Data files, sealed and active.
    pub data_files: u64,
    /// Bytes of data and hint files on disk (the active file counts its reserved size).
    pub disk_bytes: u64,
    /// Bytes of torn records cut from the end of the active file when the store was opened
    /// (left by a crash in the middle of a write that was never acknowledged).
    pub torn_bytes: u64,
}

impl From<Stats> for bitask_stats {
    fn from(s: Stats) -> Self {
        bitask_stats {
            key_count: s.key_count,
            live_bytes: s.live_bytes,
            dead_bytes: s.dead_bytes,
            data_files: s.data_files,
            disk_bytes: s.disk_bytes,
            torn_bytes: s.torn_bytes,
        }
    }
}

/// Borrows the handle behind `db`.
pub(super) fn db_ref<'a>(db: *mut bitask) -> Result<&'a bitask, bitask_status> {
    // SAFETY: the caller passes NULL or a handle from bitask_open that bitask_close has not
    // released; the handle is only read through shared references (it is Sync).
    unsafe { handle(db.cast_const(), "db") }
}

/// Opens the store in the directory path, creating the directory when it is missing (a
/// writer's open, unless bitask_options_set_create_if_missing turned that off; only the last
/// component is created), and recovering from whatever a crash left. A relative path is
/// resolved once, here: a later chdir of the process does not move the store.
///
/// Recovery deletes or truncates only files it has proved are the store's: a directory is a
/// store when it holds the store's identity file db.id (written by the first writer's open),
/// or when every file in it named as a data file is one of this format (a store of an
/// earlier version, which then gets its db.id). Anything else (files of another program or
/// of bitask 0.1.1 under a store's file names, files copied in from another store, a FIFO
/// under a store's file name) is refused with BITASK_ERR_INCOMPATIBLE, naming the file, and
/// the directory is left as it was; a refused open leaves no lock file or directory behind.
///
/// path: NUL-terminated, borrowed for the call. opts: NULL for the defaults, else borrowed
/// for the call (the handle keeps a copy; the options may be freed right after).
/// db_out: receives the new handle, owned by the caller and released with bitask_close; set
/// to NULL on failure.
///
/// A store has one writer at a time: a second read-write open of the same directory, from
/// this process or another, fails with BITASK_ERR_WRITER_LOCK while the first is open.
/// Read-only handles (bitask_options_set_read_only) take no lock.
///
/// Returns BITASK_OK; BITASK_ERR_INVALID_ARGUMENT (path or db_out NULL, path empty);
/// BITASK_ERR_WRITER_LOCK; BITASK_ERR_NO_SUCH_PATH (a read-only open of a missing
/// directory, a missing parent, or a missing directory without create_if_missing);
/// BITASK_ERR_NOT_A_DIRECTORY (path names a file); BITASK_ERR_PERMISSION;
/// BITASK_ERR_NO_SPACE; BITASK_ERR_EXISTS (with error_if_exists); BITASK_ERR_IO (another
/// failure of the operating system); BITASK_ERR_CORRUPTION (a damaged file that recovery
/// cannot skip); BITASK_ERR_INCOMPATIBLE (see above).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn bitask_open(
    path: *const c_char,
    opts: *const bitask_options,
    db_out: *mut *mut bitask,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: db_out is NULL or writable, as the caller promises.
        unsafe { write_out(db_out, std::ptr::null_mut()) };
        require_out(db_out, "db_out")?;
        // SAFETY: path is NULL or a NUL-terminated string, as the caller promises.
        let path = unsafe { path_arg(path) }?;
        let options = if opts.is_null() {
            Options::default()
        } else {
            // SAFETY: opts is a live object from bitask_options_new, not being changed.
            unsafe { handle(opts, "opts") }?.to_options()
        };
        let db = Bitask::open_with(path, options).map_err(|e| from_open_error(e, path))?;
        let handle = Box::new(bitask {
            db,
            closed: Arc::new(AtomicBool::new(false)),
        });
        // SAFETY: checked above that db_out is not NULL.
        unsafe { write_out(db_out, Box::into_raw(handle)) };
        Ok(())
    })
}

/// Closes a handle: trims the active file's unused reserved space and, unless the sync mode
/// is BITASK_SYNC_NONE, makes it durable; releases the writer lock. NULL is a no-op.
///
/// Must be the last call on the handle, with no other call on it in progress. Free every
/// iterator of the handle first: using one after this call is forbidden (bitask_iter_next
/// then returns BITASK_ERR_INVALID_ARGUMENT), and until it is freed it keeps the store's
/// files open and a writer's lock held. Closing the same handle twice is undefined
/// behaviour. A failure while closing cannot be reported: call bitask_sync first when the
/// outcome matters.
#[no_mangle]
pub extern "C" fn bitask_close(db: *mut bitask) {
    boundary(|| {
        if db.is_null() {
            return;
        }
        // SAFETY: the caller passes a handle from bitask_open, not yet closed, with no other
        // call on it in progress; it came from Box::into_raw.
        let handle = unsafe { Box::from_raw(db) };
        let bitask { db, closed } = *handle;
        closed.store(true, Ordering::Release);
        if let Err(e) = db.close() {
            from_error(e);
        }
    })
}

/// Stores value under key, replacing any earlier value.
///
/// key: key_len bytes (1 to BITASK_MAX_KEY_LEN), borrowed for the call. value: value_len
/// bytes (0 to BITASK_MAX_VALUE_LEN), borrowed for the call; may be NULL when value_len is 0.
/// Durable when this returns if the sync mode is BITASK_SYNC_ALWAYS.
///
/// Returns BITASK_OK; BITASK_ERR_INVALID_ARGUMENT (db NULL, key_len 0, a NULL pointer with a
/// non-zero length); BITASK_ERR_TOO_LARGE (a length over the limit); BITASK_ERR_READ_ONLY;
/// BITASK_ERR_IO (the write or its fsync failed, or the handle stopped after an earlier
/// failure). Thread safety: any thread, concurrently.
///
/// An error writes nothing, with one exception: in BITASK_SYNC_ALWAYS, when the fsync that
/// makes the record durable fails. The record is then in the data file, and was published
/// when it was appended: readers of this handle see the new value from before the error on,
/// and go on seeing it. This call returns BITASK_ERR_IO, and so does every other put or
/// remove waiting for that fsync (their records are published too) and every later write:
/// the handle accepts no more writes. After a reopen the key holds the new value or the one
/// before, whichever the disk kept. A full disk (no room for the record, for the seal of the
/// full data file or for a new one) fails only this call: nothing is written, and once space
/// is freed the handle writes again.
#[no_mangle]
pub extern "C" fn bitask_put(
    db: *mut bitask,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> bitask_status {
    status_boundary(|| {
        let db = db_ref(db)?;
        // SAFETY: the caller promises key_len readable bytes at key (checked: not NULL).
        let key = unsafe { key_arg(key, key_len) }?;
        // SAFETY: as for the key.
        let value = unsafe { value_arg(value, value_len) }?;
        db.db.put(key, value).map_err(from_error)
    })
}

/// A value being read for `bitask_get`: a C allocation, freed unless handed to the caller.
struct CBuf {
    ptr: *mut u8,
    len: usize,
}

impl CBuf {
    fn new(len: usize) -> CBuf {
        // calloc, not malloc: the engine reads into an initialized `&mut [u8]`. Large blocks
        // come from fresh zero pages, so the zeroing is free where it would cost. Never
        // size 0, so an empty value still gets a non-NULL pointer.
        // SAFETY: calloc has no preconditions.
        let ptr = unsafe { libc::calloc(len.max(1), 1) }.cast::<u8>();
        if ptr.is_null() {
            out_of_memory(len.max(1));
        }
        CBuf { ptr, len }
    }

    fn into_raw(self) -> (*mut u8, usize) {
        let parts = (self.ptr, self.len);
        std::mem::forget(self);
        parts
    }
}

impl AsMut<[u8]> for CBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: ptr is a live, zeroed allocation of at least len bytes owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for CBuf {
    fn drop(&mut self) {
        // SAFETY: ptr came from calloc and was not handed out (into_raw forgets self).
        unsafe { libc::free(self.ptr.cast()) }
    }
}

/// Reads the value of key into a new buffer.
///
/// key: key_len bytes (1 to BITASK_MAX_KEY_LEN), borrowed for the call. On BITASK_OK,
/// *value_out receives a buffer of *value_len_out bytes, allocated with the C library's
/// allocator and owned by the caller, who releases it with bitask_free (or free). An empty
/// value gives length 0 and a non-NULL pointer, which must be freed too. On any other
/// status, *value_out is set to NULL and *value_len_out to 0.
///
/// Returns BITASK_OK; BITASK_NOT_FOUND (the key has no value); BITASK_ERR_INVALID_ARGUMENT
/// (db, value_out or value_len_out NULL, key_len 0, key NULL); BITASK_ERR_TOO_LARGE (key_len
/// over the limit); BITASK_ERR_CORRUPTION (the stored record fails its checksum);
/// BITASK_ERR_IO (a read failed, or out of memory). Thread safety: any thread, concurrently.
#[no_mangle]
pub extern "C" fn bitask_get(
    db: *mut bitask,
    key: *const u8,
    key_len: usize,
    value_out: *mut *mut u8,
    value_len_out: *mut usize,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: out-pointers are NULL or writable, as the caller promises.
        unsafe {
            write_out(value_out, std::ptr::null_mut());
            write_out(value_len_out, 0);
        }
        let db = db_ref(db)?;
        require_out(value_out, "value_out")?;
        require_out(value_len_out, "value_len_out")?;
        // SAFETY: the caller promises key_len readable bytes at key.
        let key = unsafe { key_arg(key, key_len) }?;
        match db.db.get_with_buffer(key, CBuf::new) {
            Ok(Some(buf)) => {
                let (ptr, len) = buf.into_raw();
                // SAFETY: both checked non-NULL above.
                unsafe {
                    write_out(value_out, ptr);
                    write_out(value_len_out, len);
                }
                Ok(())
            }
            Ok(None) => Err(fail(BITASK_NOT_FOUND, "key not found")),
            Err(e) => Err(from_error(e)),
        }
    })
}

/// Releases a buffer returned by bitask_get. NULL is a no-op. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn bitask_free(ptr: *mut c_void) {
    boundary(|| {
        // SAFETY: ptr is NULL or a buffer from bitask_get (a C allocation) not yet freed.
        unsafe { libc::free(ptr) }
    })
}

/// Copies the value of key into the caller's buffer buf of cap bytes.
///
/// key: key_len bytes, borrowed for the call. buf: caller-owned, cap bytes; may be NULL
/// when cap is 0 (to learn the length). value_len_out: required; receives the value's
/// length on BITASK_OK and on BITASK_BUFFER_TOO_SMALL, 0 otherwise.
///
/// Returns BITASK_OK (the value is in the first *value_len_out bytes of buf);
/// BITASK_BUFFER_TOO_SMALL (the value is longer than cap: nothing was copied, and
/// *value_len_out is the length needed); BITASK_NOT_FOUND; BITASK_ERR_INVALID_ARGUMENT (db
/// or value_len_out NULL, key_len 0, a NULL pointer with a non-zero length);
/// BITASK_ERR_TOO_LARGE (key_len over the limit); BITASK_ERR_CORRUPTION; BITASK_ERR_IO. The
/// contents of buf are unspecified after an error. Thread safety: any thread, concurrently.
#[no_mangle]
pub extern "C" fn bitask_get_into(
    db: *mut bitask,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    cap: usize,
    value_len_out: *mut usize,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: value_len_out is NULL or writable, as the caller promises.
        unsafe { write_out(value_len_out, 0) };
        let db = db_ref(db)?;
        require_out(value_len_out, "value_len_out")?;
        // SAFETY: the caller promises key_len readable bytes at key.
        let key = unsafe { key_arg(key, key_len) }?;
        if buf.is_null() && cap != 0 {
            return Err(fail(
                BITASK_ERR_INVALID_ARGUMENT,
                format!("buf is NULL but cap is {cap}"),
            ));
        }
        // No value is longer than MAX_VALUE_LEN, so a larger cap need not be looked at.
        let usable = cap.min(MAX_VALUE_LEN);
        let out: &mut [u8] = if usable == 0 {
            &mut []
        } else {
            // SAFETY: buf is not NULL and the caller promises cap >= usable writable bytes,
            // not aliased during the call.
            unsafe { std::slice::from_raw_parts_mut(buf, usable) }
        };
        match db.db.get_into(key, out) {
            Ok(Some(len)) => {
                // SAFETY: checked non-NULL above.
                unsafe { write_out(value_len_out, len) };
                if len > cap {
                    return Err(fail(
                        BITASK_BUFFER_TOO_SMALL,
                        format!("the value is {len} bytes, the buffer {cap}"),
                    ));
                }
                Ok(())
            }
            Ok(None) => Err(fail(BITASK_NOT_FOUND, "key not found")),
            Err(e) => Err(from_error(e)),
        }
    })
}

/// Whether key has a value, without reading it.
///
/// Returns BITASK_OK (present); BITASK_NOT_FOUND (absent); BITASK_ERR_INVALID_ARGUMENT (db
/// NULL, key_len 0, key NULL); BITASK_ERR_TOO_LARGE (key_len over the limit).
/// Thread safety: any thread, concurrently.
#[no_mangle]
pub extern "C" fn bitask_contains(
    db: *mut bitask,
    key: *const u8,
    key_len: usize,
) -> bitask_status {
    status_boundary(|| {
        let db = db_ref(db)?;
        // SAFETY: the caller promises key_len readable bytes at key.
        let key = unsafe { key_arg(key, key_len) }?;
        match db.db.contains(key) {
            Ok(true) => Ok(()),
            Ok(false) => Err(fail(BITASK_NOT_FOUND, "key not found")),
            Err(e) => Err(from_error(e)),
        }
    })
}

/// Removes key (appends a tombstone). Durable when this returns if the sync mode is
/// BITASK_SYNC_ALWAYS.
///
/// Returns BITASK_OK; BITASK_NOT_FOUND (the key had no value: nothing is written);
/// BITASK_ERR_INVALID_ARGUMENT (db NULL, key_len 0, key NULL); BITASK_ERR_TOO_LARGE;
/// BITASK_ERR_READ_ONLY; BITASK_ERR_IO. Thread safety: any thread, concurrently.
///
/// An error writes nothing, except, as for bitask_put, when the fsync of BITASK_SYNC_ALWAYS
/// fails: the tombstone was published when it was appended, so readers of this handle find
/// the key absent from before the error on; the call returns BITASK_ERR_IO and the handle
/// accepts no more writes; after a reopen the key is absent or has its value again,
/// whichever the disk kept.
#[no_mangle]
pub extern "C" fn bitask_remove(db: *mut bitask, key: *const u8, key_len: usize) -> bitask_status {
    status_boundary(|| {
        let db = db_ref(db)?;
        // SAFETY: the caller promises key_len readable bytes at key.
        let key = unsafe { key_arg(key, key_len) }?;
        db.db.remove(key).map_err(from_error)
    })
}

/// Merges the data files into new ones holding only live records (with hint files for fast
/// opening), then deletes the old files. Reads and writes go on meanwhile; one compaction
/// runs at a time per handle.
///
/// Returns BITASK_OK; BITASK_ERR_INVALID_ARGUMENT (db NULL); BITASK_ERR_READ_ONLY;
/// BITASK_ERR_IO; BITASK_ERR_CORRUPTION. After a failure the store keeps its old files and
/// its content. Thread safety: any thread, concurrently with other calls.
#[no_mangle]
pub extern "C" fn bitask_compact(db: *mut bitask) -> bitask_status {
    status_boundary(|| db_ref(db)?.db.compact().map_err(from_error))
}

/// Makes every write acknowledged so far durable (fdatasync), whatever the sync mode. On a
/// read-only handle, does nothing.
///
/// Returns BITASK_OK; BITASK_ERR_INVALID_ARGUMENT (db NULL); BITASK_ERR_IO (the fsync
/// failed: the handle then stops accepting writes; reopen the store).
/// Thread safety: any thread, concurrently.
#[no_mangle]
pub extern "C" fn bitask_sync(db: *mut bitask) -> bitask_status {
    status_boundary(|| db_ref(db)?.db.sync().map_err(from_error))
}

/// On a read-only handle, loads what the writer has written since bitask_open or the last
/// refresh (new keys, new values, removals, compactions). On a read-write handle, does
/// nothing.
///
/// Returns BITASK_OK; BITASK_ERR_INVALID_ARGUMENT (db NULL); BITASK_ERR_IO;
/// BITASK_ERR_CORRUPTION; BITASK_ERR_INCOMPATIBLE. Thread safety: any thread, concurrently.
#[no_mangle]
pub extern "C" fn bitask_refresh(db: *mut bitask) -> bitask_status {
    status_boundary(|| db_ref(db)?.db.refresh().map_err(from_error))
}

/// Fills *out with figures about the store; zeroes it on failure.
///
/// out: caller-owned. Returns BITASK_OK, or BITASK_ERR_INVALID_ARGUMENT (db or out NULL).
/// Thread safety: any thread, concurrently (the figures are a consistent-enough snapshot,
/// not an atomic one, while writes run).
#[no_mangle]
pub extern "C" fn bitask_stat(db: *mut bitask, out: *mut bitask_stats) -> bitask_status {
    status_boundary(|| {
        // SAFETY: out is NULL or writable, as the caller promises.
        unsafe { write_out(out, bitask_stats::default()) };
        let db = db_ref(db)?;
        require_out(out, "out")?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, db.db.stats().into()) };
        Ok(())
    })
}
