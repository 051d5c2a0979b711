//! The test guests: one small plugin per end-to-end scenario, in
//! `src/bin/NAME.rs`. Each runs its scenario against real processes and
//! checks what it observed with `assert!`: a guest that exits 0 saw what
//! the scenario promises; a failed check panics (the plugin traps, and the
//! panic message is on its stderr). The host-side test, in `tests/tests/`,
//! checks the exit status and whatever the host can see (files, processes).
//!
//! This file holds only what several guests share.

use std::io::{BufRead, BufReader};

use procbox_sdk::{Child, Command, Error, Stdio};

/// Runs a scenario. An error it returns (`?` on a spawn the scenario
/// expects to work) is printed as `error: MESSAGE` on stderr and fails the
/// guest with exit code 1.
pub fn run(scenario: impl FnOnce(&[String]) -> Result<(), Error>) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(err) = scenario(&args) {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

/// The first argument as a size in MiB (default 1), in bytes.
pub fn mib(args: &[String]) -> usize {
    args.first().map_or(1, |a| a.parse().expect("a number of MiB")) * 1024 * 1024
}

/// Deterministic, incompressible-looking test data.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Starts a tree: a child, a grandchild in its process group, and one that
/// escaped the group with setsid. Prints `child= grandchild= escaped=` so
/// that the host can check that none of them survives the plugin.
pub fn start_tree() -> Result<Child, Error> {
    let mut child = Command::new("sh")
        .args([
            "-c",
            "/usr/bin/setsid /usr/bin/sleep 1000 & echo $!; /usr/bin/sleep 1000 & echo $!; exec /usr/bin/sleep 1000",
        ])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let escaped = lines.next().transpose()?.unwrap_or_default();
    let grandchild = lines.next().transpose()?.unwrap_or_default();
    println!("child={} grandchild={grandchild} escaped={escaped}", child.id());
    Ok(child)
}
