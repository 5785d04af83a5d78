//! The `src/main.rs` of the scratch package in which `run-0.1.1-tests.sh` runs bitask 0.1.1's
//! tests. Those tests drive 0.1.1's tool with `cargo run -- put --key K --value V` and
//! `cargo run -- ask --key K`; this program replaces itself with this project's `bitask`
//! (the path in BITASK_COMPAT_CLI) with the same arguments and environment, so they test the
//! real tool, exit status and output included.

use std::os::unix::process::CommandExt;
use std::process::{exit, Command};

fn main() {
    let Some(cli) = std::env::var_os("BITASK_COMPAT_CLI") else {
        eprintln!("compat shim: BITASK_COMPAT_CLI must name the bitask tool to run");
        exit(2);
    };
    // exec only returns on failure.
    let err = Command::new(&cli).args(std::env::args_os().skip(1)).exec();
    eprintln!("compat shim: cannot run {}: {err}", cli.to_string_lossy());
    exit(2);
}
