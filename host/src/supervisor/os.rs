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
        // SAFETY: a plain syscall; the caller owns `pid` and has not reaped it.
        match unsafe { libc::kill(pid, signal) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }

    fn killpg(&self, pgid: libc::pid_t, signal: i32) -> io::Result<()> {
        // SAFETY: as for `kill`; the group's leader is unreaped.
        match unsafe { libc::killpg(pgid, signal) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }

    fn getpgid(&self, pid: libc::pid_t) -> io::Result<libc::pid_t> {
        // SAFETY: a plain syscall on a pid the caller owns and has not reaped.
        match unsafe { libc::getpgid(pid) } {
            -1 => Err(io::Error::last_os_error()),
            pgid => Ok(pgid),
        }
    }

    fn wait4(&self, pid: libc::pid_t) -> (io::Result<libc::c_int>, Usage) {
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
}
