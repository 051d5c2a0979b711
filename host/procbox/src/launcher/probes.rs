//! The kernel probes (Landlock, seccomp, a PID namespace), made for real in
//! a helper process exec'd from procbox's image ([`super::image`]), never
//! in a fork of a threaded procbox: making a namespace needs a process with
//! one thread, and the probe's set-up allocates.

use std::io::Read;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use super::{entry, image};
use crate::process_tree::namespace::NoNamespace;

/// What the probe process found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probed {
    /// The Landlock ABI that really restricts a process (0: none).
    pub landlock_abi: u32,
    /// Whether a seccomp filter really loads.
    pub seccomp: bool,
    /// Whether children can get a PID namespace: `Ok(true)` when it needs a
    /// user namespace (procbox is not root); `Err` says why not.
    pub namespace: Result<bool, NoNamespace>,
}

/// Why the probe process gave no answer: it could not be started, or did
/// not answer as procbox's probe.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct ProbeError(Arc<std::io::Error>);

/// The probe's findings, once per process; `Err` when the probe process
/// could not run.
pub fn probed() -> &'static Result<Probed, ProbeError> {
    PROBED.get_or_init(|| {
        let found = run_probe().map_err(|e| ProbeError(Arc::new(e)));
        if let Err(e) = &found {
            tracing::warn!("{e}: procbox counts this kernel as enforcing nothing");
        }
        found
    })
}

static PROBED: OnceLock<Result<Probed, ProbeError>> = OnceLock::new();

/// A probe process started ahead of need ([`start_early`]).
struct Pending {
    pid: libc::pid_t,
    /// Where its answer comes.
    answer: std::io::PipeReader,
}

static PENDING: Mutex<Option<Pending>> = Mutex::new(None);

/// Starts the probe process now, so that its answer is ready when a run
/// first asks ([`probed`]): the probe then runs while procbox loads the
/// plugin. Call it from a thread that lives as long as the process (the
/// probe's death signal is tied to the thread that starts it).
///
/// # Errors
/// The OS error of starting it; [`probed`] then tries again.
pub(super) fn start_early() -> std::io::Result<()> {
    let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    if PROBED.get().is_none() && pending.is_none() {
        *pending = Some(start()?);
    }
    Ok(())
}

/// Runs in the probe process (one thread, clean image), which exits right
/// after: tries each mechanism on itself, with no child but the
/// namespace's init. The namespace first: Landlock and seccomp stay on the
/// process once tried.
pub fn probe_here() -> Probed {
    let namespace = crate::process_tree::namespace::probe_here().map_err(NoNamespace::from);
    let (landlock_abi, seccomp) = crate::sandbox::probe::probe_here();
    Probed {
        landlock_abi,
        seccomp,
        namespace,
    }
}

/// How long procbox's exit waits for an unasked probe to finish on its
/// own before killing it. A probe takes milliseconds.
const UNASKED_BOUND: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs in procbox at exit ([`super::exit`]): reaps a probe started early
/// whose answer nobody asked for. Its pid is owned and unreaped, so it
/// cannot have been reused.
///
/// The probe is let finish rather than killed: it makes a PID namespace
/// whose init is its own child, and ends that init before it answers.
/// Killed in the middle, it would leave the init to procbox's nearest
/// subreaper (a container's entrypoint, a CI agent), a zombie there once
/// its death signal ends it. With the pipe closed, its answer fails and
/// it exits; only one that has not within [`UNASKED_BOUND`] is killed.
pub(super) fn reap_unasked() {
    use rustix::process::{kill_process, waitpid, Pid, Signal, WaitOptions};
    let Some(Pending { pid, answer }) = PENDING.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    drop(answer);
    if let Some(child) = Pid::from_raw(pid) {
        if !exits_within(child, UNASKED_BOUND) {
            let _ = kill_process(child, Signal::KILL);
        }
        while let Err(rustix::io::Errno::INTR) = waitpid(Some(child), WaitOptions::empty()) {}
    }
    crate::sys::owned::release(pid);
}

/// Whether the child `pid` exits within `bound` (not reaped: its pidfd
/// turns readable). `false` when the kernel has no pidfds.
fn exits_within(pid: rustix::process::Pid, bound: std::time::Duration) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let Ok(pidfd) = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) else {
        return false;
    };
    let timeout = Timespec {
        tv_sec: bound.as_secs() as _,
        tv_nsec: bound.subsec_nanos() as _,
    };
    let mut polled = [PollFd::new(&pidfd, PollFlags::IN)];
    loop {
        match poll(&mut polled, Some(&timeout)) {
            Ok(ready) => return ready > 0,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return false,
        }
    }
}

/// Starts the probe process, its pid owned (the reaper of adopted orphans
/// must not reap it and lose its answer).
fn start() -> std::io::Result<Pending> {
    let (answer, write_end) = std::io::pipe()?;
    let streams = image::Streams {
        stdout: Some(write_end.as_fd()),
        fd3: None,
    };
    let mut owned = crate::sys::owned::Owned::lock();
    let pid = image::start(entry::PROBE, &streams, true)?;
    owned.insert(pid);
    Ok(Pending { pid, answer })
}

/// Reads the answer of the probe started early, or of one started now.
fn run_probe() -> std::io::Result<Probed> {
    let early = PENDING.lock().unwrap_or_else(|e| e.into_inner()).take();
    let Pending { pid, mut answer } = match early {
        Some(pending) => pending,
        None => start()?,
    };
    let mut json = Vec::new();
    let read = answer.read_to_end(&mut json);
    let status = loop {
        match rustix::process::waitpid(
            rustix::process::Pid::from_raw(pid),
            rustix::process::WaitOptions::empty(),
        ) {
            Ok(Some((_, status))) => break status.as_raw(),
            Err(rustix::io::Errno::INTR) => {}
            _ => break 0,
        }
    };
    crate::sys::owned::release(pid);
    read?;
    let not_a_probe = |why: String| {
        std::io::Error::other(format!(
            "{} did not answer as procbox's probe ({why}); if it is not a program linked with this version \
             of procbox, name one with procbox::set_launcher_program",
            image::program().display()
        ))
    };
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(not_a_probe(format!("it ended with status {status:#x}")));
    }
    serde_json::from_slice(&json).map_err(|e| not_a_probe(e.to_string()))
}
