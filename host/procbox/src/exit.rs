//! How a child ended, decoded from `wait4`.

use std::time::Duration;

/// How a child ended: an exit code or a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// It exited by itself with this code.
    Exited(i32),
    /// It was killed by this signal number.
    Signalled(i32),
}

/// CPU time and peak memory of a child (and the descendants it waited for).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Time spent in user mode.
    pub user_cpu: Duration,
    /// Time spent in the kernel on the child's behalf.
    pub system_cpu: Duration,
    /// Largest resident set size, in bytes.
    pub max_rss_bytes: u64,
}

/// The end of a child's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExitStatus {
    /// Exit code or signal.
    pub termination: Termination,
    /// From spawn until the exit was seen.
    pub duration: Duration,
    /// Whether procbox stopped the child because its timeout ran out.
    pub timed_out: bool,
    /// Whether procbox killed the child for writing more output than the
    /// policy's cap.
    pub output_truncated: bool,
    /// CPU time and peak memory.
    pub usage: Usage,
    /// The whole tree's usage, when measured (a cgroup of the child's own).
    pub tree_usage: Option<TreeUsage>,
    /// Where procbox's time went, from the request to the status.
    pub stages: SpawnStages,
}

/// Where one child's time went in procbox, stage by stage (the monotonic
/// clock): what a spawn and wait cost beyond the child's own run, for
/// benchmarks and for an application's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpawnStages {
    /// Judging the request: the gate, and any escalation hook and
    /// authorizer (a prompt's wait included).
    pub judge: Duration,
    /// Admission, the child's plan, its environment, working directory and
    /// streams: everything before it is started.
    pub prepare: Duration,
    /// Starting it, until its `exec` succeeded: for a confined child the
    /// launcher's whole round trip, of which [`SpawnStages::launcher`] is
    /// the part inside the launcher; the rest is the request's and
    /// reply's way through the socket and procbox's scheduling.
    pub start: Duration,
    /// Inside the launcher (confined or contained children only).
    pub launcher: Option<LauncherStages>,
    /// From its start until procbox saw it exit: the child's own run, and
    /// the wake-up of its watcher.
    pub run: Duration,
    /// Reaping it: from the watcher's wake-up to its status collected.
    pub reap: Duration,
}

/// The launcher's part of starting a child (see [`SpawnStages::start`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct LauncherStages {
    /// From the request read to `clone`: its program and arguments made
    /// ready, its working directory checked; for a plan new to the
    /// launcher its Landlock ruleset built, and for its first request its
    /// cgroups joined, namespace made, seccomp filters loaded.
    pub prepare: Duration,
    /// In the child: joining its own cgroups (a measured child's tree).
    pub cgroup_join: Duration,
    /// In the child: `no_new_privs` and Landlock (`landlock_restrict_self`).
    pub landlock: Duration,
    /// The rest of `clone` to `exec`: the clone itself, the child's
    /// signals, session, streams, directory and limits, and `execve` until
    /// the launcher resumed.
    pub clone_exec: Duration,
    /// The request's way, from procbox's sending it to the launcher's
    /// having read it: its encoding, the socket, the launcher's wake-up
    /// and its decoding, and any wait behind requests the launcher serves
    /// before it (one at a time) or, for a launcher just started, for its
    /// probe and hello. (Timed by procbox on the same monotonic clock.)
    pub request_way: Duration,
    /// The reply's way, from the launcher's sending it to the spawn's
    /// resuming: the socket made for the request, and the wake-up of the
    /// task that waits for it (it reads the reply itself).
    pub reply_way: Duration,
}

/// What a child's whole tree used, as its cgroup counted it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeUsage {
    /// Time spent in user mode by every process of the tree.
    pub user_cpu: Duration,
    /// Time spent in the kernel on the tree's behalf.
    pub system_cpu: Duration,
    /// The most memory the tree used at once, in bytes.
    pub peak_memory_bytes: u64,
}

impl ExitStatus {
    /// Whether the child succeeded: it exited with code 0, was not timed
    /// out, and its output was not truncated. The one success rule of
    /// `procbox:host/process` (see `wit/process.wit`).
    pub fn success(&self) -> bool {
        self.termination == Termination::Exited(0) && !self.timed_out && !self.output_truncated
    }
}

impl Termination {
    /// Decodes a raw `wait` status word.
    pub fn from_raw(status: libc::c_int) -> Termination {
        if libc::WIFSIGNALED(status) {
            Termination::Signalled(libc::WTERMSIG(status))
        } else {
            Termination::Exited(libc::WEXITSTATUS(status))
        }
    }
}

impl Usage {
    /// Converts the kernel's `rusage` (Linux reports `ru_maxrss` in KiB).
    pub fn from_rusage(ru: &libc::rusage) -> Usage {
        let time = |tv: libc::timeval| {
            Duration::from_secs(tv.tv_sec.max(0) as u64) + Duration::from_micros(tv.tv_usec.max(0) as u64)
        };
        Usage {
            user_cpu: time(ru.ru_utime),
            system_cpu: time(ru.ru_stime),
            max_rss_bytes: (ru.ru_maxrss.max(0) as u64) * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ExitStatus, SpawnStages, Termination, Usage};
    use std::time::Duration;

    /// The success rule of `wit/process.wit`, as the SDK's unit test states it.
    #[test]
    fn success_is_exit_0_without_timeout_or_truncation() {
        let status = |termination, timed_out, output_truncated| ExitStatus {
            termination,
            duration: Duration::ZERO,
            timed_out,
            output_truncated,
            usage: Usage::default(),
            tree_usage: None,
            stages: SpawnStages::default(),
        };
        let cases = [
            (status(Termination::Exited(0), false, false), true),
            (status(Termination::Exited(1), false, false), false),
            (status(Termination::Signalled(9), false, false), false),
            (status(Termination::Signalled(13), false, false), false),
            (status(Termination::Exited(0), true, false), false),
            (status(Termination::Exited(0), false, true), false),
        ];
        for (status, success) in cases {
            assert_eq!(status.success(), success, "{status:?}");
        }
    }
}
