//! The bottom layer: the kernel mechanisms every other layer may use, and
//! that use no layer of the library.
//!
//! It owns the system calls procbox makes that rustix does not wrap safely
//! (this file), opening a checked path beneath its granted directory
//! ([`beneath`]), the registry of the pids that watchers own ([`owned`]),
//! descriptors over a socket ([`fds`]), pidfds ([`pidfd`]), the fork of a
//! single-threaded process ([`fork`]) and the test switches that pretend
//! the kernel lacks a mechanism ([`pretend`]).
//!
//! The system calls of this file: each in one small, safe function with
//! one `unsafe` block, whose arguments cannot make it unsound. Everything
//! else goes through rustix.
//!
//! What must stay `unsafe` for its callers lives next to them and says so:
//! `clone` into a shared address space and the function its child runs
//! (`launcher::launch`), loading a seccomp program (`sandbox::filter`).
//!
//! Every function of this file is async-signal-safe (one system call through
//! `libc::syscall`, no allocation, no lock), so it may run in a child
//! between `clone` and `exec`; there a failure's `errno` lands in the
//! parent thread's `errno` (the child shares its memory), which nothing
//! reads.

pub(crate) mod beneath;
pub(crate) mod fds;
pub(crate) mod fork;
pub(crate) mod owned;
pub(crate) mod pidfd;
pub(crate) mod pretend;

use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// A set of signals as the kernel takes it: bit `n - 1` for signal `n`
/// (64 signals on x86_64 and aarch64).
pub(crate) type SignalSet = u64;

/// Every signal, glibc's internal ones included (as glibc's `posix_spawn`
/// blocks them around its `clone`).
pub(crate) const ALL_SIGNALS: SignalSet = u64::MAX;

/// No signal.
pub(crate) const NO_SIGNALS: SignalSet = 0;

/// Replaces the calling thread's signal mask (`rt_sigprocmask`), and
/// returns the one it had.
pub(crate) fn set_signal_mask(mask: SignalSet) -> SignalSet {
    let mut old: SignalSet = NO_SIGNALS;
    // SAFETY: the kernel reads and writes one set of the size given at
    // valid addresses; a mask changes no memory.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &mask as *const SignalSet,
            &mut old as *mut SignalSet,
            std::mem::size_of::<SignalSet>(),
        )
    };
    old
}

/// What a process does on a signal that no handler catches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// The signal's default action (`SIG_DFL`).
    Default,
    /// Nothing (`SIG_IGN`).
    Ignore,
}

/// The kernel's `struct sigaction` (x86_64 and aarch64: handler, flags,
/// restorer, mask).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: usize,
    mask: SignalSet,
}

/// `rt_sigaction`: sets `signal` to `new` if given, and returns the handler
/// it had, or `None` when the kernel refuses (an invalid signal, `SIGKILL`,
/// `SIGSTOP`). Only a default or ignored disposition can be set: no handler
/// address ever comes from here.
fn sigaction(signal: libc::c_int, new: Option<Disposition>) -> Option<libc::sighandler_t> {
    let new = new.map(|disposition| KernelSigaction {
        handler: match disposition {
            Disposition::Default => libc::SIG_DFL,
            Disposition::Ignore => libc::SIG_IGN,
        },
        flags: 0,
        restorer: 0,
        mask: NO_SIGNALS,
    });
    let mut old = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: NO_SIGNALS,
    };
    let new_ptr = new
        .as_ref()
        .map_or(std::ptr::null(), |new| new as *const KernelSigaction);
    // SAFETY: the kernel reads `new` (when not null) and writes `old`, both
    // live locals of its layout; neither installs a handler.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            signal,
            new_ptr,
            &mut old as *mut KernelSigaction,
            std::mem::size_of::<SignalSet>(),
        )
    };
    (rc == 0).then_some(old.handler)
}

/// Sets what the calling process does on `signal`; `false` if the kernel
/// refused.
pub(crate) fn set_disposition(signal: libc::c_int, to: Disposition) -> bool {
    sigaction(signal, Some(to)).is_some()
}

/// Whether a handler catches `signal` in the calling process.
pub(crate) fn is_caught(signal: libc::c_int) -> bool {
    sigaction(signal, None).is_some_and(|handler| handler != libc::SIG_DFL && handler != libc::SIG_IGN)
}

/// Marks every descriptor from `first` up close-on-exec (`close_range` with
/// `CLOSE_RANGE_CLOEXEC`, Linux 5.11+).
///
/// # Errors
/// The kernel's, `ENOSYS` or `EINVAL` on an older kernel.
pub(crate) fn cloexec_from(first: libc::c_uint) -> io::Result<()> {
    // SAFETY: sets a flag on descriptors; none is closed or changed
    // otherwise.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// The Landlock ABI version of the running kernel
/// (`landlock_create_ruleset` with `LANDLOCK_CREATE_RULESET_VERSION`), or
/// 0 when it has none.
pub(crate) fn landlock_abi() -> u32 {
    const VERSION: libc::c_uint = 1;
    // SAFETY: a query that takes no pointer when the attribute is NULL.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            VERSION,
        )
    };
    u32::try_from(abi).unwrap_or(0)
}

/// Restricts the calling thread (and what it starts afterwards) with the
/// Landlock ruleset `ruleset` (`landlock_restrict_self`); needs
/// `no_new_privs` or `CAP_SYS_ADMIN`.
///
/// # Errors
/// The kernel's.
pub(crate) fn landlock_restrict_self(ruleset: impl AsFd, flags: u32) -> io::Result<()> {
    // SAFETY: a descriptor and an integer; restricting changes no memory.
    let rc = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_fd().as_raw_fd(), flags) };
    match rc {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Ends the calling process at once (`_exit`): no `atexit` handler, no
/// destructor, no flush. For a child that must not return into its
/// parent's code (after `clone` or `fork`) and for helpers dispatched
/// before `main`.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: ends the process; it touches no memory of Rust's.
    unsafe { libc::_exit(code) }
}

/// The monotonic clock in nanoseconds (`clock_gettime`: a system call, or
/// the vDSO's read of the kernel's page), the same clock in procbox and
/// its launcher (neither enters a time namespace), so their readings
/// compare. It neither allocates nor locks, so a clone child may read it
/// once the process has read it before the clone (rustix finds the vDSO
/// at its first reading).
pub(crate) fn monotonic_ns() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u64::try_from(now.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(now.tv_nsec).unwrap_or(0)
}
