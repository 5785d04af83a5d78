//! Compiles the C tests in `c_tests/`, the C++ header test, the README's example and the
//! command-line tool against the shared library this `cargo test` just built, with
//! `-Wall -Wextra -Werror`, and runs them. The compiler comes from the `cc` crate (so `CC`,
//! `CXX` and `CFLAGS` are honoured). `make test` runs the same programs again under valgrind
//! and with AddressSanitizer and UndefinedBehaviorSanitizer.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

struct Harness {
    /// Where the programs go, beside symlinks to the library under its file and SONAME names.
    out: PathBuf,
    /// The freshly built shared library.
    lib: PathBuf,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        // This test runs from <target>/<profile>/deps/, where `cargo test` also leaves the
        // cdylib it built for this run (it copies it up to <target>/<profile>/ only for
        // `cargo build`, so the copy there may be stale).
        let exe = std::env::current_exe().unwrap();
        let deps = exe.parent().unwrap().to_path_buf();
        let profile = deps.parent().unwrap().to_path_buf();
        let lib = deps.join("libbitask.so");
        assert!(
            lib.exists(),
            "{} is missing: the cdylib was not built",
            lib.display()
        );
        let out = profile.join("c_harness");
        std::fs::create_dir_all(&out).unwrap();
        // Programs record the SONAME, libbitask.so.0, and find it through an $ORIGIN rpath.
        for name in ["libbitask.so", "libbitask.so.0"] {
            let tmp = out.join(format!(".{name}.{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(&lib, &tmp).unwrap();
            std::fs::rename(&tmp, out.join(name)).unwrap();
        }
        Harness { out, lib }
    })
}

fn compiler(cpp: bool) -> cc::Tool {
    cc::Build::new()
        .cpp(cpp)
        .target(env!("BITASK_TARGET"))
        .host(env!("BITASK_TARGET"))
        .opt_level(1)
        .debug(true)
        .cargo_metadata(false)
        .warnings(false)
        .get_compiler()
}

/// Compiles `sources` (paths relative to the repository) into the program `name`.
fn build(name: &str, sources: &[&str], cpp: bool) -> PathBuf {
    let h = harness();
    let exe = h.out.join(name);
    let mut cmd = compiler(cpp).to_command();
    cmd.arg(if cpp { "-std=c++17" } else { "-std=c11" })
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-pthread"])
        .arg(format!("-I{ROOT}/include"))
        .args(sources.iter().map(|s| Path::new(ROOT).join(s)))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", h.out.display()))
        .arg("-lbitask")
        .arg("-Wl,-rpath,$ORIGIN");
    let output = cmd.output().expect("running the C compiler");
    assert!(
        output.status.success(),
        "compiling {name} failed:\n{}",
        text(&output)
    );
    exe
}

fn text(o: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs a program with a fresh scratch directory as its argument; it must exit 0.
fn run_in_scratch(exe: &Path) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(exe).arg(dir.path()).output().unwrap();
    assert!(
        output.status.success(),
        "{} failed:\n{}",
        exe.display(),
        text(&output)
    );
    print!("{}", String::from_utf8_lossy(&output.stdout));
    output
}

#[test]
fn c_api() {
    run_in_scratch(&build("test_api", &["c_tests/test_api.c"], false));
}

#[test]
fn c_hostile_arguments() {
    run_in_scratch(&build("test_hostile", &["c_tests/test_hostile.c"], false));
}

#[test]
fn c_threads() {
    run_in_scratch(&build("test_threads", &["c_tests/test_threads.c"], false));
}

#[test]
fn c_two_processes() {
    run_in_scratch(&build(
        "test_multiprocess",
        &["c_tests/test_multiprocess.c"],
        false,
    ));
}

#[test]
fn c_upgrade_from_0_1_1() {
    run_in_scratch(&build("test_upgrade", &["c_tests/test_upgrade.c"], false));
}

#[test]
fn c_backup_verify_and_repair() {
    run_in_scratch(&build("test_tools", &["c_tests/test_tools.c"], false));
}

#[test]
fn cpp_includes_the_header() {
    let exe = build("test_cpp", &["c_tests/test_cpp.cpp"], true);
    let output = Command::new(&exe).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn readme_example_runs() {
    let exe = build("readme_example", &["c_tests/readme_example.c"], false);
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(&exe)
        .arg(dir.path().join("db"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let out = String::from_utf8(output.stdout).unwrap();
    assert!(out.contains("fruit:apple = red\n"), "{out}");
    assert!(
        out.contains("fruit:apple -> red\nfruit:banana -> yellow\n"),
        "{out}"
    );
    assert!(out.contains("remove it again: not found\n"), "{out}");
    assert!(out.contains("2 keys"), "{out}");
}

#[test]
fn command_line_tool() {
    let exe = build("bitask", &["cli/bitask.c"], false);
    let output = Command::new("bash")
        .arg(Path::new(ROOT).join("c_tests/cli_test.sh"))
        .arg(&exe)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn exports_exactly_the_listed_symbols() {
    let output = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&harness().lib)
        .output()
        .expect("running nm");
    assert!(output.status.success(), "{}", text(&output));
    let mut exported: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect();
    exported.sort();
    let listed = std::fs::read_to_string(Path::new(ROOT).join("c_tests/symbols.txt")).unwrap();
    let listed: Vec<&str> = listed.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        exported, listed,
        "the library's exports differ from c_tests/symbols.txt (update the list when adding a function)"
    );
}

#[test]
fn soname_is_the_abi_major() {
    let output = Command::new("readelf")
        .arg("-d")
        .arg(&harness().lib)
        .output()
        .expect("readelf");
    let dynamic = String::from_utf8_lossy(&output.stdout);
    assert!(
        dynamic.contains("Library soname: [libbitask.so.0]"),
        "{dynamic}"
    );
}
