//! Why the launcher cannot set itself up for a plan's children: its
//! cgroups, its PID namespace, its seccomp filter, its capabilities, a
//! plan's Landlock ruleset. Sent to procbox as text
//! ([`super::wire::Failure::Confinement`]).

use crate::process_tree::cgroup::CgroupError;
use crate::process_tree::namespace::NamespaceError;
use crate::sandbox::filter::FilterError;
use crate::sandbox::ruleset::RulesetError;

/// What the launcher could not do.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Joining the run's cgroups.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// Making the PID namespace.
    #[error("cannot give children a PID namespace: {0}")]
    Namespace(#[source] NamespaceError),
    /// A plan that wants another PID namespace than this launcher's.
    #[error("this launcher's children run in another PID namespace than the plan needs")]
    OtherNamespace,
    /// A plan that wants another seccomp filter than this launcher's.
    #[error("this launcher carries another seccomp filter than the plan needs")]
    OtherFilter,
    /// The capabilities could not be dropped.
    #[error("dropping capabilities: {0}")]
    Capabilities(#[source] rustix::io::Errno),
    /// Building or loading the seccomp filter.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// `no_new_privs` was refused.
    #[error("no_new_privs: {0}")]
    NoNewPrivs(#[source] rustix::io::Errno),
    /// Building a plan's Landlock ruleset.
    #[error(transparent)]
    Ruleset(#[from] RulesetError),
}
