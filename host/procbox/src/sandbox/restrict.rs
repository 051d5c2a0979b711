//! A process confining itself with a plan: the sandbox's half of what the
//! launcher does to a child before `exec` (`no_new_privs`, the plan's
//! Landlock ruleset, procbox's seccomp filters), for a helper process of
//! an application's own that must run under the same rules as a confined
//! child. `procbox doctor` measures what such a child can still do this
//! way, in a process it starts for nothing else.
//!
//! The process tree's half of a plan (its PID namespace and cgroups,
//! [`ChildPlan::tree`]) and dropping capabilities are not applied here.

use super::plan::ChildPlan;
use super::{filter, ruleset};

/// What took part in a restriction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restricted {
    /// A Landlock ruleset (the plan has an ABI).
    pub landlock: bool,
    /// procbox's seccomp filters (the plan asks for them).
    pub seccomp: bool,
}

/// Why a process could not restrict itself. Parts may already apply when
/// it fails (`no_new_privs`, the ruleset): they cannot be undone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestrictError {
    /// `no_new_privs` was refused.
    #[error("no_new_privs: {0}")]
    NoNewPrivs(#[source] rustix::io::Errno),
    /// The plan's Landlock ruleset could not be built.
    #[error(transparent)]
    Ruleset(#[from] ruleset::RulesetError),
    /// The kernel refused the ruleset.
    #[error("landlock_restrict_self: {0}")]
    Landlock(#[source] std::io::Error),
    /// The seccomp filters could not be built or loaded.
    #[error(transparent)]
    Filter(#[from] filter::FilterError),
}

/// Restricts the **calling thread**, and every thread and process it starts
/// afterwards, as the launcher restricts a child under `plan`: it may read,
/// write and execute what the plan grants, use the network the plan
/// grants, and no more. It cannot be undone.
///
/// Only the calling thread: threads that already exist stay free (Landlock
/// and seccomp apply per thread). Call it where the process has one
/// thread, such as the first line of `main` of a helper process started
/// for the confined work, and never on a thread of a process that runs
/// plugins: their later spawns would inherit it.
///
/// # Errors
/// [`RestrictError`]: the step that failed.
pub fn restrict_self(plan: &ChildPlan) -> Result<Restricted, RestrictError> {
    let ruleset = ruleset::build(plan)?;
    rustix::thread::set_no_new_privs(true).map_err(RestrictError::NoNewPrivs)?;
    if let Some(ruleset) = &ruleset {
        crate::sys::landlock_restrict_self(ruleset, 0).map_err(RestrictError::Landlock)?;
    }
    if plan.seccomp {
        filter::install(&plan.net)?;
    }
    Ok(Restricted {
        landlock: ruleset.is_some(),
        seccomp: plan.seccomp,
    })
}
