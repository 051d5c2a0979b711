//! The numbers a policy sets: limits on the children, on one request, and
//! on the plugin itself.

use std::time::Duration;

/// Limits on what one plugin run may do with processes. `None` means no
/// limit of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Children running at once.
    pub max_children: Option<usize>,
    /// Children started over the whole run.
    pub max_spawns: Option<u64>,
    /// A ceiling on each child's run time: a child that runs longer is
    /// timed out (SIGTERM, a grace period, SIGKILL) even if the plugin asked
    /// for more time or none.
    pub max_runtime: Option<Duration>,
    /// The most bytes of stdout plus stderr a plugin may read from one child;
    /// past it the child is killed and its status says `output-truncated`.
    pub max_output_bytes: Option<u64>,
    /// Kernel resource limits set in each child before `exec`.
    pub rlimits: ChildRlimits,
    /// `Some(true)`: each child gets SIGKILL if procbox dies, even by
    /// SIGKILL itself (`PR_SET_PDEATHSIG`).
    pub die_with_host: Option<bool>,
    /// What the whole tree of children may use together (cgroups).
    pub tree: crate::process_tree::cgroup::TreeLimits,
}

/// Kernel resource limits (`setrlimit`) for each child; `None` leaves the
/// limit as procbox has it. Each is one `setrlimit` in the child before
/// `exec` (`launcher::setup`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChildRlimits {
    /// RLIMIT_CPU, in seconds.
    pub cpu_seconds: Option<u64>,
    /// RLIMIT_AS, in bytes.
    pub address_space: Option<u64>,
    /// RLIMIT_NOFILE.
    pub open_files: Option<u64>,
    /// RLIMIT_FSIZE, in bytes.
    pub file_size: Option<u64>,
    /// RLIMIT_NPROC (per user; the kernel does not enforce it for root).
    pub processes: Option<u64>,
}

impl ChildRlimits {
    /// The limits that are set, as `(resource, value)` pairs for `setrlimit`.
    pub fn to_set(&self) -> Vec<(libc::__rlimit_resource_t, u64)> {
        [
            (libc::RLIMIT_CPU, self.cpu_seconds),
            (libc::RLIMIT_AS, self.address_space),
            (libc::RLIMIT_NOFILE, self.open_files),
            (libc::RLIMIT_FSIZE, self.file_size),
            (libc::RLIMIT_NPROC, self.processes),
        ]
        .into_iter()
        .filter_map(|(resource, value)| value.map(|v| (resource, v)))
        .collect()
    }

    fn overridden_by(self, other: ChildRlimits) -> ChildRlimits {
        ChildRlimits {
            cpu_seconds: other.cpu_seconds.or(self.cpu_seconds),
            address_space: other.address_space.or(self.address_space),
            open_files: other.open_files.or(self.open_files),
            file_size: other.file_size.or(self.file_size),
            processes: other.processes.or(self.processes),
        }
    }
}

impl Limits {
    /// `self`, with each limit that `other` sets replaced by `other`'s.
    pub fn overridden_by(self, other: Limits) -> Limits {
        Limits {
            max_children: other.max_children.or(self.max_children),
            tree: crate::process_tree::cgroup::TreeLimits {
                max_processes: other.tree.max_processes.or(self.tree.max_processes),
                max_memory: other.tree.max_memory.or(self.tree.max_memory),
            },
            max_spawns: other.max_spawns.or(self.max_spawns),
            max_runtime: other.max_runtime.or(self.max_runtime),
            max_output_bytes: other.max_output_bytes.or(self.max_output_bytes),
            rlimits: self.rlimits.overridden_by(other.rlimits),
            die_with_host: other.die_with_host.or(self.die_with_host),
        }
    }
}

/// The default number of children a plugin may run at once.
pub const DEFAULT_MAX_CHILDREN: usize = 64;
/// The grace period between the signal and SIGKILL when the policy's
/// `max_runtime` ceiling stops a child.
pub const CEILING_GRACE: Duration = Duration::from_secs(2);

/// Size limits on one spawn request. The defaults stay below the kernel's
/// own limits, so an oversized request is a clear error rather than `E2BIG`
/// from `exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// The most bytes one argument or `NAME=value` pair may have.
    pub max_string_bytes: usize,
    /// The most bytes all arguments and variables may have together.
    pub max_total_bytes: usize,
    /// The most arguments plus variables.
    pub max_items: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            // Linux refuses any single string over MAX_ARG_STRLEN (128 KiB).
            max_string_bytes: 128 * 1024,
            // ARG_MAX is usually 2 MiB including the stack's own needs.
            max_total_bytes: 1024 * 1024,
            max_items: 32 * 1024,
        }
    }
}

/// Limits on the plugin itself. `None` keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PluginLimits {
    /// The most bytes any one linear memory of the plugin may grow to
    /// (default [`DEFAULT_PLUGIN_MEMORY`]).
    pub max_memory_bytes: Option<u64>,
    /// The most handles (children, streams, pollables, …) the plugin may hold
    /// at once (default [`DEFAULT_PLUGIN_HANDLES`]).
    pub max_handles: Option<usize>,
    /// How long the whole plugin run may take (default: no limit). When it
    /// runs out the plugin is stopped, busy or not, and its children killed.
    pub max_time: Option<Duration>,
}

impl PluginLimits {
    /// `self`, with each limit that `other` sets replaced by `other`'s.
    pub fn overridden_by(self, other: PluginLimits) -> PluginLimits {
        PluginLimits {
            max_memory_bytes: other.max_memory_bytes.or(self.max_memory_bytes),
            max_handles: other.max_handles.or(self.max_handles),
            max_time: other.max_time.or(self.max_time),
        }
    }
}

/// The default cap on each linear memory of a plugin.
pub const DEFAULT_PLUGIN_MEMORY: u64 = 512 << 20;
/// The default cap on handles a plugin holds at once.
pub const DEFAULT_PLUGIN_HANDLES: usize = 10_000;
