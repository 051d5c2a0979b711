//! The process tree: **containment**, so that nothing a plugin starts
//! outlives it or grows past its limits. Its sibling, the sandbox
//! (`sandbox`), confines what each child may do; how strictly each must
//! be enforced is one ladder, `Strictness` (`--contain`, `--confine`).
//!
//! Its layer (one of the kernel's three, with the sandbox and the
//! launcher) owns the PID namespace and its init, the `--contain` ladder
//! ([`namespace`]), the run's and each measured child's cgroups
//! ([`cgroup`], [`measure`]) and the subreaper's sweep (this file). It may
//! use `sys`, `exit` and the terms of a grant (`terms`), never the
//! launcher, which enters this layer's namespace and cgroups: the methods
//! that ask the probe (`NamespaceSupport::get`, `Containment::decide`)
//! live with it (`launcher::findings`), and the sweep learns the
//! launchers' own pids, which it leaves alone, from `sys::owned`.
//!
//! - **The kernel's** ([`namespace`]): children in a PID namespace whose
//!   init dies with procbox, with a private `/proc`. Where the kernel
//!   allows it (`--contain`), this holds even when procbox is SIGKILLed.
//! - **Bookkeeping's** (this file), for a process that owns all of its
//!   children (the `procbox` command line), and the fallback: a
//!   grandchild can leave its process group (`setsid`, a daemon's double
//!   fork), and then a group kill misses it. With procbox as the *child
//!   subreaper*, such orphans are re-parented to procbox instead of to
//!   init, so that [`kill_adopted`] can find, kill and reap them when the
//!   plugin ends (in a PID namespace, they go to its init instead, and
//!   killing that init ends them all). An embedding application that has
//!   children of its own must not call `kill_adopted`: it kills every child
//!   of the process.

pub mod cgroup;
mod errors;
pub mod measure;
pub mod namespace;

use std::io;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, WaitOptions, WaitStatus};

pub use errors::ProbeError;
pub use namespace::Containment;

/// Makes this process the subreaper of its descendants (Linux 3.4+).
///
/// # Errors
/// If the kernel refuses.
pub fn become_subreaper() -> io::Result<()> {
    Ok(rustix::process::set_child_subreaper(Some(rustix::process::getpid()))?)
}

/// Marks every file descriptor from 3 up close-on-exec, so that children
/// see only their own stdio even if this process inherited descriptors
/// without the flag (a parent's jobserver pipes, a leaky launcher). Only for
/// a process that does not itself rely on passing descriptors to children.
///
/// # Errors
/// If neither `close_range` (Linux 5.11+) nor the `/proc/self/fd` fallback
/// works.
pub fn cloexec_inherited_fds() -> io::Result<()> {
    if crate::sys::cloexec_from(3).is_ok() {
        return Ok(());
    }
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd >= 3)
        .collect();
    for fd in fds {
        // SAFETY: borrowed for one `fcntl` that sets FD_CLOEXEC, which
        // changes nothing for whoever owns the descriptor until an `exec`;
        // if it was the listing's own handle, closed by now, the call
        // fails with EBADF and touches nothing.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let _ = rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC);
    }
    Ok(())
}

/// The pids whose parent is this process. Reads each thread's
/// `/proc/self/task/TID/children` (cheap: only our own children), or, on a
/// kernel without that file, scans every `/proc/PID/stat`.
pub fn children() -> Vec<libc::pid_t> {
    let mut pids = all_children();
    // The launchers are ours, not the plugin's: they outlive runs.
    let launchers = crate::sys::owned::helpers();
    pids.retain(|pid| !launchers.contains(pid));
    pids
}

fn all_children() -> Vec<libc::pid_t> {
    if std::path::Path::new("/proc/thread-self/children").exists() {
        return children_of_our_threads();
    }
    let me = std::process::id() as libc::pid_t;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|pid| parent_of(*pid) == Some(me))
        .collect()
}

/// Children listed under each of our threads. A thread that exits while we
/// read hands its children to another thread; the caller's sweep repeats
/// until none are left, so a child missed in one pass is found in the next.
fn children_of_our_threads() -> Vec<libc::pid_t> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut pids: Vec<libc::pid_t> = tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<_>>()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// `pid`'s command name, for messages.
fn process_name(pid: libc::pid_t) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).map_or_else(|_| "?".into(), |name| name.trim().to_string())
}

fn parent_of(pid: libc::pid_t) -> Option<libc::pid_t> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state, then ppid.
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// Kills (SIGKILL) and reaps every child of this process that procbox did
/// not start (see `kill_strays`), round after round as killed processes' own
/// orphans are re-parented here, until none is left or `bound` has passed.
/// Returns how many were killed.
///
/// Rounds are bounded by time, not by count: each round uncovers only the
/// orphans of the round before, so a chain of nested sessions needs one
/// round per level (80 levels take a few milliseconds).
pub async fn kill_adopted(bound: Duration) -> usize {
    let deadline = std::time::Instant::now() + bound;
    let sweep = tokio::task::spawn_blocking(move || {
        let mut killed = 0;
        while std::time::Instant::now() < deadline {
            let pids = kill_strays();
            if pids.is_empty() {
                break;
            }
            reap_all(pids.clone());
            killed += pids.len();
        }
        killed
    });
    tokio::time::timeout(bound, sweep)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(0)
}

/// One pass of the sweep: SIGKILLs every child of ours that procbox did
/// not start (no watcher owns it, and it is no launcher or namespace init,
/// running or being ended) and returns their pids, to reap. Each is killed
/// while unreaped, so its pid cannot have been reused: the registry of
/// owned children stays locked from the listing to the kills (a watcher
/// releases its child's pid only under it), and the launchers are listed
/// before the children (one is listed until reaped, so a launcher in the
/// listing was in that list).
fn kill_strays() -> Vec<libc::pid_t> {
    let launchers = crate::sys::owned::helpers();
    let owned = crate::sys::owned::Owned::lock();
    let mut pids = all_children();
    pids.retain(|pid| !launchers.contains(pid) && !owned.contains(*pid));
    for &pid in &pids {
        tracing::debug!("killing {pid}, a child procbox did not start: {}", process_name(pid));
        if let Some(pid) = Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
    pids
}

/// Reaps every one of `pids` (killed children of ours), in whatever order
/// they exit: a PID namespace's init exits only after procbox has reaped
/// the members that are procbox's own children, so waiting for init first
/// would wait forever.
fn reap_all(mut pids: Vec<libc::pid_t>) {
    loop {
        // Kept while one runs; gone once reaped here, or if someone else
        // reaped it.
        pids.retain(|&pid| matches!(try_reap(pid), Ok(None)));
        if pids.is_empty() {
            return;
        }
        // Wait until one of them exits: their pidfds become readable.
        let fds: Vec<std::os::fd::OwnedFd> = pids
            .iter()
            .filter_map(|&pid| crate::sys::pidfd::pidfd_open(pid).ok())
            .collect();
        let mut polls: Vec<PollFd<'_>> = fds.iter().map(|fd| PollFd::new(fd, PollFlags::IN)).collect();
        // Without pidfds (Linux before 5.3): look again in 10 ms.
        let wait = if polls.len() == pids.len() {
            Timespec { tv_sec: 1, tv_nsec: 0 }
        } else {
            Timespec {
                tv_sec: 0,
                tv_nsec: 10_000_000,
            }
        };
        let _ = rustix::event::poll(&mut polls, Some(&wait));
    }
}

/// `waitpid(pid, WNOHANG)` on a child of ours: `None` while it runs.
fn try_reap(pid: libc::pid_t) -> rustix::io::Result<Option<(Pid, WaitStatus)>> {
    let pid = Pid::from_raw(pid).ok_or(rustix::io::Errno::CHILD)?;
    rustix::process::waitpid(Some(pid), WaitOptions::NOHANG)
}

/// Reaps every adopted orphan that has already exited (a zombie), leaving
/// alone the children a procbox watcher owns and any process still
/// running. Call it on SIGCHLD while a plugin runs: a grandchild killed with
/// its group is re-parented here, and would otherwise stay a zombie (and
/// hold a pid) until the plugin ends. Returns how many it reaped.
pub fn reap_adopted_zombies() -> usize {
    let mut reaped = 0;
    let candidates = children();
    let mut owned = crate::sys::owned::Owned::lock();
    if !owned.may_reap() {
        return 0;
    }
    for pid in candidates {
        // Our own child that no watcher owns: reaped if it has exited.
        if !owned.contains(pid) && matches!(try_reap(pid), Ok(Some(_))) {
            reaped += 1;
        }
    }
    reaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_lists_our_own_children_and_only_them() {
        let mut child = std::process::Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id() as libc::pid_t;
        assert!(children().contains(&pid), "{:?} misses {pid}", children());
        assert!(!children().contains(&1), "init is nobody's child here");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!children().contains(&pid), "a reaped child is gone");
    }
}
