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
//! Everything is built by [`ChildSetup::from_parts`] in the parent.
//!
//! The child makes these calls through rustix, whose calls neither
//! allocate nor touch `errno`.
//!
//! A confined child applies the same setup in the launcher's clone child,
//! then its confinement ([`super::server`]), under the same rule.

use rustix::process::{Resource, Rlimit, Signal};

/// Everything a child must do to itself before `exec`.
#[derive(Debug, Default, Clone)]
pub struct ChildSetup {
    /// `setrlimit` calls: (resource, soft and hard value).
    rlimits: Vec<(u32, u64)>,
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
    /// The setup the launcher received: `setrlimit` calls and the pid to
    /// die with; `in_pid_namespace` when the launcher starts its children
    /// in a PID namespace of their own (see `parent_visible`).
    pub fn from_parts(rlimits: &[(u32, u64)], die_with: Option<libc::pid_t>, in_pid_namespace: bool) -> ChildSetup {
        ChildSetup {
            rlimits: rlimits.to_vec(),
            die_with,
            parent_visible: !in_pid_namespace,
        }
    }

    /// The `setrlimit` calls and the pid to die with, for the launcher.
    pub fn to_parts(&self) -> (Vec<(u32, u64)>, Option<libc::pid_t>) {
        (self.rlimits.clone(), self.die_with)
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
            let limit = Rlimit {
                current: Some(value),
                maximum: Some(value),
            };
            let resource = resource_of(resource).ok_or(libc::EINVAL)?;
            rustix::process::setrlimit(resource, limit).map_err(|e| e.raw_os_error())?;
        }
        if let Some(parent) = self.die_with {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL)).map_err(|e| e.raw_os_error())?;
            // procbox may have died before the prctl took effect.
            // In a PID namespace of its own the namespace's end kills
            // the child then, and getppid() cannot tell (see
            // `parent_visible`).
            let parent_now = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get());
            if self.parent_visible && parent_now != parent {
                return Err(libc::ESRCH);
            }
        }
        Ok(())
    }
}

/// rustix's name for the resource numbered `raw` (the kernel's
/// `RLIMIT_*`), if it is one. No allocation: it runs in the fork window.
fn resource_of(raw: u32) -> Option<Resource> {
    const ALL: [Resource; 16] = [
        Resource::Cpu,
        Resource::Fsize,
        Resource::Data,
        Resource::Stack,
        Resource::Core,
        Resource::Rss,
        Resource::Nproc,
        Resource::Nofile,
        Resource::Memlock,
        Resource::As,
        Resource::Locks,
        Resource::Sigpending,
        Resource::Msgqueue,
        Resource::Nice,
        Resource::Rtprio,
        Resource::Rttime,
    ];
    ALL.into_iter().find(|&resource| resource as u32 == raw)
}
