//! Command output on stdout that survives its reader going away, and
//! warnings on stderr.
//!
//! `println!` panics when stdout is a closed pipe (`procbox inspect X | head`),
//! and procbox keeps SIGPIPE ignored so that it can always kill its children
//! before it exits. A reader that stopped reading has what it wanted, so a
//! broken pipe ends the output quietly; any other write error (a full disk)
//! is a failure.

use std::io::Write;

use super::failure::{one_line, Failure};

/// Writes `text` to stdout in one go.
///
/// # Errors
/// If stdout cannot be written for any reason but a closed pipe.
pub fn emit(text: &str) -> Result<(), Failure> {
    emit_bytes(text.as_bytes())
}

/// [`emit`] for bytes (a completion script, a man page).
pub fn emit_bytes(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::procbox(
            anyhow::Error::new(e).context("cannot write to stdout"),
        )),
        _ => Ok(()),
    }
}

/// `procbox: warning: MESSAGE` as one line on stderr: something procbox
/// lets pass but the user should know (an unsafe cache directory, a
/// manifest request that cannot match). It is shown whatever `PROCBOX_LOG`
/// says, which governs the log only.
pub fn warning(message: impl std::fmt::Display) {
    stderr_line(&format!("procbox: warning: {}", one_line(&message.to_string())));
}

/// One line on stderr. A stderr that cannot be written (a terminal that hung
/// up, which is also what SIGHUP reports) loses the line, never the exit
/// status: `eprintln!` would panic there.
pub fn stderr_line(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}
