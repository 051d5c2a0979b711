//! The process supervisor: starts a permitted program in its own process
//! group, watches for its exit, enforces its timeout, and reaps it.
//!
//! Rules, in the order they matter:
//! - **Only from a [`Permit`].** [`spawn`] takes nothing else, and only the
//!   gate makes permits.
//! - **One watcher per child** owns the child's exit: it is the only code
//!   that reaps. Until it has reaped, the child's pid (and so its process
//!   group id) cannot be reused, so signalling them is safe; after, nobody
//!   signals them again. A mutex makes "check not reaped, then signal"
//!   atomic against the reap.
//! - **The group goes with the leader.** When the child exits, the watcher
//!   kills whatever is left in its process group *before* reaping it (the
//!   zombie leader keeps the group id pinned), so a background grandchild
//!   cannot keep pipes open and hang a reader.
//! - **Dropping a [`Process`] kills the group** with SIGKILL and never
//!   blocks: the watcher reaps in the background. If the runtime shuts down
//!   first, the watcher's guard kills and reaps on a plain thread.
//! - Spawning uses `std::process::Command`. Without `pre_exec` it stays on
//!   the `posix_spawn` (vfork-class) path, whose cost does not grow with the
//!   host's memory. Child rlimits and `PR_SET_PDEATHSIG` must run in the
//!   child before `exec`, so only when the policy asks for them does
//!   spawning take the `fork`+`exec` path.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::sync::watch;

use crate::error::SpawnError;
use crate::exit::{ExitStatus, Termination, Usage};
use crate::gate::{ChildSlot, Permit};
use crate::policy::CEILING_GRACE;
use crate::redirect::Target;

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
    /// The timeout to apply: the plugin's `requested` one, shortened to the
    /// policy's `ceiling`; or the ceiling alone (SIGTERM, then SIGKILL after
    /// [`CEILING_GRACE`]) when the plugin asked for none.
    pub fn capped(requested: Option<Timeout>, ceiling: Option<Duration>) -> Option<Timeout> {
        match (requested, ceiling) {
            (requested, None) => requested,
            (None, Some(ceiling)) => Some(Timeout {
                after: ceiling,
                signal: libc::SIGTERM,
                grace: CEILING_GRACE,
            }),
            (Some(requested), Some(ceiling)) => Some(Timeout {
                after: requested.after.min(ceiling),
                ..requested
            }),
        }
    }
}

/// procbox's ends of the child's pipes, for the streams that were piped.
#[derive(Debug, Default)]
pub struct Pipes {
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

/// What the watcher publishes once it has reaped the child.
type Exit = Option<Result<ExitStatus, SpawnError>>;

/// A child started by [`spawn`]. Dropping it kills the child's process group.
#[derive(Debug)]
pub struct Process {
    shared: Arc<Shared>,
    exit: watch::Receiver<Exit>,
}

/// Starts `permit` in a new process group.
///
/// Must be called inside a tokio runtime: the child's watcher is a task.
///
/// # Errors
/// [`SpawnError::NotFound`] if the file vanished since the gate resolved it,
/// [`SpawnError::InvalidInput`] if the kernel found the request too large,
/// and [`SpawnError::Io`] for anything else the OS refused.
pub fn spawn(
    permit: &mut Permit,
    upstream: Option<OwnedFd>,
    timeout: Option<Timeout>,
) -> Result<(Process, Pipes), SpawnError> {
    let mut command = std::process::Command::new(permit.program());
    command
        .arg0(permit.arg0())
        .args(permit.args())
        .env_clear()
        .envs(permit.env().iter().map(|(k, v)| (k, v)))
        .current_dir(permit.cwd())
        .process_group(0);
    let merged_read_end = connect_stdio(&mut command, permit, upstream)?;
    prepare_child(&mut command, permit);
    let started = Instant::now();
    let mut child = command.spawn().map_err(|e| spawn_error(permit, e))?;
    // Our own pipe for `2>&1`: close our copies of its write end (the
    // child holds them now) so end-of-file arrives when the child exits.
    drop(command);
    let pipes = Pipes {
        stdin: child.stdin.take().map(OwnedFd::from),
        stdout: child.stdout.take().map(OwnedFd::from).or(merged_read_end),
        stderr: child.stderr.take().map(OwnedFd::from),
    };
    let shared = Arc::new(Shared {
        pid: child.id() as libc::pid_t,
        reaped: Mutex::new(false),
        output_truncated: AtomicBool::new(false),
    });
    // `child` is dropped here without waiting, which std allows: from now on
    // the watcher alone reaps it.
    drop(child);
    let exit_watch = ExitWatch::new(shared.pid);
    let (tx, rx) = watch::channel(None);
    // The slot counts this child as running until the watcher has reaped it.
    let slot = permit.take_slot();
    // Armed before the task exists: a task dropped before its first poll
    // (runtime shutting down) still kills and reaps.
    let guard = ReapOnCancel(Some(shared.clone()));
    tokio::spawn(watch_child(guard, exit_watch, started, timeout, tx, slot));
    Ok((Process { shared, exit: rx }, pipes))
}

/// Connects the child's stdin, stdout and stderr to the permit's targets.
/// Returns procbox's read end when stderr joins a piped stdout (`2>&1`),
/// which needs a pipe of our own.
fn connect_stdio(
    command: &mut std::process::Command,
    permit: &Permit,
    upstream: Option<OwnedFd>,
) -> Result<Option<OwnedFd>, SpawnError> {
    let targets = permit.stdio();
    let failed = |what: &str, e: io::Error| SpawnError::io(format_args!("{}: {what}", permit.command_line()), e);
    let stdin = match &targets.stdin {
        Target::ChildStdout => {
            let fd = upstream.ok_or_else(|| SpawnError::InvalidInput("stdin: no child stdout was given".into()))?;
            Stdio::from(fd)
        }
        Target::File { path, .. } => {
            Stdio::from(open_file(path, false, false).map_err(|e| failed("opening stdin", e))?)
        }
        other => simple_stdio(other),
    };
    let merge = targets.stderr == Target::SameAsStdout;
    let mut read_end = None;
    // The stdout sink, and a duplicate of it for stderr when merged.
    let (stdout, for_stderr): (Stdio, Option<Stdio>) = match &targets.stdout {
        Target::Piped if merge => {
            let (reader, writer) = std::io::pipe().map_err(|e| failed("creating a pipe", e))?;
            read_end = Some(OwnedFd::from(reader));
            let copy = writer.try_clone().map_err(|e| failed("duplicating a pipe", e))?;
            (Stdio::from(writer), Some(Stdio::from(copy)))
        }
        Target::File { path, append } => {
            let file = open_file(path, true, *append).map_err(|e| failed("opening stdout", e))?;
            let copy = if merge {
                Some(Stdio::from(
                    file.try_clone().map_err(|e| failed("duplicating stdout", e))?,
                ))
            } else {
                None
            };
            (Stdio::from(file), copy)
        }
        other => (simple_stdio(other), merge.then(|| simple_stdio(other))),
    };
    let stderr = match (&targets.stderr, for_stderr) {
        (_, Some(merged)) => merged,
        (Target::File { path, append }, None) => {
            Stdio::from(open_file(path, true, *append).map_err(|e| failed("opening stderr", e))?)
        }
        (other, None) => simple_stdio(other),
    };
    command.stdin(stdin).stdout(stdout).stderr(stderr);
    Ok(read_end)
}

/// Stdio for targets that need no descriptor of ours.
fn simple_stdio(target: &Target) -> Stdio {
    match target {
        Target::Piped => Stdio::piped(),
        Target::Inherit => Stdio::inherit(),
        _ => Stdio::null(),
    }
}

/// Opens a redirection file; its last component must not be a symlink
/// (O_NOFOLLOW), even if one appeared since the gate looked.
fn open_file(path: &std::path::Path, write: bool, append: bool) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    if write {
        options.write(true).create(true).mode(0o644);
        if append {
            options.append(true)
        } else {
            options.truncate(true)
        };
    } else {
        options.read(true);
    }
    options.open(path)
}

/// Sets the child's rlimits and death signal before `exec`, when the
/// policy asks for any (this forces the `fork` path).
fn prepare_child(command: &mut std::process::Command, permit: &Permit) {
    let limits = permit.rlimits().to_set();
    let die_with_host = permit.die_with_host();
    if limits.is_empty() && !die_with_host {
        return;
    }
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    let setup = move || -> io::Result<()> {
        // Only async-signal-safe syscalls from here on: this runs in the
        // forked child. `limits` was allocated before the fork.
        for &(resource, value) in &limits {
            let limit = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            // SAFETY: a valid pointer to a local.
            if unsafe { libc::setrlimit(resource, &limit) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        if die_with_host {
            // SAFETY: plain prctl and getppid calls.
            unsafe {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // procbox may have died before the prctl took effect.
                if libc::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
            }
        }
        Ok(())
    };
    // SAFETY: `setup` only makes async-signal-safe syscalls and allocates
    // nothing.
    unsafe { command.pre_exec(setup) };
}

fn spawn_error(permit: &Permit, err: io::Error) -> SpawnError {
    let program = permit.program().display();
    match err.kind() {
        io::ErrorKind::NotFound => SpawnError::NotFound(format!("{program}: {err}")),
        io::ErrorKind::ArgumentListTooLong => SpawnError::InvalidInput(format!(
            "{program}: the kernel refused the arguments and environment as too large ({err})"
        )),
        _ => SpawnError::io(format_args!("starting {program}"), err),
    }
}

impl Process {
    /// The child's process id (also its process group id).
    pub fn id(&self) -> u32 {
        self.shared.pid as u32
    }

    /// Waits until the child has exited and been reaped.
    ///
    /// # Errors
    /// [`SpawnError::Io`] if the exit status could not be collected, e.g.
    /// because code outside procbox reaped the child.
    pub async fn wait(&mut self) -> Result<ExitStatus, SpawnError> {
        match self.exit.wait_for(Option::is_some).await {
            Ok(exit) => exit.clone().expect("wait_for returned a published exit"),
            // The watcher is gone without publishing: only when the runtime
            // is shutting down, and then its guard kills and reaps.
            Err(_) => Err(SpawnError::Io("the child's supervisor stopped before it exited".into())),
        }
    }

    /// The exit status if the child has already been reaped.
    pub fn try_wait(&self) -> Option<Result<ExitStatus, SpawnError>> {
        self.exit.borrow().clone()
    }

    /// Sends `signal` to the child process itself. Does nothing once the
    /// child has been reaped.
    ///
    /// # Errors
    /// [`SpawnError::Io`] if the kernel refuses the signal.
    pub fn signal(&self, signal: i32) -> Result<(), SpawnError> {
        self.shared.signal(signal, SignalTarget::Child)
    }

    /// Sends SIGKILL to the child's whole process group. Does nothing once
    /// the child has been reaped.
    ///
    /// # Errors
    /// [`SpawnError::Io`] if the kernel refuses the signal.
    pub fn kill(&self) -> Result<(), SpawnError> {
        self.shared.signal(libc::SIGKILL, SignalTarget::Group)
    }

    /// A handle that kills this child for exceeding its output cap.
    pub fn output_limiter(&self) -> OutputLimiter {
        OutputLimiter(self.shared.clone())
    }

    /// A handle that resolves once this child has been reaped, usable after
    /// the `Process` itself is gone.
    pub fn waiter(&self) -> ExitWaiter {
        ExitWaiter(self.exit.clone())
    }

    /// Kills the group and waits, at most `bound`, until the child is reaped.
    /// A SIGKILLed child normally goes within microseconds; the bound only
    /// matters for a process stuck in the kernel, which the watcher then
    /// reaps later.
    pub async fn kill_and_reap(&mut self, bound: Duration) {
        let _ = self.kill();
        let _ = tokio::time::timeout(bound, self.wait()).await;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.shared.signal(libc::SIGKILL, SignalTarget::Group);
    }
}

/// Kills a child whose output went over the policy's cap, and marks its
/// exit status `output_truncated`.
#[derive(Debug, Clone)]
pub struct OutputLimiter(Arc<Shared>);

impl OutputLimiter {
    /// Marks the output truncated and kills the child's process group.
    pub fn exceeded(&self) {
        self.0.output_truncated.store(true, Ordering::Release);
        let _ = self.0.signal(libc::SIGKILL, SignalTarget::Group);
    }
}

/// Resolves once a child has been reaped.
#[derive(Debug, Clone)]
pub struct ExitWaiter(watch::Receiver<Exit>);

impl ExitWaiter {
    /// Whether the child has been reaped already.
    pub fn is_reaped(&self) -> bool {
        self.0.borrow().is_some()
    }

    /// Waits until the child has been reaped and returns its status.
    ///
    /// # Errors
    /// As [`Process::wait`].
    pub async fn status(mut self) -> Result<ExitStatus, SpawnError> {
        match self.0.wait_for(Option::is_some).await {
            Ok(exit) => exit.clone().expect("wait_for returned a published exit"),
            Err(_) => Err(SpawnError::Io("the child's supervisor stopped before it exited".into())),
        }
    }

    /// Waits until every child in `waiters` has been reaped, for at most
    /// `bound` in total.
    pub async fn all_reaped(waiters: Vec<ExitWaiter>, bound: Duration) {
        let deadline = tokio::time::Instant::now() + bound;
        for mut waiter in waiters {
            let _ = tokio::time::timeout_at(deadline, waiter.0.wait_for(Option::is_some)).await;
        }
    }
}

/// Who receives a signal.
#[derive(Debug, Clone, Copy)]
enum SignalTarget {
    Child,
    Group,
}

/// State shared between a [`Process`] handle and its watcher.
#[derive(Debug)]
struct Shared {
    pid: libc::pid_t,
    /// True once the watcher reaped the child; from then on the pid may
    /// belong to someone else and must not be signalled.
    reaped: Mutex<bool>,
    /// Set when the child was killed for writing more than the output cap.
    output_truncated: AtomicBool,
}

impl Shared {
    fn signal(&self, signal: i32, target: SignalTarget) -> Result<(), SpawnError> {
        let reaped = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
        if *reaped {
            return Ok(());
        }
        // SAFETY: plain syscalls on a pid we own and have not reaped.
        let rc = unsafe {
            match target {
                SignalTarget::Child => libc::kill(self.pid, signal),
                // The leader too, in case it moved itself to another group.
                SignalTarget::Group => libc::killpg(self.pid, signal).min(libc::kill(self.pid, signal)),
            }
        };
        match rc {
            0 => Ok(()),
            _ => match io::Error::last_os_error() {
                // The group may already be empty but for the zombie leader.
                e if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
                e => Err(SpawnError::io(format_args!("signalling process {}", self.pid), e)),
            },
        }
    }

    /// Kills what is left of the group, then reaps the (already exited)
    /// leader. Blocks only until the leader exits, which the caller has
    /// awaited or forced.
    fn reap(&self, started: Instant, timed_out: bool) -> Result<ExitStatus, SpawnError> {
        let duration = started.elapsed();
        let mut reaped = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
        if *reaped {
            return Err(SpawnError::Io(format!("process {} was already reaped", self.pid)));
        }
        // SAFETY: the leader is unreaped, so the group id is still ours.
        unsafe { libc::killpg(self.pid, libc::SIGKILL) };
        let (status, usage) = wait4(self.pid);
        *reaped = true;
        let status = status
            .map_err(|e| SpawnError::io(format_args!("collecting the exit status of process {}", self.pid), e))?;
        Ok(ExitStatus {
            termination: Termination::from_raw(status),
            duration,
            timed_out,
            output_truncated: self.output_truncated.load(Ordering::Acquire),
            usage,
        })
    }
}

/// `wait4(pid)`, retried on EINTR.
fn wait4(pid: libc::pid_t) -> (io::Result<libc::c_int>, Usage) {
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut rusage) };
        if rc == pid {
            return (Ok(status), Usage::from_rusage(&rusage));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return (Err(err), Usage::default());
        }
    }
}

/// Tells when a child has exited, without reaping it.
enum ExitWatch {
    /// A pidfd (readable once the process has exited; Linux 5.3+) and the pid.
    Pidfd(AsyncFd<OwnedFd>, libc::pid_t),
    /// Fallback: a thread blocked in `waitid(WNOWAIT)`.
    Thread(watch::Receiver<bool>),
}

impl ExitWatch {
    fn new(pid: libc::pid_t) -> ExitWatch {
        let registered = pidfd_open(pid).and_then(|fd| {
            // SAFETY: the AsyncFd owns the OwnedFd, which stays open and
            // unchanged until the AsyncFd is dropped.
            unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }.map_err(io::Error::from)
        });
        match registered {
            Ok(fd) => ExitWatch::Pidfd(fd, pid),
            Err(_) => ExitWatch::thread(pid),
        }
    }

    /// Waits in a thread blocked in `waitid(WNOWAIT)`. If no thread can be
    /// made, falls back to a blocking wait on tokio's blocking pool.
    fn thread(pid: libc::pid_t) -> ExitWatch {
        let (tx, rx) = watch::channel(false);
        let wait = move || {
            waitid_nowait(pid);
            let _ = tx.send(true);
        };
        let spawned = std::thread::Builder::new()
            .name(format!("procbox-wait-{pid}"))
            .spawn(wait.clone());
        if spawned.is_err() {
            tokio::task::spawn_blocking(wait);
        }
        ExitWatch::Thread(rx)
    }

    async fn exited(&mut self) {
        match self {
            // Readiness is never cleared, so later calls return at once.
            ExitWatch::Pidfd(fd, pid) => {
                if fd.readable().await.is_err() {
                    // The reactor failed us: block a helper thread instead.
                    *self = ExitWatch::thread(*pid);
                    Box::pin(self.exited()).await;
                }
            }
            ExitWatch::Thread(rx) => drop(rx.wait_for(|exited| *exited).await),
        }
    }
}

fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this fd (it is close-on-exec).
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Blocks until `pid` has exited, leaving it unreaped.
fn waitid_nowait(pid: libc::pid_t) {
    loop {
        // SAFETY: siginfo is plain old data; waitid fills it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if rc == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// The watcher task: waits for the exit (enforcing the timeout), reaps, and
/// publishes the status.
async fn watch_child(
    guard: ReapOnCancel,
    mut exit_watch: ExitWatch,
    started: Instant,
    timeout: Option<Timeout>,
    tx: watch::Sender<Exit>,
    slot: ChildSlot,
) {
    let shared = guard.shared();
    let timed_out = match timeout {
        None => {
            exit_watch.exited().await;
            false
        }
        Some(timeout) => enforce_timeout(&shared, &mut exit_watch, started, timeout).await,
    };
    let status = shared.reap(started, timed_out);
    guard.disarm();
    drop(slot);
    let _ = tx.send(Some(status));
}

/// Waits for the exit; when time runs out, sends the timeout's signal to the
/// group, waits the grace period, then SIGKILLs the group. Returns whether
/// the timeout fired.
async fn enforce_timeout(shared: &Shared, exit_watch: &mut ExitWatch, started: Instant, timeout: Timeout) -> bool {
    let deadline = tokio::time::Instant::from_std(started + timeout.after);
    if tokio::time::timeout_at(deadline, exit_watch.exited()).await.is_ok() {
        return false;
    }
    let _ = shared.signal(timeout.signal, SignalTarget::Group);
    if tokio::time::timeout(timeout.grace, exit_watch.exited()).await.is_err() {
        let _ = shared.signal(libc::SIGKILL, SignalTarget::Group);
        exit_watch.exited().await;
    }
    true
}

/// Kills and reaps the child if the watcher task is dropped before it could
/// (the runtime is shutting down). Reaping moves to a plain thread so that
/// dropping never blocks.
struct ReapOnCancel(Option<Arc<Shared>>);

impl ReapOnCancel {
    fn shared(&self) -> Arc<Shared> {
        self.0.clone().expect("armed until disarmed")
    }

    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for ReapOnCancel {
    fn drop(&mut self) {
        if let Some(shared) = self.0.take() {
            let _ = shared.signal(libc::SIGKILL, SignalTarget::Group);
            let reap = move || {
                waitid_nowait(shared.pid);
                let _ = shared.reap(Instant::now(), false);
            };
            // Without a thread the child stays a zombie until procbox exits.
            let _ = std::thread::Builder::new().name("procbox-reap".into()).spawn(reap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::{Gate, SpawnRequest};
    use crate::policy::PolicyBuilder;
    use crate::redirect::{Redirect, Redirects};
    use crate::resolve::SearchPath;
    use std::ffi::OsStr;
    use std::io::{BufRead, BufReader};

    const TEST_DEADLINE: Duration = Duration::from_secs(30);

    fn permit(program: &str, args: &[&str]) -> Permit {
        permit_with(program, args, Redirects::default())
    }

    fn permit_with(program: &str, args: &[&str], stdio: Redirects<Redirect>) -> Permit {
        let policy = PolicyBuilder::new()
            .start_dir("/")
            .search_path(SearchPath::parse(OsStr::new("/usr/bin:/bin")))
            .allow_run(program)
            .allow_env("PATH=/usr/bin:/bin")
            .build()
            .unwrap();
        let request = SpawnRequest {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            cwd: None,
            stdio,
        };
        Gate::new(Arc::new(policy)).check(&request).unwrap()
    }

    async fn bounded<F: std::future::Future>(f: F) -> F::Output {
        tokio::time::timeout(TEST_DEADLINE, f).await.expect("test deadline")
    }

    fn running(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat.rsplit(')').next().and_then(|r| r.trim_start().chars().next()) != Some('Z'),
            Err(_) => false,
        }
    }

    #[tokio::test]
    async fn reports_exit_code_duration_and_usage() {
        let (mut process, _) = spawn(&mut permit("sh", &["-c", "exit 3"]), None, None).unwrap();
        let status = bounded(process.wait()).await.unwrap();
        assert_eq!(status.termination, Termination::Exited(3));
        assert!(!status.timed_out);
        assert!(status.duration > Duration::ZERO);
        assert!(status.usage.max_rss_bytes > 0, "rusage is filled in: {status:?}");
        // Waiting again returns the same status.
        assert_eq!(bounded(process.wait()).await.unwrap(), status);
        assert_eq!(process.try_wait(), Some(Ok(status)));
    }

    #[tokio::test]
    async fn a_signal_is_reported_as_such() {
        let (mut process, _) = spawn(&mut permit("sleep", &["1000"]), None, None).unwrap();
        assert_eq!(process.try_wait(), None);
        process.signal(libc::SIGTERM).unwrap();
        let status = bounded(process.wait()).await.unwrap();
        assert_eq!(status.termination, Termination::Signalled(libc::SIGTERM));
        // Signalling after the reap is a no-op, never a stray kill.
        process.signal(libc::SIGTERM).unwrap();
        process.kill().unwrap();
    }

    #[tokio::test]
    async fn a_timeout_sends_the_signal_first() {
        let timeout = Timeout {
            after: Duration::from_millis(100),
            signal: libc::SIGTERM,
            grace: Duration::from_secs(20),
        };
        let (mut process, _) = spawn(&mut permit("sleep", &["1000"]), None, Some(timeout)).unwrap();
        let status = bounded(process.wait()).await.unwrap();
        assert!(status.timed_out);
        assert_eq!(status.termination, Termination::Signalled(libc::SIGTERM));
    }

    #[tokio::test]
    async fn a_timeout_escalates_to_sigkill_when_the_signal_is_ignored() {
        let timeout = Timeout {
            after: Duration::from_millis(100),
            signal: libc::SIGTERM,
            grace: Duration::from_millis(100),
        };
        let mut ignores_term = permit("sh", &["-c", "trap '' TERM; sleep 1000"]);
        let (mut process, _) = spawn(&mut ignores_term, None, Some(timeout)).unwrap();
        let status = bounded(process.wait()).await.unwrap();
        assert!(status.timed_out);
        assert_eq!(status.termination, Termination::Signalled(libc::SIGKILL));
    }

    #[tokio::test]
    async fn leftovers_in_the_group_die_with_the_leader() {
        let stdio = Redirects {
            stdout: Redirect::Piped,
            ..Redirects::default()
        };
        let mut permit = permit_with("sh", &["-c", "sleep 1000 & echo $!"], stdio);
        let (mut process, pipes) = spawn(&mut permit, None, None).unwrap();
        let mut line = String::new();
        BufReader::new(std::fs::File::from(pipes.stdout.unwrap()))
            .read_line(&mut line)
            .unwrap();
        let grandchild: u32 = line.trim().parse().unwrap();
        let status = bounded(process.wait()).await.unwrap();
        assert_eq!(status.termination, Termination::Exited(0));
        // SIGKILL is delivered asynchronously: wait for the exit itself. A
        // `sleep 1000` that exits within the deadline was killed.
        let mut grandchild_exit = ExitWatch::new(grandchild as libc::pid_t);
        assert!(matches!(grandchild_exit, ExitWatch::Pidfd(..)) || !running(grandchild));
        bounded(grandchild_exit.exited()).await;
    }

    #[tokio::test]
    async fn dropping_kills_and_the_watcher_reaps() {
        let (process, _) = spawn(&mut permit("sleep", &["1000"]), None, None).unwrap();
        let pid = process.id();
        let waiter = process.waiter();
        drop(process);
        bounded(ExitWaiter::all_reaped(vec![waiter.clone()], TEST_DEADLINE)).await;
        assert!(waiter.is_reaped());
        // SAFETY: existence check only.
        assert_ne!(
            unsafe { libc::kill(pid as i32, 0) },
            0,
            "pid {pid} still exists (zombie or alive)"
        );
    }

    #[tokio::test]
    async fn a_vanished_program_is_not_found() {
        let dir = tempdir();
        let program = dir.join("tool");
        std::fs::copy("/bin/true", &program).unwrap();
        let mut permit = permit(program.to_str().unwrap(), &[]);
        std::fs::remove_file(&program).unwrap();
        let err = spawn(&mut permit, None, None).unwrap_err();
        assert!(matches!(err, SpawnError::NotFound(_)), "{err}");
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("procbox-supervisor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
    use std::path::PathBuf;
}
