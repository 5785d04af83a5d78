//! Generates the C header from `src/ffi/` with cbindgen, and gives the shared library its
//! SONAME.
//!
//! The header goes to `$OUT_DIR/bitask.h`; the test `tests/header.rs` fails when the
//! committed `include/bitask.h` differs from it. `BITASK_UPDATE_HEADER=1 cargo build` (what
//! `make header` runs) also writes it to `include/bitask.h`.

use std::env;
use std::path::PathBuf;

/// Major version of the C ABI: the `0` of `libbitask.so.0`. Independent of the crate's
/// version; bumped only when a released function's signature or meaning changes.
const ABI_MAJOR: u32 = 0;

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=BITASK_UPDATE_HEADER");
    // tests/c_harness.rs asks the cc crate for the C compiler of this target.
    println!(
        "cargo:rustc-env=BITASK_TARGET={}",
        env::var("TARGET").unwrap()
    );
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libbitask.so.{ABI_MAJOR}");
    }

    let mut config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let version = env::var("CARGO_PKG_VERSION").unwrap();
    let field = |name: &str| env::var(name).unwrap();
    config.after_includes = Some(format!(
        "\n/** Version of the header: compare with bitask_version() at run time. */\n\
         #define BITASK_VERSION_MAJOR {}\n\
         #define BITASK_VERSION_MINOR {}\n\
         #define BITASK_VERSION_PATCH {}\n\
         #define BITASK_VERSION_STRING \"{version}\"\n\
         /** Major version of the ABI, the N of the SONAME libbitask.so.N. */\n\
         #define BITASK_ABI_MAJOR {ABI_MAJOR}\n",
        field("CARGO_PKG_VERSION_MAJOR"),
        field("CARGO_PKG_VERSION_MINOR"),
        field("CARGO_PKG_VERSION_PATCH"),
    ));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .expect("generating the C header from src/ffi");
    bindings.write_to_file(out.join("bitask.h"));
    if env::var_os("BITASK_UPDATE_HEADER").is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::create_dir_all(root.join("include")).expect("creating include/");
        bindings.write_to_file(root.join("include/bitask.h"));
    }
}
