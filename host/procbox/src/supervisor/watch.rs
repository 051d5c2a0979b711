//! The watcher: one task per child that alone waits for its exit, enforces
//! its timeout, kills what is left of its group, reaps it and publishes the
//! status. If the runtime drops the task first, a guard kills and reaps on
//! a plain thread, so a child is never left unreaped and `Drop` never
//! blocks.

use std::future::Future;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::unix::AsyncFd;
use tokio::sync::watch;

use super::admission::ChildSlot;
use crate::gate::SpawnError;
use crate::process_tree::measure::ChildCgroup;

use super::process::{Exit, Shared, SignalTarget};
use super::stages::StageClock;
use super::Timeout;

/// Something that completes once a child has exited (without reaping it).
pub(super) trait Exited: Send {
    /// Waits for the exit; returns at once once it has happened.
    fn exited(&mut self) -> impl Future<Output = ()> + Send;
}

/// Something that signals a child, or its group.
pub(super) trait Signals: Sync {
    /// Sends `signal`; a no-op once the child has been reaped.
    fn signal(&self, signal: i32, target: SignalTarget) -> Result<(), SpawnError>;
}

impl Signals for Shared {
    fn signal(&self, signal: i32, target: SignalTarget) -> Result<(), SpawnError> {
        Shared::signal(self, signal, target)
    }
}

/// Tells when a child has exited, without reaping it.
pub(super) enum ExitWatch {
    /// A pidfd (readable once the process has exited; Linux 5.3+) and the pid.
    Pidfd(AsyncFd<OwnedFd>, libc::pid_t),
    /// Fallback: a thread blocked in `waitid(WNOWAIT)`.
    Thread(watch::Receiver<bool>),
}

impl ExitWatch {
    pub(super) fn new(pid: libc::pid_t) -> ExitWatch {
        let registered = crate::sys::pidfd::pidfd_open(pid).and_then(crate::sys::fds::readable_on_reactor);
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
}

impl Exited for ExitWatch {
    async fn exited(&mut self) {
        loop {
            match self {
                // Readiness is never cleared, so later calls return at once.
                ExitWatch::Pidfd(fd, pid) => {
                    if fd.readable().await.is_ok() {
                        return;
                    }
                    // The reactor failed us: block a helper thread instead.
                    let pid = *pid;
                    *self = ExitWatch::thread(pid);
                }
                ExitWatch::Thread(rx) => {
                    let _ = rx.wait_for(|exited| *exited).await;
                    return;
                }
            }
        }
    }
}

/// Blocks until `pid` has exited, leaving it unreaped.
fn waitid_nowait(pid: libc::pid_t) {
    use rustix::process::{WaitId, WaitIdOptions};
    let Some(pid) = rustix::process::Pid::from_raw(pid) else {
        return;
    };
    // WNOWAIT leaves the child unreaped.
    while let Err(rustix::io::Errno::INTR) =
        rustix::process::waitid(WaitId::Pid(pid), WaitIdOptions::EXITED | WaitIdOptions::NOWAIT)
    {}
}

/// What the watcher of one child keeps besides the child: its spawn's
/// clock (its run time counts from the clock's start) and its tree's
/// cgroup when measured.
pub(super) struct Watched {
    pub(super) clock: StageClock,
    pub(super) measure: Option<ChildCgroup>,
}

/// The watcher task: waits for the exit (enforcing the timeout), reaps, and
/// publishes the status.
pub(super) async fn watch_child(
    guard: ReapOnCancel,
    mut exit_watch: ExitWatch,
    mut watched: Watched,
    timeout: Option<Timeout>,
    tx: watch::Sender<Exit>,
    slot: ChildSlot,
) {
    let shared = guard.shared();
    let started = watched.clock.run_counts_from();
    let timed_out = match timeout {
        None => {
            exit_watch.exited().await;
            false
        }
        Some(timeout) => {
            let deadline = tokio::time::Instant::from_std(started + timeout.after);
            enforce_timeout(&*shared, &mut exit_watch, deadline, timeout).await
        }
    };
    watched.clock.exited();
    let mut status = shared.reap(started, timed_out);
    if let Ok(status) = &mut status {
        status.stages = watched.clock.stages(Instant::now());
    }
    if let (Ok(status), Some(measure)) = (&mut status, watched.measure) {
        status.tree_usage = measure.finish();
    }
    guard.disarm();
    drop(slot);
    let _ = tx.send(Some(status));
}

/// Waits for the exit; when time runs out, sends the timeout's signal to the
/// group, waits the grace period, then SIGKILLs the group. Returns whether
/// the timeout fired.
pub(super) async fn enforce_timeout(
    child: &impl Signals,
    exit: &mut impl Exited,
    deadline: tokio::time::Instant,
    timeout: Timeout,
) -> bool {
    if tokio::time::timeout_at(deadline, exit.exited()).await.is_ok() {
        return false;
    }
    let _ = child.signal(timeout.signal, SignalTarget::Group);
    if tokio::time::timeout(timeout.grace, exit.exited()).await.is_err() {
        let _ = child.signal(libc::SIGKILL, SignalTarget::Group);
        exit.exited().await;
    }
    true
}

/// Kills and reaps the child if the watcher task is dropped before it could
/// (the runtime is shutting down). Reaping moves to a plain thread so that
/// dropping never blocks.
pub(super) struct ReapOnCancel(pub(super) Option<Arc<Shared>>);

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
                waitid_nowait(shared.pid());
                let _ = shared.reap(Instant::now(), false);
            };
            // Without a thread the child stays a zombie until procbox exits.
            let _ = std::thread::Builder::new().name("procbox-reap".into()).spawn(reap);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Timeout escalation with a fake child and paused time: no processes,
    //! no waiting.
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    /// A child that records the signals it gets and exits on the first one
    /// in `dies_on` (or never).
    #[derive(Default)]
    struct FakeChild {
        dies_on: Vec<i32>,
        received: Mutex<Vec<(i32, SignalTarget)>>,
        exited: tokio::sync::Notify,
    }

    impl Signals for FakeChild {
        fn signal(&self, signal: i32, target: SignalTarget) -> Result<(), SpawnError> {
            self.received.lock().unwrap().push((signal, target));
            if self.dies_on.contains(&signal) {
                self.exited.notify_one();
            }
            Ok(())
        }
    }

    /// The exit side of a [`FakeChild`] (or one that exits at `exits_at`).
    struct FakeExit<'a>(&'a FakeChild, Option<tokio::time::Instant>);

    impl Exited for FakeExit<'_> {
        async fn exited(&mut self) {
            match self.1 {
                Some(at) => tokio::time::sleep_until(at).await,
                None => self.0.exited.notified().await,
            }
        }
    }

    fn timeout(after_ms: u64, grace_ms: u64) -> Timeout {
        Timeout {
            after: Duration::from_millis(after_ms),
            signal: libc::SIGTERM,
            grace: Duration::from_millis(grace_ms),
        }
    }

    fn deadline(t: Timeout) -> tokio::time::Instant {
        tokio::time::Instant::now() + t.after
    }

    #[tokio::test(start_paused = true)]
    async fn a_child_that_exits_in_time_gets_no_signal() {
        let child = FakeChild::default();
        let t = timeout(1000, 500);
        let exits_at = Some(tokio::time::Instant::now() + Duration::from_millis(10));
        let timed_out = enforce_timeout(&child, &mut FakeExit(&child, exits_at), deadline(t), t).await;
        assert!(!timed_out);
        assert!(child.received.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn the_group_gets_the_signal_and_no_sigkill_when_it_obeys() {
        let child = FakeChild {
            dies_on: vec![libc::SIGTERM],
            ..FakeChild::default()
        };
        let t = timeout(100, 500);
        let start = tokio::time::Instant::now();
        assert!(enforce_timeout(&child, &mut FakeExit(&child, None), deadline(t), t).await);
        assert_eq!(*child.received.lock().unwrap(), [(libc::SIGTERM, SignalTarget::Group)]);
        assert_eq!(start.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn an_ignored_signal_escalates_to_sigkill_after_the_grace() {
        let child = FakeChild {
            dies_on: vec![libc::SIGKILL],
            ..FakeChild::default()
        };
        let t = timeout(100, 500);
        let start = tokio::time::Instant::now();
        assert!(enforce_timeout(&child, &mut FakeExit(&child, None), deadline(t), t).await);
        assert_eq!(
            *child.received.lock().unwrap(),
            [
                (libc::SIGTERM, SignalTarget::Group),
                (libc::SIGKILL, SignalTarget::Group)
            ]
        );
        assert_eq!(start.elapsed(), Duration::from_millis(600));
    }
}
