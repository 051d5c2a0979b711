//! Why a spawn request failed, as a value the plugin can act on.
//!
//! Expected failures (a denial, a missing program, a malformed request) are
//! [`SpawnError`] values and reach the plugin as the WIT `error` variant.
//! Traps are kept for guest bugs, such as using a handle that does not exist.

use crate::gate::fix::{Denial, Fix, FixStyle};
use crate::resolve::ResolveError;

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
    NotFound(String),
    /// The request is malformed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A limit of the policy was reached.
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// The operating system refused.
    #[error("i/o error: {0}")]
    Io(String),
    /// The escalation hook could not decide ([`crate::spawn::hooks::Answer::Abort`]):
    /// the run must end. A plugin never sees it: its call traps instead.
    #[error("aborted: {0}")]
    Aborted(String),
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

    /// An [`SpawnError::Io`] that says what was being done when `err` happened.
    pub fn io(doing: impl std::fmt::Display, err: std::io::Error) -> Self {
        SpawnError::Io(format!("{doing}: {err}"))
    }
}

impl From<ResolveError> for SpawnError {
    fn from(err: ResolveError) -> SpawnError {
        match err {
            ResolveError::Malformed(why) => SpawnError::InvalidInput(why),
            ResolveError::NotFound(why) => SpawnError::NotFound(why),
        }
    }
}
