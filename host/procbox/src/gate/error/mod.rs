//! Why a spawn request failed, as a value the plugin can act on.
//!
//! Expected failures (a denial, a missing program, a malformed request) are
//! [`SpawnError`] values and reach the plugin as the WIT `error` variant.
//! Traps are kept for guest bugs, such as using a handle that does not exist.
//!
//! Each variant carries what failed as data: the program and where it was
//! looked for ([`Missing`]), why a request is malformed ([`Invalid`]),
//! which limit was reached with its number ([`Exceeded`], [`Limit`]), the
//! OS error itself ([`OsError`]). Its message (`Display`) is the one line a
//! plugin, a log or a user reads: the kind (`not found: `, `invalid input:
//! `, ...) then [`SpawnError::detail`], which is what the WIT error carries.

mod invalid;
mod limit;

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::gate::fix::{Denial, Fix, FixStyle};
use crate::resolve::{Looked, ResolveError};

pub use invalid::{BadCwd, BadFile, Invalid, OtherStream};
pub use limit::{Exceeded, Limit};

/// A failed request to start or control a child. Every message names what
/// was asked and why it failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The policy refused the request: why, and the grant that would allow
    /// it as data ([`Denial::fix`]), which an application renders in its
    /// own words ([`Denial::render`]).
    #[error("denied: {0}")]
    Denied(Denial),
    /// The program does not exist or is not an executable file.
    #[error("not found: {0}")]
    NotFound(Missing),
    /// The request is malformed.
    #[error("invalid input: {0}")]
    InvalidInput(Invalid),
    /// A limit of the policy was reached.
    #[error("limit exceeded: {0}")]
    LimitExceeded(Exceeded),
    /// The operating system refused.
    #[error("i/o error: {}", self.detail())]
    Io {
        /// What was being done: `signalling process 42`, or the command
        /// line and the step of starting it.
        doing: String,
        /// What the OS answered.
        error: OsError,
    },
    /// procbox's launcher (the process that starts confined and contained
    /// children) could not be started or talked to, or broke its protocol.
    /// Written as an I/O error, and a plugin gets it as one.
    #[error("i/o error: {}", self.detail())]
    Launcher {
        /// The command line that was to be started.
        command: String,
        /// Why the launcher could not be used.
        error: OsError,
    },
    /// A child's exit status cannot be had. Written as an I/O error, and a
    /// plugin gets it as one.
    #[error("i/o error: {0}")]
    StatusLost(StatusLost),
    /// The escalation hook could not decide (`Answer::Abort`):
    /// the run must end. A plugin never sees it: its call traps instead.
    #[error("aborted: {}", self.detail())]
    Aborted {
        /// The command line that was asked for.
        command: String,
        /// Why the hook could not decide.
        reason: String,
    },
}

impl SpawnError {
    /// A denial that no grant can lift (a deny rule, the manifest, a hook).
    pub fn denied(reason: impl Into<String>) -> Self {
        SpawnError::Denied(Denial::new(reason))
    }

    /// A denial that `fix` would lift.
    pub fn denied_unless(reason: impl Into<String>, fix: Fix) -> Self {
        SpawnError::Denied(Denial::with_fix(reason, fix))
    }

    /// This error in one line, a denial's fix written by `style`.
    pub fn render(&self, style: &dyn FixStyle) -> String {
        match self {
            SpawnError::Denied(denial) => format!("denied: {}", denial.render(style)),
            other => other.to_string(),
        }
    }

    /// The message without its kind (`not found: `, ...): what a plugin
    /// reads in the WIT error, a denial's fix written as a grants-file line.
    pub fn detail(&self) -> String {
        match self {
            SpawnError::Denied(denial) => denial.to_string(),
            SpawnError::NotFound(missing) => missing.to_string(),
            SpawnError::InvalidInput(invalid) => invalid.to_string(),
            SpawnError::LimitExceeded(exceeded) => exceeded.to_string(),
            SpawnError::Io { doing, error } => format!("{doing}: {error}"),
            SpawnError::Launcher { command, error } => format!("{command}: procbox's launcher: {error}"),
            SpawnError::StatusLost(lost) => lost.to_string(),
            SpawnError::Aborted { command, reason } => format!("{command}: {reason}"),
        }
    }

    /// An [`SpawnError::Io`] that says what was being done when `err` happened.
    pub fn io(doing: impl fmt::Display, err: io::Error) -> Self {
        SpawnError::Io {
            doing: doing.to_string(),
            error: err.into(),
        }
    }
}

impl From<ResolveError> for SpawnError {
    fn from(err: ResolveError) -> SpawnError {
        match err {
            ResolveError::Malformed(why) => SpawnError::InvalidInput(Invalid::Program(why)),
            ResolveError::NotFound { program, looked } => SpawnError::NotFound(Missing {
                program,
                why: Absence::Unresolved(looked),
            }),
        }
    }
}

impl From<Invalid> for SpawnError {
    fn from(invalid: Invalid) -> SpawnError {
        SpawnError::InvalidInput(invalid)
    }
}

impl From<Exceeded> for SpawnError {
    fn from(exceeded: Exceeded) -> SpawnError {
        SpawnError::LimitExceeded(exceeded)
    }
}

/// A program that is not there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{program}: {why}")]
#[non_exhaustive]
pub struct Missing {
    /// The program: as the plugin named it when the gate found nothing,
    /// the resolved file when `exec` did not find it.
    pub program: String,
    /// Where it was looked for, or what `exec` said.
    pub why: Absence,
}

/// How a program turned out to be missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Absence {
    /// The gate found no executable file where it looked.
    #[error("{0}")]
    Unresolved(Looked),
    /// `exec` found no file (`ENOENT`): the program went away since the
    /// gate resolved it, or a script's interpreter does not exist.
    #[error("{0}")]
    Exec(OsError),
}

/// Why a child's exit status cannot be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusLost {
    /// The task that watches the child ended before it published the
    /// status (the runtime is shutting down).
    #[error("the child's supervisor stopped before it exited")]
    SupervisorStopped,
    /// The child was reaped already, so its status is gone.
    #[error("process {pid} was already reaped")]
    AlreadyReaped {
        /// The child's process id.
        pid: u32,
    },
}

/// An OS error, shared so that the error that holds it can be cloned. Two
/// are equal when they have the same kind, OS code and message.
#[derive(Debug, Clone)]
pub struct OsError(Arc<io::Error>);

impl OsError {
    /// The error as the OS (or the standard library) gave it.
    pub fn get(&self) -> &io::Error {
        &self.0
    }
}

impl From<io::Error> for OsError {
    fn from(error: io::Error) -> Self {
        OsError(Arc::new(error))
    }
}

impl AsRef<io::Error> for OsError {
    fn as_ref(&self) -> &io::Error {
        &self.0
    }
}

impl fmt::Display for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for OsError {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.get(), other.get());
        a.kind() == b.kind() && a.raw_os_error() == b.raw_os_error() && a.to_string() == b.to_string()
    }
}

impl Eq for OsError {}

impl std::error::Error for OsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests;
