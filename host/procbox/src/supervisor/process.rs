//! A started child as procbox holds it: [`Process`] (the handle),
//! [`ExitWaiter`] (its exit, for whoever waits), [`OutputLimiter`] (the
//! output cap's kill switch), and the state they share with the watcher.
//!
//! The rule that makes signalling safe: until the watcher has reaped the
//! child, its pid (and so its process group id) cannot be reused; after,
//! nobody signals them again. A mutex makes "check not reaped, then signal"
//! atomic against the reap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::exit::{ExitStatus, Termination};
use crate::gate::{SpawnError, StatusLost};

use super::os::ProcessOs;

/// What the watcher publishes once it has reaped the child.
pub(super) type Exit = Option<Result<ExitStatus, SpawnError>>;

/// A child started by the supervisor. Dropping it kills the child's
/// process group.
#[derive(Debug)]
pub struct Process {
    pub(super) shared: Arc<Shared>,
    pub(super) exit: watch::Receiver<Exit>,
}

impl Process {
    /// The child's process id (also its process group id).
    pub fn id(&self) -> u32 {
        self.shared.pid as u32
    }

    /// Waits until the child has exited and been reaped.
    ///
    /// # Errors
    /// [`SpawnError::StatusLost`] if the child's watcher stopped before it
    /// published the status, [`SpawnError::Io`] if the exit status could not
    /// be collected, e.g. because code outside procbox reaped the child.
    pub async fn wait(&mut self) -> Result<ExitStatus, SpawnError> {
        match self.exit.wait_for(Option::is_some).await {
            Ok(exit) => exit.clone().expect("wait_for returned a published exit"),
            // The watcher is gone without publishing: only when the runtime
            // is shutting down, and then its guard kills and reaps.
            Err(_) => Err(SpawnError::StatusLost(StatusLost::SupervisorStopped)),
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

    /// Sends `signal` to the child's whole process group. Does nothing once
    /// the child has been reaped.
    ///
    /// # Errors
    /// [`SpawnError::Io`] if the kernel refuses the signal.
    pub fn signal_group(&self, signal: i32) -> Result<(), SpawnError> {
        self.shared.signal(signal, SignalTarget::Group)
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
            Err(_) => Err(SpawnError::StatusLost(StatusLost::SupervisorStopped)),
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SignalTarget {
    Child,
    Group,
}

/// State shared between a [`Process`] handle and its watcher.
#[derive(Debug)]
pub(super) struct Shared {
    pid: libc::pid_t,
    os: &'static dyn ProcessOs,
    /// True once the watcher reaped the child; from then on the pid may
    /// belong to someone else and must not be signalled.
    reaped: Mutex<bool>,
    /// Set when the child was killed for writing more than the output cap.
    output_truncated: AtomicBool,
}

impl Shared {
    /// Sends `signal` unless the child has been reaped.
    pub(super) fn signal(&self, signal: i32, target: SignalTarget) -> Result<(), SpawnError> {
        let reaped = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
        if *reaped {
            return Ok(());
        }
        let sent = match target {
            SignalTarget::Child => self.os.kill(self.pid, signal),
            // The leader too when it moved itself to another group (for
            // SIGKILL always: twice does no harm). Another signal must not
            // reach a leader still in its group twice: a script that counts
            // its TERMs, or exits on the second, would see two.
            SignalTarget::Group => {
                let group = self.os.killpg(self.pid, signal);
                let moved = || self.os.getpgid(self.pid).map_or(true, |pgid| pgid != self.pid);
                match signal == libc::SIGKILL || moved() {
                    true => self.os.kill(self.pid, signal).and(group),
                    false => group,
                }
            }
        };
        match sent {
            Ok(()) => Ok(()),
            // The group may already be empty but for the zombie leader.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(e) => Err(SpawnError::io(format_args!("signalling process {}", self.pid), e)),
        }
    }

    /// Kills what is left of the group, then reaps the (already exited)
    /// leader. Blocks only until the leader exits, which the caller has
    /// awaited or forced.
    pub(super) fn reap(&self, started: Instant, timed_out: bool) -> Result<ExitStatus, SpawnError> {
        let duration = started.elapsed();
        let mut reaped = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
        if *reaped {
            return Err(SpawnError::StatusLost(StatusLost::AlreadyReaped {
                pid: self.pid as u32,
            }));
        }
        // The leader is unreaped, so the group id is still ours.
        let _ = self.os.killpg(self.pid, libc::SIGKILL);
        let (status, usage) = self.os.wait4(self.pid);
        *reaped = true;
        crate::sys::owned::release(self.pid);
        let status = status
            .map_err(|e| SpawnError::io(format_args!("collecting the exit status of process {}", self.pid), e))?;
        Ok(ExitStatus {
            termination: Termination::from_raw(status),
            duration,
            timed_out,
            output_truncated: self.output_truncated.load(Ordering::Acquire),
            usage,
            tree_usage: None,
            // The watcher's clock fills them in.
            stages: crate::exit::SpawnStages::default(),
        })
    }
}

impl Shared {
    /// State for the unreaped child `pid`, signalled and reaped through `os`.
    pub(super) fn new(pid: libc::pid_t, os: &'static dyn ProcessOs) -> Shared {
        Shared {
            pid,
            os,
            reaped: Mutex::new(false),
            output_truncated: AtomicBool::new(false),
        }
    }

    /// The child's pid.
    pub(super) fn pid(&self) -> libc::pid_t {
        self.pid
    }
}

#[cfg(test)]
mod tests {
    //! Signalling rules with a fake kernel: nothing is ever signalled
    //! after the reap, whatever asks.
    use std::io;
    use std::sync::Mutex;

    use super::*;
    use crate::exit::Usage;

    #[derive(Debug, Default)]
    struct FakeOs {
        calls: Mutex<Vec<String>>,
        /// The leader moved itself to another group.
        moved: bool,
    }

    impl ProcessOs for FakeOs {
        fn kill(&self, pid: libc::pid_t, signal: i32) -> io::Result<()> {
            self.calls.lock().unwrap().push(format!("kill {pid} {signal}"));
            Ok(())
        }
        fn killpg(&self, pgid: libc::pid_t, signal: i32) -> io::Result<()> {
            self.calls.lock().unwrap().push(format!("killpg {pgid} {signal}"));
            // The group is empty but for the zombie leader.
            Err(io::Error::from_raw_os_error(libc::ESRCH))
        }
        fn getpgid(&self, pid: libc::pid_t) -> io::Result<libc::pid_t> {
            Ok(if self.moved { pid + 1 } else { pid })
        }
        fn wait4(&self, pid: libc::pid_t) -> (io::Result<libc::c_int>, Usage) {
            self.calls.lock().unwrap().push(format!("wait4 {pid}"));
            (Ok(0), Usage::default())
        }
    }

    fn fake() -> &'static FakeOs {
        Box::leak(Box::default())
    }

    #[test]
    fn signals_reach_the_child_or_its_group_until_the_reap_and_never_after() {
        let os = fake();
        let shared = Shared::new(42, os);
        shared.signal(libc::SIGTERM, SignalTarget::Child).unwrap();
        // An empty group (ESRCH) is not an error.
        shared.signal(libc::SIGKILL, SignalTarget::Group).unwrap();
        let status = shared.reap(Instant::now(), false).unwrap();
        assert_eq!(status.termination, Termination::Exited(0));
        let before = os.calls.lock().unwrap().clone();
        assert_eq!(
            before,
            ["kill 42 15", "killpg 42 9", "kill 42 9", "killpg 42 9", "wait4 42"]
        );
        // After the reap the pid may be someone else's: no call at all.
        shared.signal(libc::SIGKILL, SignalTarget::Group).unwrap();
        shared.signal(libc::SIGTERM, SignalTarget::Child).unwrap();
        assert_eq!(*os.calls.lock().unwrap(), before);
        // A second reap is an error, not a second wait4.
        assert!(shared.reap(Instant::now(), false).is_err());
        assert_eq!(*os.calls.lock().unwrap(), before);
    }

    #[test]
    fn a_group_signal_reaches_the_leader_once_unless_it_left_the_group() {
        let os = fake();
        Shared::new(42, os).signal(libc::SIGTERM, SignalTarget::Group).unwrap();
        assert_eq!(*os.calls.lock().unwrap(), ["killpg 42 15"]);
        let moved: &'static FakeOs = Box::leak(Box::new(FakeOs {
            moved: true,
            ..FakeOs::default()
        }));
        Shared::new(42, moved)
            .signal(libc::SIGTERM, SignalTarget::Group)
            .unwrap();
        assert_eq!(*moved.calls.lock().unwrap(), ["killpg 42 15", "kill 42 15"]);
    }

    #[test]
    fn the_output_limiter_marks_the_status_and_kills_the_group() {
        let os = fake();
        let shared = Arc::new(Shared::new(7, os));
        OutputLimiter(shared.clone()).exceeded();
        let status = shared.reap(Instant::now(), false).unwrap();
        assert!(status.output_truncated);
        assert_eq!(os.calls.lock().unwrap()[0], "killpg 7 9");
    }
}
