//! Command output on stdout that survives its reader going away.
//!
//! `println!` panics when stdout is a closed pipe (`procbox inspect X | head`),
//! and procbox keeps SIGPIPE ignored so that it can always kill its children
//! before it exits. A reader that stopped reading has what it wanted, so a
//! broken pipe ends the output quietly; any other write error (a full disk)
//! is a failure.

use std::io::Write;

use super::failure::Failure;

/// Writes `text` to stdout in one go.
///
/// # Errors
/// If stdout cannot be written for any reason but a closed pipe.
pub fn emit(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::procbox(
            anyhow::Error::new(e).context("cannot write to stdout"),
        )),
        _ => Ok(()),
    }
}
