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
/// the kernel refused a later one (`no_new_privs`, the ruleset): they
/// cannot be undone; nothing applies when the plan could not be built or
/// the process has other threads.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestrictError {
    /// The process has other threads, which would stay free.
    #[error("a process with {0} threads cannot restrict itself as a whole (Landlock and seccomp apply per thread): restrict a process of one thread")]
    Threads(usize),
    /// Its threads could not be counted (`/proc/self/task`).
    #[error("counting this process's threads: {0}")]
    Count(#[source] std::io::Error),
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

/// Restricts this process, which must have one thread, and everything it
/// starts afterwards, as the launcher restricts a child under `plan`: the
/// files and programs the plan grants, as far as the kernel's Landlock
/// ABI (the plan's `abi`) enforces them, and the network the plan grants
/// where Landlock (ABI 4) or procbox's seccomp filter enforces it. It
/// cannot be undone.
///
/// Landlock and seccomp apply per thread: a process with other threads is
/// refused ([`RestrictError::Threads`]) rather than restricted in part.
/// Call it on the first line of `main` of a helper process started for
/// the confined work, never in a process that runs plugins.
///
/// # Errors
/// [`RestrictError`]: the step that failed.
pub fn restrict_self(plan: &ChildPlan) -> Result<Restricted, RestrictError> {
    let threads = crate::sys::fork::threads().map_err(RestrictError::Count)?;
    if threads != 1 {
        return Err(RestrictError::Threads(threads));
    }
    // Everything that can fail without the kernel's refusal first, so that
    // such a failure leaves the process as it was.
    let ruleset = ruleset::build(plan)?;
    let filters = match plan.seccomp {
        true => Some(programs(&plan.net)?),
        false => None,
    };
    rustix::thread::set_no_new_privs(true).map_err(RestrictError::NoNewPrivs)?;
    if let Some(ruleset) = &ruleset {
        crate::sys::landlock_restrict_self(ruleset, 0).map_err(RestrictError::Landlock)?;
    }
    if let Some(filters) = &filters {
        load(filters)?;
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
    load(&programs(net)?)
}

/// procbox's two programs for children with `net`, each with its name.
type Programs = [(seccompiler::BpfProgram, &'static str); 2];

fn programs(net: &ChildNet) -> Result<Programs, FilterError> {
    Ok([
        (build(net)?, "the seccomp filter"),
        (
            unknown_calls(FIRST_UNKNOWN_CALL)?,
            "the seccomp filter of unknown calls",
        ),
    ])
}

/// Loads `programs` on the calling thread, in order.
fn load(programs: &Programs) -> Result<(), FilterError> {
    for (program, what) in programs {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::plan::TreePlan;

    #[test]
    fn a_process_with_other_threads_is_refused_and_left_as_it_was() {
        // The test harness runs this test on a thread of its own: two at least.
        let plan = ChildPlan {
            read: Vec::new(),
            write: Vec::new(),
            write_files: Vec::new(),
            exec: Vec::new(),
            net: ChildNet::default(),
            tmp: std::env::temp_dir(),
            abi: crate::sys::landlock_abi().min(crate::sandbox::probe::NEWEST_ABI),
            seccomp: true,
            drop_caps: false,
            tree: TreePlan::default(),
        };
        match restrict_self(&plan) {
            Err(RestrictError::Threads(n)) => assert!(n > 1, "{n}"),
            other => panic!("a threaded process restricted itself: {other:?}"),
        }
        // Nothing applied: not even no_new_privs, and files still open.
        assert_eq!(rustix::thread::no_new_privs(), Ok(false));
        assert!(std::fs::read_dir("/").is_ok());
    }
}
