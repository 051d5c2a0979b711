//! The process supervisor: starts a permitted program, watches for its
//! exit, enforces its timeout, and reaps it.
//!
//! It owns processes (a child's streams, watchers, timeouts, reaping, the
//! handle) and admission, the limits that make the [`Permit`] it spawns
//! from (`admission.rs`). It may use the launcher (the spawn primitive and
//! the launcher process that start a child), the sandbox's and the process
//! tree's plans, the gate's errors and decisions, the policy's limits,
//! `sys`, `exit` and `redirect`; no layer above it (the spawn path).
//!
//! Rules, in the order they matter:
//! - **Only from a [`Permit`].** [`spawn`] takes nothing else, and only
//!   [`admission::Admission`] makes permits, after the gate and the hooks.
//! - **One watcher per child** owns the child's exit: it is the only code
//!   that reaps ([`watch`]). Until it has reaped, the child's pid (and so
//!   its process group id) cannot be reused, so signalling them is safe;
//!   after, nobody signals them again ([`process`]).
//! - **The group goes with the leader.** Each child leads its own session
//!   and process group ([`launch`]). When it exits, the watcher kills
//!   whatever is left in its group *before* reaping it (the zombie leader
//!   keeps the group id pinned), so a background grandchild cannot keep
//!   pipes open and hang a reader.
//! - **Dropping a [`Process`] kills the group** with SIGKILL and never
//!   blocks: the watcher reaps in the background. If the runtime shuts down
//!   first, the watcher's guard kills and reaps on a plain thread.
//! - **A confined child is started by the [`launcher`]** process with
//!   `clone(CLONE_VM | CLONE_VFORK | CLONE_PARENT)`: it is still procbox's
//!   child, so everything above holds for it unchanged.
//! - **Our own spawn primitive** for an unconfined child ([`launch`], the
//!   launcher layer's):
//!   `clone(CLONE_VM | CLONE_VFORK)` + `exec` ([`launch::clone_vfork`]), as
//!   glibc's `posix_spawn` does it, so its cost does not grow with the
//!   host's memory; the child applies its [`ChildSetup`] (rlimits, the
//!   death signal) with system calls only.
//!
//! Where things are: [`admission`] makes permits, [`connect`] opens the
//! child's streams, [`launcher`] and [`launch`] (the layer below) start it, [`watch`] waits, times out and reaps,
//! [`process`] is the handle, [`os`] hides the signal and reap system calls
//! for tests.

pub mod admission;
pub mod connect;
pub mod os;
pub mod process;
pub mod stages;
pub mod watch;

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch as channel;

use crate::exit::LauncherStages;
use crate::gate::{Absence, Exceeded, Invalid, Limit, Missing, SpawnError};
use crate::policy::{ChildRlimits, CEILING_GRACE};
use crate::process_tree::measure::ChildCgroup;
use crate::redirect::Target;
use crate::sandbox::plan::{ChildPlan, Planned};

pub use process::{ExitWaiter, OutputLimiter, Process};

use crate::launcher;
use crate::launcher::launch::{self, ChildFds, Exec, Session};
use crate::launcher::setup::ChildSetup;
use admission::Permit;
use process::Shared;
use stages::StageClock;
use watch::{watch_child, ExitWatch, ReapOnCancel, Watched};

/// When and how to stop a child that runs too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout {
    /// How long the child may run, from spawn.
    pub after: Duration,
    /// The first signal sent to the process group.
    pub signal: i32,
    /// How long to wait after `signal` before SIGKILL.
    pub grace: Duration,
}

impl Timeout {
    /// The timeout to apply, given the plugin's `requested` one and the
    /// policy's `ceiling`. The ceiling is the user's, so the plugin cannot
    /// stretch it:
    /// - no ceiling: the plugin's timeout, as asked;
    /// - the plugin's timeout fires first: its own signal, but SIGKILL comes
    ///   no later than the ceiling plus [`CEILING_GRACE`], whatever grace it
    ///   asked for (a signal the child ignores, `SIGCONT`, an hour of grace);
    /// - otherwise: the ceiling's own escalation, SIGTERM then SIGKILL after
    ///   [`CEILING_GRACE`].
    pub fn capped(requested: Option<Timeout>, ceiling: Option<Duration>) -> Option<Timeout> {
        let Some(ceiling) = ceiling else {
            return requested;
        };
        match requested {
            Some(requested) if requested.after < ceiling => {
                let kill_at = (requested.after + requested.grace).min(ceiling + CEILING_GRACE);
                Some(Timeout {
                    grace: kill_at - requested.after,
                    ..requested
                })
            }
            _ => Some(Timeout {
                after: ceiling,
                signal: libc::SIGTERM,
                grace: CEILING_GRACE,
            }),
        }
    }
}

/// procbox's ends of the child's pipes, for the streams that were piped.
#[derive(Debug, Default)]
pub struct Pipes {
    /// The write end of the child's stdin.
    pub stdin: Option<OwnedFd>,
    /// The read end of the child's stdout (and stderr, when merged).
    pub stdout: Option<OwnedFd>,
    /// The read end of the child's stderr.
    pub stderr: Option<OwnedFd>,
}

/// Starts `permit`: its own session (or, with an inherited stream, its own
/// process group), its streams connected, its watcher running.
///
/// Must be called inside a tokio runtime: the child's watcher is a task.
///
/// # Errors
/// [`SpawnError::NotFound`] if the file vanished since the gate resolved it,
/// [`SpawnError::InvalidInput`] if the kernel found the request too large,
/// [`SpawnError::LimitExceeded`] if the tree's cgroup allows no more
/// processes, [`SpawnError::Launcher`] if procbox's launcher cannot be
/// used, and [`SpawnError::Io`] for anything else the OS refused.
pub async fn spawn(
    permit: &mut Permit,
    upstream: Option<OwnedFd>,
    timeout: Option<Timeout>,
    plan: Option<&Planned>,
    measure: Option<ChildCgroup>,
    mut clock: StageClock,
) -> Result<(Process, Pipes), SpawnError> {
    // Only a child the launcher starts can join a cgroup before `exec`.
    let measure = measure.filter(|_| plan.is_some());
    let failed = |what: &str, e: io::Error| SpawnError::io(format_args!("{}: {what}", permit.command_line()), e);
    let env = child_env(permit.env(), plan.map(|p| &p.plan).filter(|p| p.confines()));
    let cwd = open_cwd(permit).map_err(|e| failed("opening the working directory", e))?;
    let connected = connect::connect(permit.stdio(), upstream).map_err(|(what, e)| match e.kind() {
        io::ErrorKind::InvalidInput => SpawnError::from(Invalid::Stream {
            command: permit.command_line(),
            doing: what.to_string(),
            error: e.into(),
        }),
        _ => failed(what, e),
    })?;
    let fds = ChildFds {
        stdio: connected.stdio().map_err(|e| failed("opening /dev/null", e))?,
        cwd: std::os::fd::AsFd::as_fd(&cwd),
    };
    let setup = child_setup(permit.rlimits(), permit.die_with_host());
    clock.starting();
    let (pid, launcher) = match plan {
        None => (launch_here(permit, &env, &fds, &setup)?, None),
        // Registered as owned when the launcher's reply arrives.
        Some(plan) => {
            let (pid, stages) = launch_confined(permit, env, &fds, &setup, plan, measure.as_ref()).await?;
            (pid, Some(stages))
        }
    };
    clock.started(launcher);
    // The child holds its ends now; ours close here, so that end-of-file
    // arrives when the child (and whoever it shared them with) exits.
    let pipes = connected.pipes;
    let shared = Arc::new(Shared::new(pid, &os::System));
    let exit_watch = ExitWatch::new(pid);
    let (tx, rx) = channel::channel(None);
    // The slot counts this child as started, and as running until the
    // watcher has reaped it.
    let slot = permit.started();
    // Armed before the task exists: a task dropped before its first poll
    // (runtime shutting down) still kills and reaps.
    let guard = ReapOnCancel(Some(shared.clone()));
    let watched = Watched { clock, measure };
    tokio::spawn(watch_child(guard, exit_watch, watched, timeout, tx, slot));
    Ok((Process { shared, exit: rx }, pipes))
}

/// The child's environment: the permit's, with `TMPDIR` set to the run's
/// private temporary directory when the child is confined.
fn child_env(env: &[(String, String)], plan: Option<&ChildPlan>) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    if let Some(plan) = plan {
        env.retain(|(name, _)| name != "TMPDIR");
        env.push(("TMPDIR".into(), plan.tmp.to_string_lossy().into_owned()));
    }
    env
}

/// Starts the child from this process (no confinement, no namespace).
fn launch_here(
    permit: &Permit,
    env: &[(String, String)],
    fds: &ChildFds<'_>,
    setup: &ChildSetup,
) -> Result<libc::pid_t, SpawnError> {
    let exec = Exec::new(permit.program(), permit.arg0(), permit.args(), env).map_err(|e| {
        SpawnError::from(Invalid::Exec {
            command: permit.command_line(),
            error: e.into(),
        })
    })?;
    // Registered under the lock the spawn holds: a reaper of adopted
    // orphans never sees this child unowned.
    let mut owned = crate::sys::owned::Owned::lock();
    let pid = launch::launch(&exec, fds, session(permit), setup).map_err(|e| spawn_error(permit, e))?;
    owned.insert(pid);
    Ok(pid)
}

/// Starts the child through the launcher, which confines it with `plan`.
async fn launch_confined(
    permit: &Permit,
    env: Vec<(String, String)>,
    fds: &ChildFds<'_>,
    setup: &ChildSetup,
    planned: &Planned,
    measure: Option<&ChildCgroup>,
) -> Result<(libc::pid_t, LauncherStages), SpawnError> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let (rlimits, die_with) = setup.to_parts();
    let request = launcher::wire::Request {
        program: permit.program().as_os_str().as_bytes().to_vec(),
        arg0: permit.arg0().to_string(),
        args: permit.args().to_vec(),
        env,
        new_session: session(permit) == Session::New,
        rlimits,
        die_with,
        // Only a launcher in its own mount namespace re-opens the directory.
        cwd_path: match planned.plan.tree.pid_namespace {
            true => descriptor_path(fds.cwd).unwrap_or_default(),
            false => Vec::new(),
        },
        join_cgroups: measure
            .map(|m| {
                m.procs_files()
                    .into_iter()
                    .map(|f| f.into_os_string().into_vec())
                    .collect()
            })
            .unwrap_or_default(),
        id: 0,
        plan_id: planned.id,
        plan: None,
    };
    let [stdin, stdout, stderr] = fds.stdio;
    let sent = [stdin, stdout, stderr, fds.cwd];
    launcher::launch(request, &planned.plan, sent)
        .await
        .map_err(|e| launch_error(permit, planned, e))
}

/// What a failure of the launcher means to the plugin: the one place that
/// maps [`launcher::LaunchError`] to [`SpawnError`].
fn launch_error(permit: &Permit, planned: &Planned, error: launcher::LaunchError) -> SpawnError {
    use launcher::LaunchError;
    let command = permit.command_line();
    match error {
        LaunchError::Child(e) if e.raw_os_error() == Some(libc::EAGAIN) && !planned.plan.tree.cgroups.is_empty() => {
            Exceeded::starting(command, Limit::Processes).into()
        }
        LaunchError::Child(e) => spawn_error(permit, e),
        LaunchError::Launcher(e) => SpawnError::Launcher {
            command,
            error: e.into(),
        },
        LaunchError::Confinement(message) => {
            SpawnError::denied(format!("{command}: cannot confine the child: {message}"))
        }
        LaunchError::Directory(e, message) => SpawnError::io(format_args!("{command}: {message}"), e),
        LaunchError::Request(message) => Invalid::LauncherRefused { command, message }.into(),
    }
}

/// The path a descriptor refers to, as the kernel names it in our mount
/// namespace.
fn descriptor_path(fd: std::os::fd::BorrowedFd<'_>) -> Option<Vec<u8>> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStringExt;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    Some(link.into_os_string().into_vec())
}

/// The working directory, opened beneath the granted directory it was
/// checked in (or, for the start directory, by its path).
fn open_cwd(permit: &Permit) -> io::Result<OwnedFd> {
    let directory = libc::O_PATH | libc::O_DIRECTORY;
    match permit.cwd_root() {
        Some(root) => crate::sys::beneath::Beneath {
            root,
            path: permit.cwd(),
        }
        .open(directory, 0),
        None => crate::sys::beneath::open_path(permit.cwd(), directory),
    }
}

/// A child that uses procbox's own terminal streams stays in procbox's
/// session; every other child gets a session of its own, and with it no
/// controlling terminal.
fn session(permit: &Permit) -> Session {
    let stdio = permit.stdio();
    let streams = [&stdio.stdin, &stdio.stdout, &stdio.stderr];
    match streams.iter().any(|t| **t == Target::Inherit) {
        true => Session::SameAsProcbox,
        false => Session::New,
    }
}

fn spawn_error(permit: &Permit, err: io::Error) -> SpawnError {
    let program = permit.program().display();
    match err.kind() {
        io::ErrorKind::NotFound => SpawnError::NotFound(Missing {
            program: program.to_string(),
            why: Absence::Exec(err.into()),
        }),
        io::ErrorKind::ArgumentListTooLong => Invalid::KernelTooLarge {
            program: program.to_string(),
            error: err.into(),
        }
        .into(),
        _ => SpawnError::io(format_args!("starting {program}"), err),
    }
}

/// The setup for a child with `rlimits` that must (or need not) die with
/// procbox, started in procbox's PID namespace (its parent visible).
fn child_setup(rlimits: &ChildRlimits, die_with_host: bool) -> ChildSetup {
    #[allow(clippy::unnecessary_cast)] // the resource type is u32 on glibc only
    let rlimits: Vec<(u32, u64)> = rlimits.to_set().into_iter().map(|(r, v)| (r as u32, v)).collect();
    let die_with = die_with_host.then(|| rustix::process::getpid().as_raw_nonzero().get());
    ChildSetup::from_parts(&rlimits, die_with, false)
}

#[cfg(test)]
mod tests;
