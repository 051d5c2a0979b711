//! `sysinfo`: what machine is this? The command builder (environment,
//! working directory, timeouts, unchecked) and errors with context.
//!
//! `procbox run sysinfo.wasm --manifest sysinfo.manifest.toml --allow-run uname --allow-run id --allow-run ls --allow-env LC_ALL=C`

use std::time::Duration;

use procbox_sdk::{Command, Error};

fn main() {
    if let Err(err) = run() {
        eprintln!("sysinfo: {err}");
        procbox_sdk::exit(1);
    }
}

fn run() -> Result<(), Error> {
    // read(): stdout as trimmed text; a non-zero exit would be an error.
    let kernel = Command::new("uname")
        .args(["-s", "-r"])
        .timeout(Duration::from_secs(5))
        .read()?;
    let user = Command::new("id").arg("-un").env("LC_ALL", "C").read()?;
    println!("kernel: {kernel}");
    println!("user: {user}");
    // unchecked(): a failure is a status to look at, not an error.
    let status = Command::new("ls").arg("/nonexistent-sysinfo").unchecked().status()?;
    println!("ls of a missing path: {status}");
    // Checked (the default): the error says what ran, how it ended, and
    // the end of its stderr.
    match Command::new("ls").arg("/nonexistent-sysinfo").output() {
        Err(err @ Error::Failed(_)) => println!("as an error:\n{err}"),
        other => println!("unexpected: {other:?}"),
    }
    Ok(())
}
