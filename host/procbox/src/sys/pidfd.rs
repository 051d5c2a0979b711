//! Pidfds: a process named by a descriptor, not by a pid that could be
//! reused.

use std::io;
use std::os::fd::OwnedFd;

/// A pidfd for `pid` (Linux 5.3+), close-on-exec.
pub(crate) fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(pid).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    Ok(rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())?)
}
