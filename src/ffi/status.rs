//! Status codes, how engine errors map to them, and the thread-local detailed message of the
//! last failure (read through `messages`).

use std::cell::RefCell;

use crate::error::Error;

/// The result of a bitask call. Every function that can fail returns one of these; it has
/// the size of an int.
///
/// The numbers are part of the ABI: a code is never renumbered, and a retired code is never
/// given to another meaning. Functions that take a code from C (bitask_strerror) take a plain
/// int, so any value may be passed.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum bitask_status {
    /// Success.
    BITASK_OK = 0,
    /// The key is not in the store (bitask_get, bitask_get_into, bitask_contains,
    /// bitask_remove), or an iterator has no more entries. Not an error: nothing went wrong.
    BITASK_NOT_FOUND = 1,
    /// bitask_get_into: the caller's buffer is shorter than the value; the value's length was
    /// stored in *value_len_out and nothing was copied.
    BITASK_BUFFER_TOO_SMALL = 2,
    /// An argument was rejected (a NULL pointer, an empty key, a NULL pointer with a non-zero
    /// length, an unknown mode, a value out of range). Nothing was written.
    BITASK_ERR_INVALID_ARGUMENT = 3,
    /// Another handle, in this process or another, holds the store's writer lock. Open it
    /// read-only, or close the other writer.
    BITASK_ERR_WRITER_LOCK = 4,
    /// A write (put, remove, compact) was attempted on a handle opened read-only.
    BITASK_ERR_READ_ONLY = 5,
    /// The operating system failed an operation (the message names the file and the error),
    /// or the handle stopped accepting writes after an earlier failure it cannot undo (a
    /// failed fsync): close it and open the store again.
    BITASK_ERR_IO = 6,
    /// Stored data failed its checksum or is malformed; the message names the file and offset.
    BITASK_ERR_CORRUPTION = 7,
    /// A key or value is longer than BITASK_MAX_KEY_LEN or BITASK_MAX_VALUE_LEN. Nothing was
    /// written.
    BITASK_ERR_TOO_LARGE = 8,
    /// A bug inside the library (a caught panic). The call had no effect that can be relied
    /// on; the process is not aborted.
    BITASK_ERR_INTERNAL = 9,
    /// A file in the directory is not one the library can prove it wrote: a newer format
    /// version, a file of another program or of bitask 0.1.1, a file of another store, or a
    /// non-regular file under a store's file name. The message names the file; nothing was
    /// changed on disk.
    BITASK_ERR_INCOMPATIBLE = 10,
    /// A file or directory the call needs does not exist (ENOENT): a read-only open of a
    /// missing directory, a missing parent directory, a writer's open of a missing directory
    /// without create_if_missing. The message names the path.
    BITASK_ERR_NO_SUCH_PATH = 11,
    /// The operating system refused access (EACCES, EPERM, EROFS). The message names the
    /// path.
    BITASK_ERR_PERMISSION = 12,
    /// The store's path, or a component of it, is not a directory (ENOTDIR).
    BITASK_ERR_NOT_A_DIRECTORY = 13,
    /// The file system is full or over quota (ENOSPC, EDQUOT). Nothing was written; the
    /// handle keeps working, and writes succeed again once space is freed.
    BITASK_ERR_NO_SPACE = 14,
    /// The directory already holds a store, and the open asked for a new one
    /// (bitask_options_set_error_if_exists). Nothing was changed.
    BITASK_ERR_EXISTS = 15,
    /// bitask_put_if_absent: the key has a value; nothing was written. Not an error.
    BITASK_KEY_EXISTS = 16,
    /// bitask_compare_and_set: the key's value (or its absence) is not the one expected;
    /// nothing was written. Not an error.
    BITASK_MISMATCH = 17,
}

use bitask_status::*;

thread_local! {
    pub(super) static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records `message` as the calling thread's last error and returns `status`.
pub(crate) fn fail(status: bitask_status, message: impl Into<String>) -> bitask_status {
    let message = message.into();
    LAST_ERROR.with(|m| *m.borrow_mut() = message);
    status
}

/// The status an engine error maps to; records the error's message.
pub(crate) fn from_error(e: Error) -> bitask_status {
    let status = match &e {
        Error::KeyNotFound => BITASK_NOT_FOUND,
        Error::WriterLock => BITASK_ERR_WRITER_LOCK,
        Error::ReadOnly => BITASK_ERR_READ_ONLY,
        Error::InvalidArgument(_) | Error::InvalidEmptyKey => BITASK_ERR_INVALID_ARGUMENT,
        Error::TooLarge { .. } => BITASK_ERR_TOO_LARGE,
        Error::Io { source, .. } => io_status(source),
        Error::Stopped(_) | Error::TooManyFiles { .. } => BITASK_ERR_IO,
        Error::Corruption { .. } => BITASK_ERR_CORRUPTION,
        Error::Incompatible { .. } => BITASK_ERR_INCOMPATIBLE,
        Error::Exists(_) => BITASK_ERR_EXISTS,
    };
    fail(status, detail(&e))
}

/// The message a C caller reads beside the status: what bitask_strerror says of the status
/// is not said again (a program prints both).
fn detail(e: &Error) -> String {
    match e {
        Error::Corruption {
            path,
            offset,
            reason,
        } => format!("{} at offset {offset}: {reason}", path.display()),
        Error::WriterLock => "open the store read-only, or close the other writer".into(),
        Error::Incompatible { path, reason } => format!("{}: {reason}", path.display()),
        _ => e.to_string(),
    }
}

/// The status of a failed bitask_open of `dir`; the writer lock's message names its file.
pub(crate) fn from_open_error(e: Error, dir: &std::path::Path) -> bitask_status {
    match e {
        Error::WriterLock => fail(
            BITASK_ERR_WRITER_LOCK,
            format!(
                "{} is held by another handle: open the store read-only, or close the other \
                 writer",
                dir.join(crate::filename::LOCK_FILE).display()
            ),
        ),
        e => from_error(e),
    }
}

/// The status of an operating system error a program may want to act on; any other is
/// BITASK_ERR_IO.
fn io_status(e: &std::io::Error) -> bitask_status {
    match e.raw_os_error() {
        Some(libc::ENOENT) => BITASK_ERR_NO_SUCH_PATH,
        Some(libc::EACCES | libc::EPERM | libc::EROFS) => BITASK_ERR_PERMISSION,
        Some(libc::ENOTDIR) => BITASK_ERR_NOT_A_DIRECTORY,
        Some(libc::ENOSPC | libc::EDQUOT) => BITASK_ERR_NO_SPACE,
        _ => match e.kind() {
            std::io::ErrorKind::NotFound => BITASK_ERR_NO_SUCH_PATH,
            std::io::ErrorKind::PermissionDenied => BITASK_ERR_PERMISSION,
            _ => BITASK_ERR_IO,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::messages::{bitask_last_error_message, bitask_strerror, bitask_version};
    use std::ffi::c_char;
    use std::ffi::CStr;

    #[test]
    fn every_code_has_a_description() {
        for code in -1..=18 {
            // SAFETY: bitask_strerror returns a static NUL-terminated string.
            let s = unsafe { CStr::from_ptr(bitask_strerror(code)) };
            assert!(!s.to_bytes().is_empty());
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(bitask_strerror(18)) };
        assert_eq!(unknown.to_bytes(), b"unknown status code");
    }

    #[test]
    fn last_error_message_truncates_and_reports_full_length() {
        fail(BITASK_ERR_IO, "0123456789");
        let mut buf = [0x55 as c_char; 4];
        assert_eq!(bitask_last_error_message(buf.as_mut_ptr(), 4), 10);
        // SAFETY: the call NUL-terminated buf.
        let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(s.to_bytes(), b"012");
        assert_eq!(bitask_last_error_message(std::ptr::null_mut(), 100), 10);
        assert_eq!(bitask_last_error_message(buf.as_mut_ptr(), 0), 10);
        assert_eq!(buf[0], b'0' as c_char);
    }

    #[test]
    fn messages_do_not_repeat_the_status_description() {
        let e = Error::Corruption {
            path: "/db/7.log".into(),
            offset: 52,
            reason: "record checksum mismatch".into(),
        };
        assert_eq!(from_error(e), BITASK_ERR_CORRUPTION);
        let mut buf = [0 as c_char; 128];
        bitask_last_error_message(buf.as_mut_ptr(), buf.len());
        // SAFETY: the call NUL-terminated buf.
        let msg = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
        assert_eq!(msg, "/db/7.log at offset 52: record checksum mismatch");
        let st = from_open_error(Error::WriterLock, std::path::Path::new("/db"));
        assert_eq!(st, BITASK_ERR_WRITER_LOCK);
        bitask_last_error_message(buf.as_mut_ptr(), buf.len());
        // SAFETY: as above.
        let msg = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
        assert!(
            msg.starts_with("/db/db.lock is held by another handle"),
            "{msg}"
        );
    }

    #[test]
    fn operating_system_errors_map_to_their_own_statuses() {
        let os = |code| std::io::Error::from_raw_os_error(code);
        assert_eq!(io_status(&os(libc::ENOENT)), BITASK_ERR_NO_SUCH_PATH);
        assert_eq!(io_status(&os(libc::EACCES)), BITASK_ERR_PERMISSION);
        assert_eq!(io_status(&os(libc::EPERM)), BITASK_ERR_PERMISSION);
        assert_eq!(io_status(&os(libc::ENOTDIR)), BITASK_ERR_NOT_A_DIRECTORY);
        assert_eq!(io_status(&os(libc::ENOSPC)), BITASK_ERR_NO_SPACE);
        assert_eq!(io_status(&os(libc::EDQUOT)), BITASK_ERR_NO_SPACE);
        assert_eq!(io_status(&os(libc::EIO)), BITASK_ERR_IO);
    }

    #[test]
    fn messages_are_per_thread() {
        fail(BITASK_ERR_IO, "main thread");
        std::thread::spawn(|| {
            assert_eq!(bitask_last_error_message(std::ptr::null_mut(), 0), 0);
        })
        .join()
        .unwrap();
        assert_eq!(bitask_last_error_message(std::ptr::null_mut(), 0), 11);
    }

    #[test]
    fn version_matches_the_crate() {
        // SAFETY: bitask_version returns a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(bitask_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
