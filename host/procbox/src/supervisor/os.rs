//! The system calls the supervisor makes on a child it owns, behind a
//! one-method-per-call trait (as tokio's `process/unix` hides `kill` and
//! orphan reaping), so that the rules built on them (timeout escalation,
//! never a signal after the reap) are unit-tested with fakes.

use std::io;

use crate::exit::Usage;

/// Signals and reaping of a process procbox started.
pub trait ProcessOs: Send + Sync + std::fmt::Debug {
    /// `kill(pid, signal)`.
    fn kill(&self, pid: libc::pid_t, signal: i32) -> io::Result<()>;
    /// `killpg(pgid, signal)`.
    fn killpg(&self, pgid: libc::pid_t, signal: i32) -> io::Result<()>;
    /// `getpgid(pid)`: the process group `pid` is in.
    fn getpgid(&self, pid: libc::pid_t) -> io::Result<libc::pid_t>;
    /// `wait4(pid)`, blocking until it has exited; its raw status and usage.
    fn wait4(&self, pid: libc::pid_t) -> (io::Result<libc::c_int>, Usage);
}

/// The real kernel.
#[derive(Debug)]
pub struct System;

impl ProcessOs for System {
    fn kill(&self, pid: libc::pid_t, signal: i32) -> io::Result<()> {
        // The caller owns `pid` and has not reaped it.
        Ok(rustix::process::kill_process(pid_of(pid)?, signal_of(signal)?)?)
    }

    fn killpg(&self, pgid: libc::pid_t, signal: i32) -> io::Result<()> {
        // As for `kill`; the group's leader is unreaped.
        Ok(rustix::process::kill_process_group(pid_of(pgid)?, signal_of(signal)?)?)
    }

    fn getpgid(&self, pid: libc::pid_t) -> io::Result<libc::pid_t> {
        let pgid = rustix::process::getpgid(Some(pid_of(pid)?))?;
        Ok(pgid.as_raw_nonzero().get())
    }

    fn wait4(&self, pid: libc::pid_t) -> (io::Result<libc::c_int>, Usage) {
        let mut status = 0;
        let time = libc::timeval { tv_sec: 0, tv_usec: 0 };
        let mut rusage = libc::rusage {
            ru_utime: time,
            ru_stime: time,
            ru_maxrss: 0,
            ru_ixrss: 0,
            ru_idrss: 0,
            ru_isrss: 0,
            ru_minflt: 0,
            ru_majflt: 0,
            ru_nswap: 0,
            ru_inblock: 0,
            ru_oublock: 0,
            ru_msgsnd: 0,
            ru_msgrcv: 0,
            ru_nsignals: 0,
            ru_nvcsw: 0,
            ru_nivcsw: 0,
        };
        loop {
            // SAFETY: valid pointers to locals. (rustix has no `wait4`: it
            // returns no usage.)
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
}

/// `pid` for rustix: `ESRCH` for one that names no single process.
fn pid_of(pid: libc::pid_t) -> io::Result<rustix::process::Pid> {
    rustix::process::Pid::from_raw(pid)
        .filter(|_| pid > 0)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))
}

/// `signal` for rustix: `EINVAL` for a number that is not a signal.
fn signal_of(signal: i32) -> io::Result<rustix::process::Signal> {
    rustix::process::Signal::from_named_raw(signal).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
}
