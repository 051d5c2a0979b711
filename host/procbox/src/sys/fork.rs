//! Forking a process that has one thread, checked.

use std::io;

/// How many threads this process has (`/proc/self/task`).
///
/// # Errors
/// The OS error of listing them.
pub(crate) fn threads() -> io::Result<usize> {
    let mut threads = 0;
    for task in std::fs::read_dir("/proc/self/task")? {
        task?;
        threads += 1;
    }
    Ok(threads)
}

/// Forks this process: `clone` without `CLONE_VM`, with `SIGCHLD` and
/// `flags` (`CLONE_PARENT`, or 0). Returns the child's pid in the parent
/// and 0 in the child.
///
/// Safe because it refuses a process with more than one thread (counted
/// in `/proc/self/task` just before): a fork copies every thread's memory
/// but runs only the caller, so a lock another thread held (malloc's)
/// would stay held forever in the child. With one thread, the child may do
/// whatever the parent could: allocate, make a namespace, probe.
///
/// Runs in single-threaded processes exec'd from procbox's image: the
/// launcher (its probe, its namespace's init) and the probe process (its
/// namespace's init). Not async-signal-safe (it reads a directory): never
/// between `clone` and `exec`. Fails closed: a process whose `/proc/self`
/// cannot be listed (no `/proc`, or a launcher that already moved into its
/// namespace's mounts, where `/proc` does not show it) or that has a
/// thread it did not start (a library's constructor) may not fork, and so
/// makes no namespace.
///
/// # Errors
/// `Unsupported` when the process has other threads; the OS error of
/// listing them, or of `clone`.
pub(crate) fn fork_alone(flags: libc::c_int) -> io::Result<libc::pid_t> {
    let threads = threads()?;
    if threads != 1 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("a process with {threads} threads may not fork"),
        ));
    }
    let flags = (flags | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: a fork (no CLONE_VM, no stack given) of a process that has
    // one thread, checked above; no thread can start in between, as only
    // this one could start it. Each side goes on with its own copy.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pid as libc::pid_t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The unit tests' process has threads (the test harness's): a fork is
    /// refused, and nothing is forked.
    #[test]
    fn a_threaded_process_may_not_fork() {
        let other = std::thread::spawn(std::thread::park);
        let refused = fork_alone(0);
        other.thread().unpark();
        other.join().unwrap();
        let refused = refused.expect_err("a threaded process forked");
        assert_eq!(refused.kind(), io::ErrorKind::Unsupported);
        assert!(refused.to_string().contains("threads may not fork"), "{refused}");
    }
}
