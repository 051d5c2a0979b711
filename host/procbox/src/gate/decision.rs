//! What goes into the gate ([`SpawnRequest`]) and what comes out of it: a
//! [`Decision`] for an allowed request, a [`Refusal`] for any other.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::gate::SpawnError;
use crate::policy::ChildRlimits;
use crate::redirect::{Redirect, Redirects, Target};

use super::render::command_line;

/// What a plugin asks to run, before any checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpawnRequest {
    /// Where the child's standard streams go (default: all null).
    pub stdio: Redirects<Redirect>,
    /// The program as the plugin wrote it.
    pub program: String,
    /// The arguments, without the program name.
    pub args: Vec<String>,
    /// Variables the plugin sets for the child.
    pub env: Vec<(String, String)>,
    /// The working directory, if the plugin chose one.
    pub cwd: Option<String>,
    /// Measure the child's whole tree (a cgroup of its own): not judged,
    /// only carried to the spawn.
    pub measure_tree: bool,
}

/// A request that the policy allows, with everything resolved. Only the
/// gate makes one. It reserves nothing: the spawner (`Spawner`) turns it into a
/// permit to spawn once the hooks agreed and the limits have room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub(super) program: PathBuf,
    pub(super) arg0: String,
    pub(super) args: Vec<String>,
    pub(super) env: Vec<(String, String)>,
    pub(super) cwd: PathBuf,
    pub(super) cwd_root: Option<PathBuf>,
    pub(super) stdio: Redirects<Target>,
    pub(super) rule: String,
    pub(super) max_runtime: Option<Duration>,
    pub(super) max_output_bytes: Option<u64>,
    pub(super) rlimits: ChildRlimits,
    pub(super) die_with_host: bool,
    pub(crate) confinement: Option<String>,
}

impl Decision {
    /// The confinement the child ran under, in one line (set once it was
    /// spawned confined; `None` for an unconfined child or before).
    pub fn confinement(&self) -> Option<&str> {
        self.confinement.as_deref()
    }

    /// The canonical path of the binary that will run.
    pub fn program(&self) -> &Path {
        &self.program
    }
    /// `argv[0]`: the program as the allowing rule wrote it. Multi-call
    /// binaries (busybox, pg_wrapper) choose their tool from it, so letting
    /// the plugin choose would let `--allow-run cat` run busybox's `rm`.
    pub fn arg0(&self) -> &str {
        &self.arg0
    }
    /// The arguments after `argv[0]`.
    pub fn args(&self) -> &[String] {
        &self.args
    }
    /// The child's whole environment: passed-through host variables plus
    /// those the plugin set.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }
    /// The canonical working directory.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }
    /// The granted directory the working directory lies in; `None` for the
    /// start directory, the default.
    pub fn cwd_root(&self) -> Option<&Path> {
        self.cwd_root.as_deref()
    }
    /// Where the child's standard streams go.
    pub fn stdio(&self) -> &Redirects<Target> {
        &self.stdio
    }
    /// The rule that allowed the request, with its source.
    pub fn rule(&self) -> &str {
        &self.rule
    }
    /// The policy's ceiling on the child's run time.
    pub fn max_runtime(&self) -> Option<Duration> {
        self.max_runtime
    }
    /// The policy's cap on the child's captured output.
    pub fn max_output_bytes(&self) -> Option<u64> {
        self.max_output_bytes
    }
    /// Kernel resource limits to set in the child.
    pub fn rlimits(&self) -> &ChildRlimits {
        &self.rlimits
    }
    /// Whether the child must die with procbox (`PR_SET_PDEATHSIG`).
    pub fn die_with_host(&self) -> bool {
        self.die_with_host
    }
    /// The program and arguments as one line, for messages and logs.
    pub fn command_line(&self) -> String {
        command_line(&self.program, &self.args)
    }
}

/// Why the gate did not allow a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No allow rule grants the request, and nothing forbids it: no deny
    /// rule matches and the plugin's manifest (if any) requests it. Only
    /// such a request may be escalated (asked about).
    Unmatched(Unmatched),
    /// Refused for good: a deny rule, the manifest, a malformed request, a
    /// missing program, a path outside the granted directories.
    Final(SpawnError),
}

impl Refusal {
    /// The error the plugin gets when nobody grants the request.
    pub fn into_error(self) -> SpawnError {
        match self {
            Refusal::Unmatched(unmatched) => unmatched.error(),
            Refusal::Final(error) => error,
        }
    }
}

impl From<SpawnError> for Refusal {
    fn from(error: SpawnError) -> Self {
        Refusal::Final(error)
    }
}

/// A request that no allow rule grants, as an escalation hook sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    /// The canonical file the program resolved to.
    pub program: PathBuf,
    /// The arguments, without the program name.
    pub args: Vec<String>,
    /// The canonical working directory.
    pub cwd: PathBuf,
    /// Why no allow rule matched (names the rules for the same program).
    pub reason: String,
    /// The narrowest rule that would allow it.
    pub fix: Box<super::fix::Fix>,
}

impl Unmatched {
    /// The program and arguments as one line.
    pub fn command_line(&self) -> String {
        command_line(&self.program, &self.args)
    }

    /// The denial the plugin gets when the request stays ungranted.
    pub fn error(&self) -> SpawnError {
        SpawnError::Denied(super::fix::Denial {
            reason: format!("{}: {}", self.command_line(), self.reason),
            fix: Some(self.fix.clone()),
        })
    }
}
