//! Ending launchers and namespace inits without leaving a zombie: their
//! death signals would end them, but only their parent, procbox, can reap
//! them, and a parent that never reaps (a container's entrypoint, a CI
//! agent) would keep one zombie per run.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{pidfd_send_signal, waitid, Signal, WaitId, WaitIdOptions};

use super::link::Link;

/// How long the reaping at exit waits for a namespace's init (whose exit
/// waits for the namespace's last members to be reaped) and for the
/// launchers being retired on other threads.
const EXIT_BOUND: Duration = Duration::from_secs(2);

/// The launchers (with their inits) being reaped on other threads: no
/// longer listed as running, not reaped yet. Their pids stay procbox's own
/// until then ([`Reaping::pids`]): a sweep of escaped processes that killed
/// one by pid could hit another process once the reaping thread has
/// reaped it and its pid is reused.
pub(super) struct Reaping;

static REAPING: (Mutex<Vec<Arc<Link>>>, Condvar) = (Mutex::new(Vec::new()), Condvar::new());

impl Reaping {
    pub fn start(links: &[Arc<Link>]) {
        REAPING
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(links.iter().cloned());
    }

    pub fn done(link: &Arc<Link>) {
        let mut reaping = REAPING.0.lock().unwrap_or_else(|e| e.into_inner());
        reaping.retain(|other| !Arc::ptr_eq(other, link));
        REAPING.1.notify_all();
    }

    /// The pids of the launchers being reaped, and of their inits.
    pub fn pids() -> Vec<libc::pid_t> {
        let reaping = REAPING.0.lock().unwrap_or_else(|e| e.into_inner());
        reaping.iter().flat_map(|link| link.pids()).collect()
    }

    /// Waits until none is being reaped, for at most `bound`.
    fn wait(bound: Duration) {
        let reaping = REAPING.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = REAPING
            .1
            .wait_timeout_while(reaping, bound, |reaping| !reaping.is_empty());
    }
}

/// Ends a launcher procbox no longer uses, and its namespace's init (which
/// ends every process left in it). Blocks until both are reaped.
pub(super) fn end(link: &Link) {
    link.shut_down();
    kill_init(link);
    crate::sys::owned::kill_and_forget(link.pid);
    if let Some(init) = link.init.get() {
        end_init(init);
    }
}

/// Sends the launcher's namespace init its kill before the launcher is
/// killed and waited for, so that the two deaths overlap: waited for one
/// after the other they held up the end of every contained run (the init
/// died about 2 ms after its launcher in a trace of a Rust hello world).
/// A launcher still starting a child when its init is gone gets ENOMEM,
/// and a child started just before is a member the init's death ends.
fn kill_init(link: &Link) {
    if let Some(init) = link.init.get() {
        let _ = pidfd_send_signal(init, Signal::KILL);
    }
}

/// [`end`], on a thread of its own: a launcher found dead or replaced may
/// have an init whose exit waits for procbox's watchers to reap the
/// namespace's members.
pub(super) fn end_in_background(link: Arc<Link>) {
    Reaping::start(std::slice::from_ref(&link));
    let in_thread = link.clone();
    let spawned = std::thread::Builder::new()
        .name("procbox-reap-launcher".into())
        .spawn(move || {
            end(&in_thread);
            Reaping::done(&in_thread);
        });
    if spawned.is_err() {
        Reaping::done(&link);
    }
}

/// Whether the process behind `pidfd` has exited.
pub(super) fn exited(pidfd: &OwnedFd) -> bool {
    let mut polled = [PollFd::new(pidfd, PollFlags::IN)];
    matches!(poll(&mut polled, Some(&rustix::event::Timespec::default())), Ok(1))
}

/// Kills the process behind `pidfd` and reaps it, if no one else has: by
/// its pidfd, never by a pid that may have been reused.
fn end_init(pidfd: &OwnedFd) {
    let _ = pidfd_send_signal(pidfd, Signal::KILL);
    // ECHILD once it is reaped elsewhere.
    let _ = waitid(WaitId::PidFd(pidfd.as_fd()), WaitIdOptions::EXITED);
}

/// The process that registered [`reap_at_exit`]: a forked child that calls
/// `exit` must not reap (or kill) its parent's launchers.
static REAPER: AtomicI32 = AtomicI32::new(0);

/// Takes the launchers still listed as running.
type Running = fn() -> Vec<Arc<Link>>;

/// Where [`reap_at_exit`] finds the launchers still running.
static RUNNING: Mutex<Option<Running>> = Mutex::new(None);

/// Registers [`reap_at_exit`] with `atexit`, once per process (`procbox`,
/// this process's pid), when it starts its first launcher; `running`
/// takes the launchers that are still listed.
pub(super) fn reap_at_exit_once(procbox: libc::pid_t, running: Running) {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        REAPER.store(procbox, Ordering::SeqCst);
        *RUNNING.lock().unwrap_or_else(|e| e.into_inner()) = Some(running);
        // SAFETY: registers a function that takes no argument and does not
        // unwind (it catches every panic).
        unsafe { libc::atexit(reap_at_exit) };
    });
}

/// Runs in procbox (the process that started the launchers), from `exit`,
/// after `main` returns or on `std::process::exit`; other threads may still
/// run. Ends and reaps every launcher and namespace init, so that procbox
/// leaves no process behind, not even a zombie.
extern "C" fn reap_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        if REAPER.load(Ordering::SeqCst) != rustix::process::getpid().as_raw_nonzero().get() {
            return;
        }
        // A launcher ended in the middle of a probe nobody asked for
        // (procbox stopped at a usage error) would leave the probe, its
        // fork, to exit with nobody to reap it.
        super::probes::let_unasked_finish();
        let Some(running) = *RUNNING.lock().unwrap_or_else(|e| e.into_inner()) else {
            return;
        };
        let deadline = Instant::now() + EXIT_BOUND;
        for link in running() {
            // Shutting its socket down ends the launcher's loop; the kill in
            // `reap` ends a launcher in the middle of a request.
            link.shut_down();
            kill_init(&link);
            super::image::reap(link.pid);
            if let Some(init) = link.init.get() {
                end_init_within(init, deadline);
            }
        }
        Reaping::wait(deadline.saturating_duration_since(Instant::now()));
    });
}

/// Kills the init behind `pidfd` and reaps it if it exits before
/// `deadline` (its exit waits for the namespace's members to be reaped,
/// which by now the run has done).
fn end_init_within(pidfd: &OwnedFd, deadline: Instant) {
    let _ = pidfd_send_signal(pidfd, Signal::KILL);
    let left = deadline.saturating_duration_since(Instant::now());
    let left = rustix::event::Timespec {
        tv_sec: left.as_secs() as _,
        tv_nsec: left.subsec_nanos() as _,
    };
    let mut polled = [PollFd::new(pidfd, PollFlags::IN)];
    let _ = poll(&mut polled, Some(&left));
    // Without waiting; ECHILD if it was reaped elsewhere (the command
    // line's sweep of its children).
    let _ = waitid(
        WaitId::PidFd(pidfd.as_fd()),
        WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
    );
}
