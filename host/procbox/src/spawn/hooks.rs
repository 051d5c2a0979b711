//! The three kinds of hook an application attaches to the [`crate::Spawner`],
//! kept apart because each may do something different:
//!
//! | hook | called for | may |
//! |---|---|---|
//! | [`Authorizer`] | requests the policy allows | only narrow: allow, or deny with a reason |
//! | [`Escalation`] | requests no allow rule grants (never those a deny rule or the manifest refuses) | grant this once, grant a rule for the rest of the run, or deny |
//! | [`Observer`] | the final verdict of every request, and every exit | nothing: watch |
//!
//! Authorizers and the escalation hook are async, so an application can show
//! a real dialog. Observers run on the runtime's threads: keep them short.

use std::path::Path;

use crate::exit::ExitStatus;
use crate::gate::SpawnError;
use crate::gate::{Decision, SpawnRequest, Unmatched};

/// Narrows what the policy allows, e.g. an editor's per-project switch.
#[async_trait::async_trait]
pub trait Authorizer: Send + Sync {
    /// Called for a request the policy allows. `Err` refuses it; the
    /// plugin gets a denial naming its reason.
    async fn authorize(&self, decision: &Decision) -> Result<(), AuthorizeError>;
}

/// An [`Authorizer`]'s refusal: the reason the plugin's denial names.
/// Made from the reason (`"no rm here".into()`, [`AuthorizeError::new`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct AuthorizeError {
    /// Why the request is refused, in the application's words.
    pub reason: String,
}

impl AuthorizeError {
    /// A refusal for `reason`.
    pub fn new(reason: impl Into<String>) -> AuthorizeError {
        AuthorizeError { reason: reason.into() }
    }
}

impl From<String> for AuthorizeError {
    fn from(reason: String) -> AuthorizeError {
        AuthorizeError { reason }
    }
}

impl From<&str> for AuthorizeError {
    fn from(reason: &str) -> AuthorizeError {
        AuthorizeError::new(reason)
    }
}

/// Asked about a request that no allow rule grants: a permission prompt, a
/// broker, a dialog.
#[async_trait::async_trait]
pub trait Escalation: Send + Sync {
    /// Decides `request`. Taking long is fine: the plugin waits.
    async fn escalate(&self, request: &Unmatched) -> Answer;

    /// Told that the rule this hook answered with [`Answer::AllowRule`]
    /// for `request` was accepted: it resolved, matched the request, and
    /// now holds for the rest of the run. A prompt that offered "always"
    /// remembers it here, so that only rules that work are remembered.
    fn accepted(&self, request: &Unmatched, rule: &str) {
        let _ = (request, rule);
    }
}

/// What an [`Escalation`] hook answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// Allow this one request, exactly as asked.
    AllowOnce,
    /// Allow it, and add this allow rule (written as for `--allow-run`) for
    /// the rest of the run. The rule must match the request; deny rules and
    /// the manifest still apply.
    AllowRule(String),
    /// Refuse it; the plugin gets a denial naming the reason.
    Deny(String),
    /// The hook cannot decide (a permission broker that failed to answer):
    /// the whole run ends, and the plugin gets no answer.
    Abort(String),
}

/// Watches what happens: the audit log, `procbox -v`, metrics.
pub trait Observer: Send + Sync {
    /// The final verdict on `request`: `Ok` only once the child has started
    /// (after every hook agreed, the limits had room and the OS spawned it);
    /// otherwise the error the plugin gets.
    fn on_verdict(&self, request: &SpawnRequest, verdict: Result<&Decision, &SpawnError>) {
        let _ = (request, verdict);
    }

    /// After a child was reaped (or its status could not be collected).
    fn on_exit(&self, exit: &ExitEvent<'_>) {
        let _ = exit;
    }
}

/// How one child ended.
#[derive(Debug)]
pub struct ExitEvent<'a> {
    /// Its process id.
    pub pid: u32,
    /// The canonical program.
    pub program: &'a Path,
    /// Its arguments.
    pub args: &'a [String],
    /// Its status, or why none could be collected.
    pub status: &'a Result<ExitStatus, SpawnError>,
}
