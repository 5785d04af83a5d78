//! `bitask_options`: how to open a store. Opaque, and set through functions, so its layout
//! never becomes part of the ABI.

use std::os::raw::c_int;
use std::time::Duration;

use super::panic::{boundary, status_boundary};
use super::status::bitask_status::{self, *};
use super::status::fail;
use super::{handle_mut, Status};
use crate::options::{
    MergeOptions, Options, SyncMode, DEFAULT_MAX_FILE_SIZE, MAX_MAX_FILE_SIZE,
    MAX_MERGE_OUTPUT_SIZE, MIN_MAX_FILE_SIZE,
};

/// Sync mode: the operating system writes data back when it likes. A successful put
/// survives a crash of the process, not a power cut. The default.
pub const BITASK_SYNC_NONE: c_int = 0;
/// Sync mode: every put and remove is on stable storage (fdatasync) before it returns.
/// Concurrent writers share one fdatasync. What a put whose fdatasync fails leaves: see
/// bitask_put.
pub const BITASK_SYNC_ALWAYS: c_int = 1;
/// Sync mode: a background thread makes writes durable every interval (see
/// bitask_options_set_sync_interval_ms); a power cut loses at most that interval.
pub const BITASK_SYNC_INTERVAL: c_int = 2;

/// Default interval of BITASK_SYNC_INTERVAL, in milliseconds.
pub const BITASK_DEFAULT_SYNC_INTERVAL_MS: u32 = 1000;

/// Options for bitask_open. Made by bitask_options_new, released by bitask_options_free.
///
/// An options object is not synchronized: set it from one thread at a time. Any number of
/// threads may pass the same unchanging options to bitask_open at once.
pub struct bitask_options {
    max_file_size: u64,
    sync_mode: c_int,
    sync_interval_ms: u32,
    read_only: bool,
    create_if_missing: bool,
    error_if_exists: bool,
    auto_merge: bool,
    merge_bytes_per_sec: u64,
    merge_output_file_size: u64,
}

impl bitask_options {
    pub(crate) fn to_options(&self) -> Options {
        let sync = match self.sync_mode {
            BITASK_SYNC_ALWAYS => SyncMode::Always,
            BITASK_SYNC_INTERVAL => {
                SyncMode::Interval(Duration::from_millis(self.sync_interval_ms.into()))
            }
            _ => SyncMode::None,
        };
        Options::default()
            .max_file_size(self.max_file_size)
            .sync(sync)
            .read_only(self.read_only)
            .create_if_missing(self.create_if_missing)
            .error_if_exists(self.error_if_exists)
            .auto_merge(self.auto_merge)
            .merge(MergeOptions {
                bytes_per_sec: self.merge_bytes_per_sec,
                output_file_size: self.merge_output_file_size,
                ..MergeOptions::default()
            })
    }
}

impl Default for bitask_options {
    fn default() -> Self {
        bitask_options {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            sync_mode: BITASK_SYNC_NONE,
            sync_interval_ms: BITASK_DEFAULT_SYNC_INTERVAL_MS,
            read_only: false,
            create_if_missing: true,
            error_if_exists: false,
            auto_merge: true,
            merge_bytes_per_sec: MergeOptions::default().bytes_per_sec,
            merge_output_file_size: MergeOptions::default().output_file_size,
        }
    }
}

/// Makes an options object holding the defaults: 4 MiB data files, BITASK_SYNC_NONE, a
/// 1000 ms sync interval, read-write.
///
/// Returns a new object owned by the caller, to be released with bitask_options_free (it
/// may be freed right after bitask_open: the handle keeps a copy), or NULL when out of
/// memory. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn bitask_options_new() -> *mut bitask_options {
    boundary(|| Box::into_raw(Box::default()))
}

/// Releases an options object made by bitask_options_new. NULL is a no-op. Passing the
/// same object twice, or one not made by bitask_options_new, is undefined behaviour.
/// Thread safety: no other call may be using the object.
#[no_mangle]
pub extern "C" fn bitask_options_free(opts: *mut bitask_options) {
    boundary(|| {
        if !opts.is_null() {
            // SAFETY: the caller passes an object from bitask_options_new, not yet freed;
            // it came from Box::into_raw.
            drop(unsafe { Box::from_raw(opts) });
        }
    })
}

fn with_opts(
    opts: *mut bitask_options,
    f: impl FnOnce(&mut bitask_options) -> Status<()>,
) -> bitask_status {
    status_boundary(|| {
        // SAFETY: the caller passes NULL or a live object from bitask_options_new, used by
        // one thread at a time.
        let o = unsafe { handle_mut(opts, "opts") }?;
        f(o)
    })
}

/// Sets the size at which the active data file is sealed and a new one started, in bytes:
/// from 64 to 2147483648 (2 GiB); the default is 4 MiB. A record larger than this gets a
/// data file of its own. Setting an option again replaces the earlier value.
///
/// Returns BITASK_OK, or BITASK_ERR_INVALID_ARGUMENT (opts NULL, size out of range; the
/// options are unchanged). Thread safety: one thread at a time per options object.
#[no_mangle]
pub extern "C" fn bitask_options_set_max_file_size(
    opts: *mut bitask_options,
    bytes: u64,
) -> bitask_status {
    with_opts(opts, |o| {
        if !(MIN_MAX_FILE_SIZE..=MAX_MAX_FILE_SIZE).contains(&bytes) {
            return Err(fail(
                BITASK_ERR_INVALID_ARGUMENT,
                format!(
                    "max_file_size {bytes} is outside {MIN_MAX_FILE_SIZE}..={MAX_MAX_FILE_SIZE}"
                ),
            ));
        }
        o.max_file_size = bytes;
        Ok(())
    })
}

/// Sets the durability of writes: BITASK_SYNC_NONE (the default), BITASK_SYNC_ALWAYS or
/// BITASK_SYNC_INTERVAL. Setting it again replaces the earlier mode.
///
/// Returns BITASK_OK, or BITASK_ERR_INVALID_ARGUMENT (opts NULL, or mode is not one of the
/// three; the options are unchanged). Thread safety: one thread at a time per options object.
#[no_mangle]
pub extern "C" fn bitask_options_set_sync(opts: *mut bitask_options, mode: c_int) -> bitask_status {
    with_opts(opts, |o| {
        if !matches!(
            mode,
            BITASK_SYNC_NONE | BITASK_SYNC_ALWAYS | BITASK_SYNC_INTERVAL
        ) {
            return Err(fail(
                BITASK_ERR_INVALID_ARGUMENT,
                format!("unknown sync mode {mode}"),
            ));
        }
        o.sync_mode = mode;
        Ok(())
    })
}

/// Sets the period of BITASK_SYNC_INTERVAL, in milliseconds (at least 1; default 1000).
/// It takes effect only in that mode and does not change the mode.
///
/// Returns BITASK_OK, or BITASK_ERR_INVALID_ARGUMENT (opts NULL, or ms is 0; the options
/// are unchanged). Thread safety: one thread at a time per options object.
#[no_mangle]
pub extern "C" fn bitask_options_set_sync_interval_ms(
    opts: *mut bitask_options,
    ms: u32,
) -> bitask_status {
    with_opts(opts, |o| {
        if ms == 0 {
            return Err(fail(
                BITASK_ERR_INVALID_ARGUMENT,
                "sync interval must be at least 1 ms",
            ));
        }
        o.sync_interval_ms = ms;
        Ok(())
    })
}

/// Opens read-only when read_only is true (default false): the handle takes no lock, so any
/// number of read-only handles, in any processes, can read while one writer writes. It
/// sees the store as of bitask_open or its last bitask_refresh; writes fail with
/// BITASK_ERR_READ_ONLY. The store's directory must exist.
///
/// Returns BITASK_OK, or BITASK_ERR_INVALID_ARGUMENT (opts NULL). Thread safety: one thread at
/// a time per options object.
#[no_mangle]
pub extern "C" fn bitask_options_set_read_only(
    opts: *mut bitask_options,
    read_only: bool,
) -> bitask_status {
    with_opts(opts, |o| {
        o.read_only = read_only;
        Ok(())
    })
}

/// Whether a writer's bitask_open creates the store's directory when it is missing (default
/// true). Only the last component of the path is created: a missing parent fails with
/// BITASK_ERR_NO_SUCH_PATH, so a mistyped path does not grow a tree of directories. With
/// false, a missing directory fails with BITASK_ERR_NO_SUCH_PATH. Read-only opens never
/// create anything.
///
/// Returns BITASK_OK, or BITASK_ERR_INVALID_ARGUMENT (opts NULL). Thread safety: one thread at
/// a time per options object.
#[no_mangle]
pub extern "C" fn bitask_options_set_create_if_missing(
    opts: *mut bitask_options,
    create: bool,
) -> bitask_status {
    with_opts(opts, |o| {
        o.create_if_missing = create;
        Ok(())
    })
}

/// Whether bitask_open fails with BITASK_ERR_EXISTS when the directory already holds a store
/// (default false): for programs that must start from an empty store. Nothing is changed
/// on disk when it fails.
///
/// Returns BITASK_OK, or BITASK_ERR_INVALID_ARGUMENT (opts NULL). Thread safety: one thread at
/// a time per options object.
#[no_mangle]
pub extern "C" fn bitask_options_set_error_if_exists(
    opts: *mut bitask_options,
    fail_if_exists: bool,
) -> bitask_status {
    with_opts(opts, |o| {
        o.error_if_exists = fail_if_exists;
        Ok(())
    })
}

/// Whether a writer's handle merges on its own (default true): a background thread of the
/// handle looks at the store every second and, when dead records pass the triggers (at
/// least 16 MiB dead and half the sealed files' records, or 512 MiB), merges the oldest data
/// files into new ones holding only their live records, at most 1 GiB of them at a time,
/// at most BITASK_DEFAULT_MERGE_BYTES_PER_SEC, and only when the file system has room for
/// what it writes. Writers never wait for it; bitask_close stops a merge in progress. With
/// false, space comes back only through bitask_compact. bitask_needs_merge reports what a
/// merge would take. Read-only handles never merge.
///
/// Returns BITASK_OK, or BITASK_ERR_INVALID_ARGUMENT (opts NULL). Thread safety: one thread at
/// a time per options object.
#[no_mangle]
pub extern "C" fn bitask_options_set_auto_merge(
    opts: *mut bitask_options,
    on: bool,
) -> bitask_status {
    with_opts(opts, |o| {
        o.auto_merge = on;
        Ok(())
    })
}

/// Default pace of the automatic merge, in bytes read plus written per second (128 MiB/s).
pub const BITASK_DEFAULT_MERGE_BYTES_PER_SEC: u64 = 128 << 20;

/// Sets the pace of the automatic merge: at most bytes_per_sec bytes read plus written per
/// second (default BITASK_DEFAULT_MERGE_BYTES_PER_SEC; 0: as fast as the disk goes), plus 4
/// bytes for each byte the writer fills meanwhile, so that a writer faster than the pace
/// never outruns the merge. The merge thread sleeps to keep to it; writers never wait for
/// it.
///
/// Returns BITASK_OK, or BITASK_ERR_INVALID_ARGUMENT (opts NULL). Thread safety: one thread at
/// a time per options object.
#[no_mangle]
pub extern "C" fn bitask_options_set_merge_bytes_per_sec(
    opts: *mut bitask_options,
    bytes_per_sec: u64,
) -> bitask_status {
    with_opts(opts, |o| {
        o.merge_bytes_per_sec = bytes_per_sec;
        Ok(())
    })
}

/// Sets the size of the automatic merge's output files, in bytes: from 64 to 2147483648
/// (2 GiB); the default is 256 MiB, larger than the written files so that a merged store
/// has fewer files. bitask_compact keeps writing files of the max_file_size.
///
/// Returns BITASK_OK, or BITASK_ERR_INVALID_ARGUMENT (opts NULL, size out of range; the
/// options are unchanged). Thread safety: one thread at a time per options object.
#[no_mangle]
pub extern "C" fn bitask_options_set_merge_output_file_size(
    opts: *mut bitask_options,
    bytes: u64,
) -> bitask_status {
    with_opts(opts, |o| {
        if !(MIN_MAX_FILE_SIZE..=MAX_MERGE_OUTPUT_SIZE).contains(&bytes) {
            return Err(fail(
                BITASK_ERR_INVALID_ARGUMENT,
                format!(
                    "merge output file size {bytes} is outside \
                     {MIN_MAX_FILE_SIZE}..={MAX_MERGE_OUTPUT_SIZE}"
                ),
            ));
        }
        o.merge_output_file_size = bytes;
        Ok(())
    })
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    #[test]
    fn merge_options_reach_the_rust_options() {
        let o = bitask_options_new();
        assert_eq!(bitask_options_set_auto_merge(o, false), BITASK_OK);
        assert_eq!(bitask_options_set_merge_bytes_per_sec(o, 7), BITASK_OK);
        assert_eq!(
            bitask_options_set_merge_output_file_size(o, 63),
            BITASK_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            bitask_options_set_merge_output_file_size(o, 1 << 20),
            BITASK_OK
        );
        // SAFETY: o came from bitask_options_new and is not freed yet.
        let rust = unsafe { &*o }.to_options();
        assert!(!rust.auto_merge);
        assert_eq!(rust.merge.bytes_per_sec, 7);
        assert_eq!(rust.merge.output_file_size, 1 << 20);
        assert_eq!(
            bitask_options_set_auto_merge(std::ptr::null_mut(), true),
            BITASK_ERR_INVALID_ARGUMENT
        );
        bitask_options_free(o);
        assert_eq!(
            MergeOptions::default().bytes_per_sec,
            BITASK_DEFAULT_MERGE_BYTES_PER_SEC
        );
    }
}
