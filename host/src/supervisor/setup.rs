//! What happens in a child between `fork` and `exec`, as data prepared in
//! advance.
//!
//! **The rule of the fork window.** `ChildSetup::apply` runs in a child
//! that shares the memory of a multi-threaded process until `exec`
//! (`launch::clone_vfork`, or the launcher's clone child): any lock another
//! thread holds (the allocator's, stdio's) may be held for ever, and what
//! the child writes, its parent sees. So it may only make
//! async-signal-safe system calls on data allocated before the clone: no
//! allocation, no formatting, no locks, no `Drop` that does any of these.
//! Everything is built by [`ChildSetup::new`] in the parent.
//!
//! An empty setup needs no code in the child, which lets the spawn take
//! the fast `posix_spawn` path (see [`super::launch`]).
//!
//! A confined child applies the same setup in the launcher's clone child,
//! then its confinement (`launcher::server`), under the same rule.

use std::io;

use crate::policy::ChildRlimits;

/// Everything a child must do to itself before `exec`.
#[derive(Debug, Default, Clone)]
pub struct ChildSetup {
    /// `setrlimit` calls: (resource, soft and hard value).
    rlimits: Vec<(libc::__rlimit_resource_t, u64)>,
    /// With `Some(parent)`: die with SIGKILL when the parent thread exits
    /// (`PR_SET_PDEATHSIG`), and fail if `parent` is already gone.
    die_with: Option<libc::pid_t>,
    /// Whether the child starts in procbox's PID namespace (its parent
    /// is visible to it). Not in the launcher's PID namespace: there the
    /// parent, procbox, is outside, so `getppid()` is 0 whether procbox
    /// lives or not, and cannot tell that procbox died before the death
    /// signal was set; the namespace covers that moment instead (its init
    /// dies with procbox, and the kernel then kills every process in it).
    parent_visible: bool,
}

impl ChildSetup {
    /// The setup for a child with `rlimits` that must (or need not) die
    /// with procbox.
    pub fn new(rlimits: &ChildRlimits, die_with_host: bool) -> ChildSetup {
        ChildSetup {
            rlimits: rlimits.to_set(),
            // SAFETY: getpid has no preconditions.
            die_with: die_with_host.then(|| unsafe { libc::getpid() }),
            parent_visible: true,
        }
    }

    /// The setup the launcher received: `setrlimit` calls and the pid to
    /// die with; `in_pid_namespace` when the launcher starts its children
    /// in a PID namespace of their own (see `parent_visible`).
    pub fn from_parts(rlimits: &[(u32, u64)], die_with: Option<libc::pid_t>, in_pid_namespace: bool) -> ChildSetup {
        ChildSetup {
            rlimits: rlimits
                .iter()
                .map(|&(r, v)| (r as libc::__rlimit_resource_t, v))
                .collect(),
            die_with,
            parent_visible: !in_pid_namespace,
        }
    }

    /// The `setrlimit` calls and the pid to die with, for the launcher.
    #[allow(clippy::unnecessary_cast)] // the resource type is u32 on glibc only
    pub fn to_parts(&self) -> (Vec<(u32, u64)>, Option<libc::pid_t>) {
        (
            self.rlimits.iter().map(|&(r, v)| (r as u32, v)).collect(),
            self.die_with,
        )
    }

    /// Whether the child needs no code of ours before `exec`.
    pub fn is_empty(&self) -> bool {
        self.rlimits.is_empty() && self.die_with.is_none()
    }

    /// Applies the setup to the calling process. **Only in the fork
    /// window**: see the module docs. Runs in the child: procbox's clone
    /// child (`launch::clone_vfork`) or the launcher's, each sharing its
    /// parent's memory until `exec`.
    ///
    /// # Errors
    /// The first system call that failed, as an OS error.
    pub(super) fn apply(&self) -> Result<(), i32> {
        for &(resource, value) in &self.rlimits {
            let limit = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            // SAFETY: a valid pointer to a local.
            if unsafe { libc::setrlimit(resource, &limit) } != 0 {
                return Err(errno());
            }
        }
        if let Some(parent) = self.die_with {
            // SAFETY: plain prctl and getppid calls.
            unsafe {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(errno());
                }
                // procbox may have died before the prctl took effect.
                // In a PID namespace of its own the namespace's end kills
                // the child then, and getppid() cannot tell (see
                // `parent_visible`).
                if self.parent_visible && libc::getppid() != parent {
                    return Err(libc::ESRCH);
                }
            }
        }
        Ok(())
    }
}

/// The calling thread's `errno`, without allocating.
pub(super) fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}
