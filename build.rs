//! Gives the shared library its SONAME, and the tests the target and ABI major they check.
//!
//! The C header is not made here: `tests/header.rs` generates it from `src/ffi/` with
//! cbindgen (a dev-dependency, so building the library needs neither it nor its own
//! dependencies) and fails when the committed `include/bitask.h` differs;
//! `BITASK_UPDATE_HEADER=1` (what `make header` sets) makes that test write it instead.

use std::env;

/// Major version of the C ABI: the `0` of `libbitask.so.0`. Independent of the crate's
/// version; bumped only when a released function's signature or meaning changes.
const ABI_MAJOR: u32 = 0;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // tests/c_harness.rs asks the cc crate for the C compiler of this target.
    println!(
        "cargo:rustc-env=BITASK_TARGET={}",
        env::var("TARGET").unwrap()
    );
    // tests/header.rs writes it into the header's BITASK_ABI_MAJOR.
    println!("cargo:rustc-env=BITASK_ABI_MAJOR={ABI_MAJOR}");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libbitask.so.{ABI_MAJOR}");
    }
}
