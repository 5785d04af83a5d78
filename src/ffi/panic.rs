//! The panic boundary. Every `extern "C"` function runs its body inside [`boundary`], so a
//! panic never unwinds into C (which is undefined behaviour): it becomes
//! `BITASK_ERR_INTERNAL` (or the function's documented failure value) and a message.

use std::any::Any;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::status::{bitask_status, fail};

/// What a function returns when its body panicked.
pub(crate) trait OnPanic {
    fn on_panic() -> Self;
}

impl OnPanic for bitask_status {
    fn on_panic() -> Self {
        bitask_status::BITASK_ERR_INTERNAL
    }
}

impl OnPanic for () {
    fn on_panic() -> Self {}
}

impl OnPanic for usize {
    fn on_panic() -> Self {
        0
    }
}

impl<T> OnPanic for *mut T {
    fn on_panic() -> Self {
        std::ptr::null_mut()
    }
}

impl OnPanic for *const c_void {
    fn on_panic() -> Self {
        std::ptr::null()
    }
}

/// Raised (without the panic hook's report) when `malloc` fails inside a call, and turned
/// into `BITASK_ERR_IO` by [`boundary`] rather than reported as a bug.
pub(crate) struct OutOfMemory(pub usize);

/// Unwinds out of the current call because `malloc(len)` failed.
pub(crate) fn out_of_memory(len: usize) -> ! {
    std::panic::resume_unwind(Box::new(OutOfMemory(len)))
}

/// Runs `f`, turning a panic into `T::on_panic()` and a last-error message.
pub(crate) fn boundary<T: OnPanic>(f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            record(payload);
            T::on_panic()
        }
    }
}

/// Like [`boundary`] for the functions returning a status, whose bodies use `?` on
/// `Result<(), bitask_status>` (each error's message is recorded where it is made). A failed
/// `malloc` gives `BITASK_ERR_IO`, any other panic `BITASK_ERR_INTERNAL`.
pub(crate) fn status_boundary(f: impl FnOnce() -> Result<(), bitask_status>) -> bitask_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => bitask_status::BITASK_OK,
        Ok(Err(status)) => status,
        Err(payload) => {
            let oom = payload.is::<OutOfMemory>();
            record(payload);
            if oom {
                bitask_status::BITASK_ERR_IO
            } else {
                bitask_status::BITASK_ERR_INTERNAL
            }
        }
    }
}

fn record(payload: Box<dyn Any + Send>) {
    if let Some(OutOfMemory(len)) = payload.downcast_ref::<OutOfMemory>() {
        fail(
            bitask_status::BITASK_ERR_IO,
            format!("out of memory: malloc({len}) failed"),
        );
        return;
    }
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown payload".into());
    fail(
        bitask_status::BITASK_ERR_INTERNAL,
        format!("internal error (a bug in bitask): {what}"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::messages::bitask_last_error_message;

    fn message() -> String {
        let mut buf = vec![0 as std::ffi::c_char; 256];
        let n = bitask_last_error_message(buf.as_mut_ptr(), buf.len());
        buf[..n].iter().map(|&c| c as u8 as char).collect()
    }

    #[test]
    fn a_panic_becomes_internal_error() {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let s = status_boundary(|| panic!("boom"));
        let p: *mut u8 = boundary(|| panic!("boom {}", 2));
        std::panic::set_hook(prev);
        assert_eq!(s, bitask_status::BITASK_ERR_INTERNAL);
        assert!(p.is_null());
        assert!(message().contains("boom 2"), "{}", message());
    }

    #[test]
    fn out_of_memory_is_an_io_error() {
        let s = status_boundary(|| out_of_memory(12345));
        assert_eq!(s, bitask_status::BITASK_ERR_IO);
        assert!(message().contains("malloc(12345)"), "{}", message());
    }
}
