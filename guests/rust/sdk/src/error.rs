//! Errors with enough context to act on.

use std::fmt;

use crate::bindings::process as wit;
use crate::status::ExitStatus;

/// Why running a command failed. `Debug` writes the same one line as
/// `Display` (as anyhow's errors do), so a `main` that returns it prints
/// `Error: denied: ...`, not a struct.
#[derive(Clone, PartialEq, Eq)]
pub enum Error {
    /// The host's policy refused the command; the message names the rule.
    Denied(String),
    /// The program does not exist on the host.
    NotFound(String),
    /// The request was malformed (an empty program, a NUL byte, too many
    /// arguments, a stream taken twice).
    InvalidInput(String),
    /// A limit of the policy was reached.
    LimitExceeded(String),
    /// The operating system, or a stream to the child, failed.
    Io(String),
    /// A line longer than the reader's maximum; the reader skipped it and
    /// can go on with the next line.
    LineTooLong {
        /// The maximum, in bytes.
        max: usize,
    },
    /// Output that is not valid UTF-8 text, or not the JSON expected.
    Decode(String),
    /// Not run, or stopped: an earlier command of a fail-fast queue failed.
    Cancelled(String),
    /// The command ran but did not succeed ([`ExitStatus::success`]): a
    /// non-zero exit, a signal, a timeout or output cut at the policy's
    /// cap. Only from checked calls ([`crate::Command::output`],
    /// [`crate::Command::status`], a checked stage of a
    /// [`crate::Pipeline`], a [`crate::Queue`]).
    Failed(Box<Failure>),
}

/// A command that ran and failed, with what a person needs to see why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The command line, as [`crate::Command`]'s `Display` writes it.
    pub command: String,
    /// The working directory it was asked to run in (`None`: procbox's).
    pub cwd: Option<String>,
    /// How it ended.
    pub status: ExitStatus,
    /// The last lines of its stderr, if it was captured.
    pub stderr_tail: String,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Denied(m) => write!(f, "denied: {m}"),
            Error::NotFound(m) => write!(f, "not found: {m}"),
            Error::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Error::LimitExceeded(m) => write!(f, "limit exceeded: {m}"),
            Error::Io(m) => write!(f, "i/o error: {m}"),
            Error::LineTooLong { max } => write!(f, "a line is longer than {max} bytes; it was skipped"),
            Error::Decode(m) => write!(f, "cannot decode the output: {m}"),
            Error::Cancelled(m) => write!(f, "cancelled: {m}"),
            Error::Failed(failure) => {
                write!(f, "`{}` failed: {}", failure.command, failure.status)?;
                if let Some(cwd) = &failure.cwd {
                    write!(f, " (in {cwd})")?;
                }
                if !failure.stderr_tail.is_empty() {
                    write!(f, "; stderr ends with:\n{}", failure.stderr_tail)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<wit::Error> for Error {
    fn from(err: wit::Error) -> Self {
        match err {
            wit::Error::Denied(m) => Error::Denied(m),
            wit::Error::NotFound(m) => Error::NotFound(m),
            wit::Error::InvalidInput(m) => Error::InvalidInput(m),
            wit::Error::LimitExceeded(m) => Error::LimitExceeded(m),
            wit::Error::Io(m) => Error::Io(m),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::Io(err.to_string())
    }
}

/// The last `max_lines` lines of `bytes`, decoded lossily.
pub(crate) fn tail(bytes: &[u8], max_lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(max_lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_the_one_line_a_person_reads() {
        let error = Error::Denied("/usr/bin/wc: no allow rule grants /usr/bin/wc".into());
        assert_eq!(format!("{error:?}"), format!("{error}"));
        assert_eq!(
            format!("{error:?}"),
            "denied: /usr/bin/wc: no allow rule grants /usr/bin/wc"
        );
    }
}
