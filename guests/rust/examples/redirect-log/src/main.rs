//! `redirect-log`: keeps a run log in a directory you grant for writing
//! (a redirect that writes needs `--allow-write`, as a child would). Redirection:
//! files (truncate and append), stderr merged into stdout, null, and a
//! file as stdin.
//!
//! `procbox run redirect-log.wasm --manifest redirect-log.manifest.toml --allow-write DIR --allow-run date --allow-run sh --allow-run 'wc -l' -- DIR`

use procbox_sdk::{Command, Error, Stdio};

fn main() {
    if let Err(err) = run() {
        eprintln!("redirect-log: {err}");
        procbox_sdk::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| Error::InvalidInput("usage: redirect-log DIR".into()))?;
    let log = format!("{dir}/run.log");
    // A fresh log, then appended lines; the bytes go straight to the file.
    Command::new("date")
        .arg("+started %Y")
        .stdout(Stdio::file(&log))
        .status()?;
    Command::new("sh")
        .args(["-c", "echo step one; echo 'a warning' >&2; echo step two"])
        .stdout(Stdio::append(&log))
        .stderr_to_stdout()
        .status()?;
    // Output nobody needs goes to null.
    Command::new("date").stdout(Stdio::null()).status()?;
    // The log as stdin of the next command.
    let lines = Command::new("wc").arg("-l").stdin(Stdio::file(&log)).read()?;
    println!("{log} has {lines} lines");
    Ok(())
}
