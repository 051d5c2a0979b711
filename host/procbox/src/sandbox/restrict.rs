//! A process confining itself with a plan: the sandbox's half of what the
//! launcher does to a child before `exec` (`no_new_privs`, the plan's
//! Landlock ruleset, procbox's seccomp filters), for a helper process of
//! an application's own that must run under the same rules as a confined
//! child. `procbox doctor` measures what such a child can still do this
//! way, in a process it starts for nothing else.
//!
//! The process tree's half of a plan (its PID namespace and cgroups,
//! [`ChildPlan::tree`]) and dropping capabilities are not applied here.
//!
//! Also the loading of seccomp programs on the calling thread, which the
//! launcher does to itself (so that its children inherit them) and the
//! kernel probe to itself: [`install`], [`load_filter`].

use super::filter::{build, unknown_calls, FilterError, FIRST_UNKNOWN_CALL};
use super::plan::ChildPlan;
use super::{ruleset, ChildNet};

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
    Filter(#[from] FilterError),
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
        install(&plan.net)?;
    }
    Ok(Restricted {
        landlock: ruleset.is_some(),
        seccomp: plan.seccomp,
    })
}

/// Builds procbox's two programs for children with `net` (the filter of
/// [`build`] and that of [`unknown_calls`]) and loads them on the calling
/// thread, which then carries them into everything it starts. The thread
/// must already have `no_new_privs` (or `CAP_SYS_ADMIN`).
///
/// Runs in the launcher (on its only thread, before its first child) and
/// in a process that restricts itself ([`super::restrict_self`]).
///
/// # Errors
/// A program that cannot be built here, or the kernel's refusal.
pub(crate) fn install(net: &ChildNet) -> Result<(), FilterError> {
    let programs = [
        (build(net)?, "the seccomp filter"),
        (
            unknown_calls(FIRST_UNKNOWN_CALL)?,
            "the seccomp filter of unknown calls",
        ),
    ];
    for (program, what) in &programs {
        // SAFETY: procbox's own programs (above), which answer a refused
        // call with an errno or kill the process, and never fake a call's
        // success: a caller's code stays sound whatever they refuse.
        unsafe { load_filter(program) }.map_err(|source| FilterError::Load { what, source })?;
    }
    Ok(())
}

/// Loads `program` on the calling thread with `SECCOMP_FILTER_FLAG_SPEC_ALLOW`,
/// as runc and crun do: without it the kernel also forces its Spectre
/// mitigations (SSBD, IBPB on every context switch) on every filtered
/// task. They guard code sharing an address space with a sandboxed JIT, not
/// separate processes; a child keeps the mitigations any process of the
/// user has, and spawn+wait costs about 60 µs less here (BENCHMARKS.md).
/// Kernels before 4.17 do not know the flag: then without it.
///
/// Runs in the launcher (on its only thread, before its first child, so
/// that every child inherits the filter, through [`install`]) and by the
/// kernel probe.
///
/// # Safety
/// `program` must never make a system call report success without
/// running it (`SECCOMP_RET_ERRNO` with 0, `SECCOMP_RET_TRACE`, a user
/// notification): code that trusts a call's result, such as the allocator
/// trusting `mmap`, would then go wrong. Refusing a call (an errno, or
/// killing the process) is what a caller of a refused call handles.
pub(crate) unsafe fn load_filter(program: &[seccompiler::sock_filter]) -> std::io::Result<()> {
    const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
    const SECCOMP_FILTER_FLAG_SPEC_ALLOW: libc::c_uint = 1 << 2;
    let fprog = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(std::io::Error::other)?,
        // seccompiler's `sock_filter` is `#[repr(C)]` with the kernel's layout, as libc's is.
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    for flags in [SECCOMP_FILTER_FLAG_SPEC_ALLOW, 0] {
        // SAFETY: a valid program that outlives the call; what it may
        // refuse is the caller's to hold (see above).
        let rc = unsafe { libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINVAL) || flags == 0 {
            return Err(err);
        }
    }
    unreachable!("the last attempt returns")
}
