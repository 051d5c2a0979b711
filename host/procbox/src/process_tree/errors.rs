//! The errors of the process tree's layer: its cgroups, its PID namespace,
//! and the containment a policy gets from them.

use std::path::PathBuf;
use std::sync::Arc;

/// Why a run's cgroups cannot be found, made or joined here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupError {
    /// A file of `/proc` that says where the hierarchies are could not be read.
    #[error("{}: {source}", .path.display())]
    Proc {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// No hierarchy offers the controller to procbox.
    #[error("no cgroup hierarchy here offers the {controller} controller to procbox")]
    NoHierarchy {
        /// The controller, e.g. `pids`.
        controller: &'static str,
    },
    /// This user may not make a cgroup in the directory.
    #[error("{} is not writable by this user", .dir.display())]
    NotWritable {
        /// Where the cgroup would go.
        dir: PathBuf,
    },
    /// The run's cgroup could not be made (the message is the OS's alone).
    #[error("{source}")]
    Create {
        /// The cgroup's directory.
        dir: PathBuf,
        /// Why it could not be made.
        #[source]
        source: std::io::Error,
    },
    /// Another run's sweep removed the cgroup as it was made.
    #[error("another run removed it")]
    Removed,
    /// A limit could not be written.
    #[error("writing {file}: {source}")]
    Limit {
        /// The file of the limit, e.g. `pids.max`.
        file: &'static str,
        /// Why it could not be written.
        #[source]
        source: std::io::Error,
    },
    /// A limit this machine cannot enforce.
    #[error(
        "{knob} needs a {controller} cgroup procbox can create, and this machine has none ({why}); \
         `procbox doctor` says what is available"
    )]
    Unavailable {
        /// The limit's knob, quoted, e.g. `` `max-processes` ``.
        knob: &'static str,
        /// The controller it needs.
        controller: &'static str,
        /// Why there is none.
        why: Box<CgroupError>,
    },
    /// The calling process could not join one of the run's cgroups.
    #[error("joining the cgroup {}: {source}", .dir.display())]
    Join {
        /// The cgroup.
        dir: PathBuf,
        /// Why it could not be joined.
        #[source]
        source: std::io::Error,
    },
}

/// Why the launcher could not make its children's PID namespace: the step
/// the kernel refused, and its error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NamespaceError {
    /// A step the kernel refused.
    #[error("{step}: {source}")]
    Step {
        /// What was being made or done, e.g. "a PID namespace".
        step: &'static str,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// A map of the new user namespace could not be written.
    #[error("writing {file} of the user namespace: {source}")]
    MapUser {
        /// The file, e.g. `/proc/self/uid_map`.
        file: &'static str,
        /// Why it could not be written.
        #[source]
        source: std::io::Error,
    },
    /// The namespace's init ended before it reported.
    #[error("the namespace's init exited before it was ready")]
    InitExited,
    /// The namespace's init reported without its mount namespace.
    #[error("init reported without its mount namespace")]
    NoMounts,
}

/// Why children get no PID namespace here, as one line: the step the
/// kernel refused in the probe process (which reports it as text, from a
/// process of its own), or why no probe ran.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[serde(transparent)]
#[error("{reason}")]
pub struct NoNamespace {
    /// Why not.
    pub reason: String,
}

impl From<NamespaceError> for NoNamespace {
    fn from(err: NamespaceError) -> NoNamespace {
        NoNamespace {
            reason: err.to_string(),
        }
    }
}

/// Why the kernel probe gave no answer: its process (the launcher's fork,
/// or a probe of its own) could not be started, or did not answer as
/// procbox's probe. Without an answer nothing can confine or contain
/// children.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct ProbeError(Arc<std::io::Error>);

impl ProbeError {
    /// Why the probe gave no answer.
    pub(crate) fn new(why: std::io::Error) -> ProbeError {
        ProbeError(Arc::new(why))
    }
}

/// Why a policy's children cannot be contained as it asks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContainmentError {
    /// No launcher process could be started, so nothing can contain
    /// children.
    #[error(
        "cannot contain children: {0}; name a program that can run as procbox's launcher \
         (`procbox::set_launcher_program`), or set `contain = off`"
    )]
    NoLauncher(ProbeError),
    /// `contain = require`, and this kernel gives children no PID namespace.
    #[error(
        "`contain = require`: children cannot get a PID namespace here ({0}); \
         set `contain = best-effort` to run with process groups and the subreaper's sweep"
    )]
    Required(NoNamespace),
    /// A limit on the whole tree that this machine cannot enforce.
    #[error(transparent)]
    TreeLimit(#[from] CgroupError),
}
