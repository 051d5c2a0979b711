//! **The launcher**: a small process that starts every confined child; one
//! per seccomp filter it carries (in practice one per procbox process).
//!
//! Why a process and not a thread of procbox: a Landlock domain includes
//! the thread that made it, so a child confined from a thread of procbox
//! could signal that thread, and through it procbox (see the kernel notes
//! in ARCHITECTURE.md). The launcher is outside every child's domain, and
//! so is procbox. Each child confines itself between `clone` and `exec`
//! ([`server`]), so each gets a domain of its own: one per allow rule, and
//! a rule granted during the run is just another plan.
//!
//! A clean image: the launcher is not a fork of procbox but procbox's own
//! program exec'd anew ([`image`]), with the argument `procbox-launcher`
//! and an empty environment, and dispatched to [`server::serve`] before
//! `main` ([`entry`]): one thread, no runtime, nothing of procbox's
//! command line, environment or memory. The namespace's init is a fork of
//! it, so a child reading `/proc/1/cmdline` sees only `procbox-launcher`.
//! It says hello with [`wire::PROTOCOL`] first; a program that does not
//! (a wrong [`set_program`]) is refused in one line.
//!
//! Lifetime:
//! - it is started when the first confined child is spawned, from a
//!   dedicated thread that never exits (its death signal,
//!   `PR_SET_PDEATHSIG`, fires when the *thread* that started it exits);
//!   an application may start it earlier with [`start_early`];
//! - it keeps only its socket (fd 3), and dies with procbox (death
//!   signal) or when procbox closes the socket;
//! - with its first plan it loads its seccomp filters on itself and, under
//!   root, drops its own capabilities: children inherit both;
//! - if it dies, the next spawn starts a new one;
//! - when procbox exits (`atexit`, registered with the first launcher:
//!   [`reap_at_exit`]), every launcher and namespace init is ended and
//!   reaped, so that a parent that never reaps (a container's entrypoint)
//!   is left no zombie.
//!
//! An embedding application needs to do nothing: any program linked with
//! this library can be exec'd as its launcher. One that cannot be exec'd
//! again (an interpreter loading the library) names a program that can
//! with [`set_program`]; when none starts, confined and contained spawns
//! fail with that reason, and nothing is forked in its place.

mod entry;
mod image;
pub mod probes;
mod server;
pub mod wire;

pub use image::set_program;

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use std::collections::{HashMap, HashSet};

use crate::confine::plan::{ChildPlan, TreePlan};
use crate::confine::ChildNet;
use wire::{Reply, Request};

/// A running launcher: procbox's end of its socket, and its pid.
struct Connection {
    socket: OwnedFd,
    pid: libc::pid_t,
    /// The plans this launcher was sent.
    known: HashSet<u64>,
    /// The init of its children's PID namespace, once it made one, as a
    /// pidfd: the CLI's sweep may reap init, and its pid be reused.
    init: Option<OwnedFd>,
}

/// What a launcher carries, fixed by its first plan: its seccomp filter
/// (the network grant it was built from, or `None` for none), loaded on
/// itself so that children inherit it rather than each paying for loading
/// one; and the PID namespace and cgroups its children start in.
type LauncherKey = (Option<ChildNet>, TreePlan);

/// The launchers of this process: one per filter, and one forked early that
/// has none yet.
#[derive(Default)]
struct Launchers {
    spare: Option<Connection>,
    bound: HashMap<LauncherKey, Connection>,
}

static LAUNCHERS: Mutex<Option<Launchers>> = Mutex::new(None);

/// Why a child did not start.
#[derive(Debug)]
pub struct LaunchError {
    /// The OS error.
    pub error: io::Error,
    /// What failed, when the error alone does not say.
    pub message: Option<String>,
}

impl From<io::Error> for LaunchError {
    fn from(error: io::Error) -> Self {
        LaunchError { error, message: None }
    }
}

/// Forks the launcher now, on the calling thread, which must live as long
/// as the process (call it early in `main`, before other threads exist,
/// while the process is small). Optional: without it, the first confined
/// spawn forks the launcher from a dedicated thread.
///
/// # Errors
/// The OS error of `socketpair` or `fork`.
pub fn start_early() -> io::Result<()> {
    let mut launchers = lock();
    let launchers = launchers.get_or_insert_with(Launchers::default);
    if launchers.spare.is_none() && launchers.bound.is_empty() {
        launchers.spare = Some(fork_launcher()?);
    }
    Ok(())
}

/// The launchers' pids: the sweeps of escaped processes leave them alone.
pub fn pids() -> Vec<libc::pid_t> {
    let launchers = lock();
    let Some(launchers) = launchers.as_ref() else {
        return Vec::new();
    };
    launchers
        .spare
        .iter()
        .chain(launchers.bound.values())
        .map(|c| c.pid)
        .collect()
}

/// Starts `request`'s child, confined by `plan` (whose number the request
/// carries), with `fds` (stdin, stdout, stderr, working directory). Returns
/// its pid: a child of this process.
///
/// # Errors
/// The OS error of the child before `exec` (it has been reaped), or of
/// talking to the launcher.
pub fn launch(mut request: Request, plan: &ChildPlan, fds: [RawFd; wire::FDS]) -> Result<libc::pid_t, LaunchError> {
    let mut launchers = lock();
    let launchers = launchers.get_or_insert_with(Launchers::default);
    let key: LauncherKey = (plan.seccomp.then(|| plan.net.clone()), plan.tree.clone());
    let mut launcher = launchers.bound.remove(&key).or_else(|| launchers.spare.take());
    let mut reply = launch_on(&mut launcher, &mut request, plan, &fds);
    if namespace_ended(&reply, &launcher) {
        // Its init was killed (the end-of-run sweep, or anyone): the
        // namespace can take no more processes. A new launcher makes a new one.
        replace(&mut launcher);
        request.plan = None;
        reply = launch_on(&mut launcher, &mut request, plan, &fds);
    }
    // Taken out above; back in unless it died.
    if let Some(connection) = launcher {
        launchers.bound.insert(key, connection);
    }
    finish(reply?)
}

/// The reply to `request`, from the given launcher (or a new one if it is
/// `None` or has died); sends `plan` along when the launcher lacks it.
fn launch_on(
    launcher: &mut Option<Connection>,
    request: &mut Request,
    plan: &ChildPlan,
    fds: &[RawFd; wire::FDS],
) -> io::Result<Reply> {
    // A launcher found dead on sending is replaced, but not forever: one
    // that dies as soon as it starts would otherwise loop here.
    let mut replaced = 0;
    loop {
        let connection = connected(launcher)?;
        if !connection.known.contains(&request.plan_id) && request.plan.is_none() {
            request.plan = Some(plan.clone());
        }
        match wire::send(connection.socket.as_fd(), &*request, fds) {
            Ok(()) => {}
            Err(e) if is_gone(&e) && replaced < 2 => {
                replace(launcher);
                replaced += 1;
                continue;
            }
            Err(e) if is_gone(&e) => {
                replace(launcher);
                return Err(io::Error::new(
                    e.kind(),
                    format!("the launcher process keeps exiting: {e}"),
                ));
            }
            Err(e) => return Err(e),
        }
        let received = wire::recv::<Reply>(connection.socket.as_fd());
        let received = match received {
            Ok(received) => received,
            // It died on this request: forget it, so the next spawn starts
            // a new one, and say so.
            Err(e) => {
                replace(launcher);
                return Err(io::Error::new(e.kind(), format!("the launcher process failed: {e}")));
            }
        };
        match received {
            Some((Reply::UnknownPlan, _)) if request.plan.is_none() => {
                connection.known.remove(&request.plan_id);
            }
            Some((reply, _)) => {
                connection.known.insert(request.plan_id);
                if let (Reply::Started { init: Some(init), .. }, None) = (&reply, &connection.init) {
                    connection.init = crate::supervisor::watch::pidfd_open(*init).ok();
                }
                return Ok(reply);
            }
            None => {
                replace(launcher);
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the launcher process exited"));
            }
        }
    }
}

/// Ends the launchers whose children are in the cgroups `dirs` (one run's),
/// and their namespaces: the run is over, and its cgroups can only be
/// removed once nothing is inside.
pub fn retire(dirs: &[std::path::PathBuf]) {
    let retired: Vec<Connection> = {
        let mut launchers = lock();
        let Some(launchers) = launchers.as_mut() else {
            return;
        };
        let keys: Vec<LauncherKey> = launchers
            .bound
            .keys()
            .filter(|(_, tree)| tree.cgroups == dirs)
            .cloned()
            .collect();
        let retired: Vec<Connection> = keys
            .into_iter()
            .filter_map(|key| launchers.bound.remove(&key))
            .collect();
        // Counted while the launchers are still listed or being reaped, so
        // that the reaping at exit waits for them.
        Reaping::start(retired.len());
        retired
    };
    for connection in retired {
        reap(connection.pid);
        if let Some(init) = connection.init {
            // Its exit waits only for the namespace's members, which the
            // run has reaped by now.
            end_init(&init);
        }
        Reaping::done();
    }
}

/// Whether a launcher's clone failed because its PID namespace has ended:
/// ENOMEM, and its init has exited (ENOMEM alone may be memory pressure,
/// and then the namespace and its children must live on).
fn namespace_ended(reply: &io::Result<Reply>, launcher: &Option<Connection>) -> bool {
    let failed = matches!(reply, Ok(Reply::Failed { pid: None, errno, .. }) if *errno == libc::ENOMEM);
    failed && launcher.as_ref().and_then(|c| c.init.as_ref()).is_some_and(exited)
}

/// Whether the process behind `pidfd` has exited.
fn exited(pidfd: &OwnedFd) -> bool {
    let mut poll = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    unsafe { libc::poll(&mut poll, 1, 0) == 1 }
}

/// Kills the process behind `pidfd` and reaps it, if no one else has: by
/// its pidfd, never by a pid that may have been reused.
fn end_init(pidfd: &OwnedFd) {
    kill_by_pidfd(pidfd);
    // SAFETY: waitid on a pidfd we own, into a zeroed siginfo; ECHILD once
    // it is reaped elsewhere.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(libc::P_PIDFD, pidfd.as_raw_fd() as libc::id_t, &mut info, libc::WEXITED);
    }
}

/// SIGKILLs the process behind `pidfd` (nothing if it is gone already).
fn kill_by_pidfd(pidfd: &OwnedFd) {
    // SAFETY: pidfd_send_signal on a pidfd we own; ESRCH once it is gone.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        );
    }
}

fn finish(reply: Reply) -> Result<libc::pid_t, LaunchError> {
    match reply {
        Reply::Started { pid, .. } => Ok(pid),
        Reply::Failed { pid, errno, message } => {
            if let Some(pid) = pid {
                reap(pid);
            }
            Err(LaunchError {
                error: io::Error::from_raw_os_error(errno),
                message,
            })
        }
        Reply::UnknownPlan => Err(io::Error::other("the launcher refused a plan it was sent").into()),
    }
}

/// The running launcher, started now if there is none.
fn connected(launcher: &mut Option<Connection>) -> io::Result<&mut Connection> {
    if launcher.is_none() {
        *launcher = Some(fork_from_keeper()?);
    }
    Ok(launcher.as_mut().expect("set above"))
}

/// Forgets a launcher that died (or whose namespace did), and collects it.
/// Its namespace's init is killed, which ends every process in it; init is
/// reaped on a thread of its own, since its exit waits for procbox's
/// watchers to reap the members that are procbox's children.
fn replace(launcher: &mut Option<Connection>) {
    if let Some(dead) = launcher.take() {
        reap(dead.pid);
        if let Some(init) = dead.init {
            Reaping::start(1);
            let spawned = std::thread::Builder::new()
                .name("procbox-reap-init".into())
                .spawn(move || {
                    end_init(&init);
                    Reaping::done();
                });
            if spawned.is_err() {
                Reaping::done();
            }
        }
    }
}

fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::NotConnected
    )
}

fn lock() -> std::sync::MutexGuard<'static, Option<Launchers>> {
    LAUNCHERS.lock().unwrap_or_else(|e| e.into_inner())
}

use image::reap;

/// How long the reaping at exit waits for a namespace's init (whose exit
/// waits for the namespace's last members to be reaped) and for the
/// launchers being retired on other threads.
const EXIT_BOUND: std::time::Duration = std::time::Duration::from_secs(2);

/// The launchers and inits being reaped on other threads ([`retire`],
/// [`replace`]): no longer listed in [`LAUNCHERS`], not reaped yet.
struct Reaping;

static REAPING: (Mutex<usize>, std::sync::Condvar) = (Mutex::new(0), std::sync::Condvar::new());

impl Reaping {
    fn start(count: usize) {
        *REAPING.0.lock().unwrap_or_else(|e| e.into_inner()) += count;
    }

    fn done() {
        let mut count = REAPING.0.lock().unwrap_or_else(|e| e.into_inner());
        *count = count.saturating_sub(1);
        REAPING.1.notify_all();
    }

    /// Waits until none is being reaped, for at most `bound`.
    fn wait(bound: std::time::Duration) {
        let count = REAPING.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = REAPING.1.wait_timeout_while(count, bound, |count| *count > 0);
    }
}

/// The process that registered [`reap_at_exit`]: a forked child that calls
/// `exit` must not reap (or kill) its parent's launchers.
static REAPER: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Registers [`reap_at_exit`] with `atexit`, once per process (`procbox`,
/// this process's pid), when it forks its first launcher.
fn reap_at_exit_once(procbox: libc::pid_t) {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    REGISTERED.call_once(|| {
        REAPER.store(procbox, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: registers a function that takes no argument and does not
        // unwind (it catches every panic).
        unsafe { libc::atexit(reap_at_exit) };
    });
}

/// Runs in procbox (the process that forked the launchers), from `exit`,
/// after `main` returns or on `std::process::exit`; other threads may still
/// run. Ends and reaps every launcher and namespace init, so that procbox
/// leaves no process behind, not even a zombie for a parent that never
/// reaps (a container's entrypoint, a CI agent): their death signals would
/// end them, but only their parent, procbox, can reap them.
extern "C" fn reap_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: getpid has no preconditions.
        if REAPER.load(std::sync::atomic::Ordering::SeqCst) != unsafe { libc::getpid() } {
            return;
        }
        let connections: Vec<Connection> = {
            // A thread in a round trip holds the lock until the launcher
            // answers, which it does: wait for it.
            let mut launchers = lock();
            let Some(launchers) = launchers.as_mut() else {
                return;
            };
            let bound = std::mem::take(&mut launchers.bound).into_values();
            launchers.spare.take().into_iter().chain(bound).collect()
        };
        let deadline = std::time::Instant::now() + EXIT_BOUND;
        for connection in connections {
            // Closing its socket ends the launcher's loop; the kill ends a
            // launcher in the middle of a request.
            drop(connection.socket);
            reap(connection.pid);
            if let Some(init) = connection.init {
                end_init_within(&init, deadline);
            }
        }
        Reaping::wait(deadline.saturating_duration_since(std::time::Instant::now()));
    });
}

/// Kills the init behind `pidfd` and reaps it if it exits before
/// `deadline` (its exit waits for the namespace's members to be reaped,
/// which by now the run has done).
fn end_init_within(pidfd: &OwnedFd, deadline: std::time::Instant) {
    kill_by_pidfd(pidfd);
    let mut poll = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = deadline
        .saturating_duration_since(std::time::Instant::now())
        .as_millis();
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut poll, 1, millis.min(i32::MAX as u128) as i32) };
    // SAFETY: waitid on a pidfd we own, without waiting; ECHILD if it was
    // reaped elsewhere (the command line's sweep of its children).
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(
            libc::P_PIDFD,
            pidfd.as_raw_fd() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG,
        );
    }
}

type Order = mpsc::Sender<io::Result<Connection>>;

/// Forks a launcher from the keeper thread, which never exits.
fn fork_from_keeper() -> io::Result<Connection> {
    static KEEPER: OnceLock<Mutex<mpsc::Sender<Order>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (orders, inbox) = mpsc::channel::<Order>();
        std::thread::Builder::new()
            .name("procbox-launcher-keeper".into())
            .spawn(move || {
                // Lives as long as the process: the sender is in a static.
                for reply in inbox {
                    let _ = reply.send(fork_launcher());
                }
            })
            .expect("a thread for the launcher keeper");
        Mutex::new(orders)
    });
    let (reply, answer) = mpsc::channel();
    keeper
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(reply)
        .map_err(|_| io::Error::other("the launcher keeper thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("the launcher keeper thread is gone"))?
}

/// Starts a launcher from the calling thread (its death signal is tied to
/// it): exec'd from procbox's image ([`image`]) and checked to speak this
/// procbox's protocol.
fn fork_launcher() -> io::Result<Connection> {
    let (ours, theirs) = socket_pair()?;
    // SAFETY: getpid has no preconditions.
    let procbox = unsafe { libc::getpid() };
    let streams = image::Streams {
        stdout: None,
        fd3: Some(theirs.as_fd()),
    };
    let pid = image::start(entry::LAUNCHER, &streams, true)?;
    drop(theirs);
    reap_at_exit_once(procbox);
    if let Err(e) = handshake(ours.as_fd()) {
        image::reap(pid);
        return Err(e);
    }
    Ok(Connection {
        socket: ours,
        pid,
        known: HashSet::new(),
        init: None,
    })
}

/// How long a new launcher may take to say hello: a program that is not a
/// launcher (a wrong [`set_program`]) may never answer.
const HELLO_BOUND: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads the launcher's hello and checks its protocol version.
fn handshake(socket: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    let program = image::program();
    let not_a_launcher = |why: String| {
        io::Error::other(format!(
            "{} did not start as procbox's launcher ({why}); if it is not a program linked with this \
             version of procbox, name one with procbox::set_launcher_program",
            program.display()
        ))
    };
    set_receive_timeout(socket, Some(HELLO_BOUND))?;
    let hello = wire::recv::<wire::Hello>(socket);
    set_receive_timeout(socket, None)?;
    match hello {
        Ok(Some((hello, _))) if hello.protocol == wire::PROTOCOL => Ok(()),
        Ok(Some((hello, _))) => Err(not_a_launcher(format!(
            "it speaks launcher protocol {}, this procbox {}",
            hello.protocol,
            wire::PROTOCOL
        ))),
        Ok(None) => Err(not_a_launcher("it exited".into())),
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            Err(not_a_launcher(format!("no hello within {} s", HELLO_BOUND.as_secs())))
        }
        Err(e) => Err(not_a_launcher(e.to_string())),
    }
}

fn set_receive_timeout(socket: std::os::fd::BorrowedFd<'_>, bound: Option<std::time::Duration>) -> io::Result<()> {
    let bound = bound.unwrap_or_default();
    let value = libc::timeval {
        tv_sec: bound.as_secs() as libc::time_t,
        tv_usec: bound.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: setsockopt with a live timeval of the right size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&value as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut ends = [0; 2];
    // SAFETY: socketpair fills the array with two new descriptors.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            ends.as_mut_ptr(),
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are ours now.
    Ok(unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) })
}
