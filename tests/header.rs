//! The committed header is what cbindgen generates from `src/ffi/`, and the README shows the
//! example that the tests compile.
//!
//! The header is generated here rather than in build.rs, so that building the library needs no
//! cbindgen; `BITASK_UPDATE_HEADER=1` (what `make header` sets) writes it to
//! `include/bitask.h` instead of failing on a difference.

use std::path::Path;
use std::sync::OnceLock;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The header cbindgen makes from `src/ffi/` with `cbindgen.toml`, plus the version macros.
fn generated_header() -> &'static str {
    static HEADER: OnceLock<String> = OnceLock::new();
    HEADER.get_or_init(|| {
        let root = Path::new(ROOT);
        let mut config =
            cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
        config.after_includes = Some(format!(
            "\n/** Version of the header: compare with bitask_version() at run time. */\n\
             #define BITASK_VERSION_MAJOR {}\n\
             #define BITASK_VERSION_MINOR {}\n\
             #define BITASK_VERSION_PATCH {}\n\
             #define BITASK_VERSION_STRING \"{}\"\n\
             /** Major version of the ABI, the N of the SONAME libbitask.so.N. */\n\
             #define BITASK_ABI_MAJOR {}\n",
            env!("CARGO_PKG_VERSION_MAJOR"),
            env!("CARGO_PKG_VERSION_MINOR"),
            env!("CARGO_PKG_VERSION_PATCH"),
            env!("CARGO_PKG_VERSION"),
            env!("BITASK_ABI_MAJOR"),
        ));
        let bindings = cbindgen::Builder::new()
            .with_config(config)
            .with_src(root.join("src/ffi/mod.rs"))
            .generate()
            .expect("generating the C header from src/ffi");
        let mut out = Vec::new();
        bindings.write(&mut out);
        String::from_utf8(out).expect("the header is UTF-8")
    })
}

#[test]
fn committed_header_is_up_to_date() {
    let generated = generated_header();
    let path = Path::new(ROOT).join("include/bitask.h");
    if std::env::var_os("BITASK_UPDATE_HEADER").is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::write(&path, generated).expect("writing include/bitask.h");
    }
    let committed = std::fs::read_to_string(&path).expect("include/bitask.h");
    assert!(
        committed == generated,
        "include/bitask.h differs from the header generated from src/ffi/: run `make header` \
         (or BITASK_UPDATE_HEADER=1 cargo test --test header) and commit the result"
    );
}

#[test]
fn header_versions_follow_the_crate() {
    let header = generated_header();
    let version = env!("CARGO_PKG_VERSION");
    assert!(header.contains(&format!("#define BITASK_VERSION_STRING \"{version}\"")));
    let parts: Vec<&str> = version.split('.').collect();
    for (name, value) in ["MAJOR", "MINOR", "PATCH"].iter().zip(&parts) {
        assert!(
            header.contains(&format!("#define BITASK_VERSION_{name} {value}\n")),
            "{name}"
        );
    }
}

#[test]
fn header_has_nothing_cgo_or_zig_cannot_take() {
    let header = generated_header();
    assert!(header.contains("#ifdef __cplusplus\nextern \"C\" {"));
    assert!(!header.contains("..."), "variadic function");
    assert!(!header.contains("union"), "union");
    for line in header.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("#define ") {
            let name = rest.split_whitespace().next().unwrap_or("");
            assert!(!name.contains('('), "function-like macro: {line}");
        }
        assert!(
            !(t.contains(':') && t.ends_with(';') && t.contains("uint")),
            "bitfield: {line}"
        );
    }
}

#[test]
fn readme_embeds_the_tested_example() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).expect("README.md");
    let example = std::fs::read_to_string(Path::new(ROOT).join("c_tests/readme_example.c"))
        .expect("c_tests/readme_example.c");
    let block = format!("```c\n{example}```\n");
    assert!(
        readme.contains(&block),
        "README.md must contain c_tests/readme_example.c verbatim in a ```c block"
    );
}

/// The header promises nothing the engine does not do: a durable put or remove whose fsync
/// fails has written its record (see `a_failed_durable_put_stays_visible_and_stops_the_handle`
/// in tests/group_commit.rs), so "nothing is written" must not be said of every error, and
/// the two functions must say what such a failure leaves.
#[test]
fn the_header_says_what_a_failed_fsync_leaves() {
    let header = generated_header();
    assert!(
        !header.contains("On any error nothing is written"),
        "the header says a failed fsync writes nothing"
    );
    for function in ["bitask_put", "bitask_remove"] {
        let comment = header
            .split(&format!(" {function}("))
            .next()
            .and_then(|before| before.rsplit("/**").next())
            .unwrap_or("");
        let words: Vec<&str> = comment.split_whitespace().filter(|w| *w != "*").collect();
        let text = words.join(" ").to_lowercase();
        for needed in ["fsync", "fails", "readers of this handle", "after a reopen"] {
            assert!(
                text.contains(needed),
                "{function}: its comment must say what a failed fsync leaves visible (no \"{needed}\")"
            );
        }
    }
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).expect("README.md");
    assert!(
        !readme.contains("a write that failed, leaves the store as it was: nothing is written"),
        "README.md says a failed fsync writes nothing"
    );
}
