//! The spawn primitive: starts one program with its standard streams on
//! given descriptors, in a working directory given as a descriptor, in a
//! new session (or process group), with nothing else inherited.
//!
//! One path, [`clone_vfork`] + `exec`, as glibc's `posix_spawn` does it:
//! a child made with `clone(CLONE_VM | CLONE_VFORK)` shares procbox's
//! memory until `exec` (no page tables copied, so its cost does not grow
//! with procbox's memory; a plain `fork` of a 1 GiB host costs 18-26× more
//! here, and no fork of the threaded procbox ever runs code). The child
//! places its streams and directory, applies its [`ChildSetup`] (nothing,
//! for most children) with system calls only, and reports a failure in
//! that shared memory. The launcher starts confined children the same way.
//!
//! The child resets the signal mask, every caught signal and SIGPIPE's
//! disposition (Rust ignores SIGPIPE, and an ignored signal stays ignored
//! across `exec`), and starts either as a session leader (`setsid`: no
//! controlling terminal, so it cannot read or type into the user's
//! terminal) or, when it shares procbox's terminal streams, as the leader
//! of a new process group. Never both: `setsid` after `setpgid` fails with
//! EPERM.
//!
//! What stays `unsafe` here, and only here: the `clone` itself, the
//! child's entry ([`vfork_main`]) taking its arguments from the caller's
//! frame, and `execve`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use rustix::process::{Pid, WaitOptions};

use super::setup::ChildSetup;
use crate::sys::{self, Disposition};

/// How the child is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// Its own session and process group (`setsid`): no controlling terminal.
    New,
    /// Its own process group in procbox's session, for a child that uses
    /// procbox's terminal (inherited streams).
    SameAsProcbox,
}

/// A program, its argument vector and its environment as C strings, built
/// before any process is forked.
pub struct Exec {
    program: CString,
    _strings: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

impl Exec {
    /// The `execve` arguments for `program` with `argv[0] = arg0`.
    ///
    /// # Errors
    /// `InvalidInput` if a string holds a NUL byte.
    pub fn new(program: &Path, arg0: &str, args: &[String], env: &[(String, String)]) -> io::Result<Exec> {
        let c = |bytes: &[u8]| CString::new(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e));
        let program = c(program.as_os_str().as_bytes())?;
        let argv: Vec<CString> = std::iter::once(arg0)
            .chain(args.iter().map(String::as_str))
            .map(|a| c(a.as_bytes()))
            .collect::<io::Result<_>>()?;
        let envp: Vec<CString> = env
            .iter()
            .map(|(k, v)| c(format!("{k}={v}").as_bytes()))
            .collect::<io::Result<_>>()?;
        let pointers = |strings: &[CString]| -> Vec<*const libc::c_char> {
            strings
                .iter()
                .map(|s| s.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect()
        };
        let (argv_ptrs, envp_ptrs) = (pointers(&argv), pointers(&envp));
        let mut strings = argv;
        strings.extend(envp);
        // The pointers stay valid: moving a CString does not move its heap
        // buffer, and `_strings` lives as long as they do.
        Ok(Exec {
            program,
            _strings: strings,
            argv: argv_ptrs,
            envp: envp_ptrs,
        })
    }

    /// `execve` of this program: returns only if it failed, with the errno.
    /// Runs in a child before `exec` (the fork window): one system call on
    /// data prepared before the clone.
    pub(crate) fn execve(&self) -> i32 {
        // SAFETY: `program` is a C string and `argv` and `envp` are
        // null-terminated arrays of pointers to C strings, all owned by
        // `self` (see `new`) and alive for the call.
        unsafe { libc::execve(self.program.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr()) };
        io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
    }
}

/// The descriptors a child starts with: its stdin, stdout and stderr (each
/// becomes that number in the child), and its working directory.
pub struct ChildFds<'a> {
    /// Descriptors for fds 0, 1 and 2; each is at least 3 or is already
    /// the number it becomes (an inherited stream).
    pub stdio: [BorrowedFd<'a>; 3],
    /// The working directory, opened as a directory.
    pub cwd: BorrowedFd<'a>,
}

/// Starts `exec` with `fds` and `session`, running `setup` first, in a
/// child that shares procbox's memory until `exec` ([`clone_vfork`], as
/// `posix_spawn` does). Returns the child's pid.
///
/// # Errors
/// The OS error of the spawn or of the `exec` itself (e.g. `ENOENT` when
/// the program vanished, `E2BIG` for too large arguments).
pub fn launch(exec: &Exec, fds: &ChildFds<'_>, session: Session, setup: &ChildSetup) -> io::Result<libc::pid_t> {
    let mut stack = vec![0u8; VFORK_STACK_BYTES];
    let mut run = || in_child(exec, fds, session, setup, &[libc::SIGPIPE], &|| Ok(()));
    match clone_vfork(&mut stack, 0, Handlers::Reset, &mut run)? {
        Ok(pid) => Ok(pid),
        Err((pid, errno)) => {
            // The child never reached `exec`: collect it before reporting.
            if let Some(pid) = Pid::from_raw(pid) {
                let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
            }
            Err(io::Error::from_raw_os_error(errno))
        }
    }
}

/// The stack of a [`clone_vfork`] child: it only makes system calls
/// (`posix_spawn` in glibc uses about 32 KiB).
pub(crate) const VFORK_STACK_BYTES: usize = 128 << 10;

/// What a [`clone_vfork`] child does with caught signals.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handlers {
    /// Resets every caught signal to its default before unblocking any: a
    /// handler of procbox's must not run in the child, on memory it shares
    /// with procbox.
    Reset,
    /// The caller catches none (the launcher).
    NoneCaught,
}

/// The clone child's arguments, on the caller's frame.
struct VforkChild<'a> {
    run: &'a mut dyn FnMut() -> i32,
    handlers: Handlers,
    /// The signals whose handlers [`Handlers::Reset`] resets (read before
    /// the clone: the numbers of the real-time signals are glibc's).
    signals: Signals,
    /// Written by the child when `run` returns (it failed before `exec`).
    errno: AtomicI32,
}

/// Starts a child with `clone(CLONE_VM | CLONE_VFORK | extra_flags)`:
/// it runs `run` on `stack`, sharing the caller's memory, and the caller
/// resumes once it has exec'd or exited. Every signal is blocked in the
/// calling thread meanwhile. Returns the pid, or the pid and errno of a
/// child whose `run` returned (failed before `exec`; it has exited and
/// waits to be reaped).
///
/// Runs in procbox (any thread) or in the launcher. `run` runs in the
/// child: it may only make async-signal-safe system calls on data prepared
/// before this call (no allocation, no lock, no `Drop` that does either),
/// and must end in `execve` (returning the errno only when that fails).
pub(crate) fn clone_vfork(
    stack: &mut [u8],
    extra_flags: libc::c_int,
    handlers: Handlers,
    run: &mut dyn FnMut() -> i32,
) -> io::Result<Result<libc::pid_t, (libc::pid_t, i32)>> {
    let mut child = VforkChild {
        run,
        handlers,
        signals: Signals::of_this_process(),
        errno: AtomicI32::new(0),
    };
    // The stack grows down from the end, aligned to 16 bytes.
    let top = (stack.as_mut_ptr() as usize + stack.len()) & !15;
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD | extra_flags;
    // No handler may run in the child before it has reset them.
    let mask = sys::set_signal_mask(sys::ALL_SIGNALS);
    // SAFETY: the child runs `vfork_main` on `stack`, which it alone uses
    // (the caller is suspended: CLONE_VFORK), with `child`, which lives on
    // this frame until clone returns (after the child exec'd or exited);
    // `run` keeps to the fork window (see above).
    let pid = unsafe {
        libc::clone(
            vfork_main,
            top as *mut libc::c_void,
            flags,
            (&mut child as *mut VforkChild<'_>).cast(),
        )
    };
    let clone_error = io::Error::last_os_error();
    sys::set_signal_mask(mask);
    if pid < 0 {
        return Err(clone_error);
    }
    // The child has exec'd or exited: what it wrote is visible.
    match child.errno.load(Ordering::SeqCst) {
        0 => Ok(Ok(pid)),
        errno => Ok(Err((pid, errno))),
    }
}

/// Runs in the clone child of [`clone_vfork`] (sharing the caller's memory
/// until `exec`), with every signal blocked: system calls only.
extern "C" fn vfork_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `VforkChild` that clone_vfork passed, alive
    // until we exec or exit, and used by no one else meanwhile (its thread
    // is suspended).
    let child = unsafe { &mut *arg.cast::<VforkChild<'_>>() };
    if child.handlers == Handlers::Reset {
        reset_caught_signals(child.signals);
    }
    let errno = (child.run)();
    child.errno.store(errno.max(1), Ordering::SeqCst);
    sys::exit_now(127)
}

/// The signal numbers a process may have handlers for: the classic ones,
/// and glibc's real-time range (the numbers in between are glibc's own).
#[derive(Clone, Copy)]
pub(crate) struct Signals {
    first_realtime: libc::c_int,
    last: libc::c_int,
}

impl Signals {
    /// This process's range (glibc's `SIGRTMIN` and `SIGRTMAX`).
    pub(crate) fn of_this_process() -> Signals {
        Signals {
            first_realtime: libc::SIGRTMIN(),
            last: libc::SIGRTMAX(),
        }
    }

    /// Every number, in order. No allocation.
    pub(crate) fn each(self) -> impl Iterator<Item = libc::c_int> {
        (1..32).chain(self.first_realtime..=self.last)
    }
}

/// Sets every signal with a handler back to its default disposition, as
/// `posix_spawn` does (the child has its own copy of the handler table:
/// no `CLONE_SIGHAND`). System calls only.
fn reset_caught_signals(signals: Signals) {
    for signal in signals.each() {
        if sys::is_caught(signal) {
            sys::set_disposition(signal, Disposition::Default);
        }
    }
}

/// In the cloned child: signals, session, streams, directory, setup, then
/// `last` (the launcher's confinement), then exec. Returns only on
/// failure, with the errno. Runs in the fork window: system calls only
/// (rustix's and [`sys`]'s, which neither allocate nor lock).
pub(super) fn in_child(
    exec: &Exec,
    fds: &ChildFds<'_>,
    session: Session,
    setup: &ChildSetup,
    ignored: &[libc::c_int],
    last: &dyn Fn() -> Result<(), i32>,
) -> i32 {
    sys::set_signal_mask(sys::NO_SIGNALS);
    // An ignored signal stays ignored across exec (Rust ignores SIGPIPE,
    // the launcher the terminal's signals); caught ones are reset by exec
    // itself.
    for &signal in ignored {
        sys::set_disposition(signal, Disposition::Default);
    }
    let grouped = match session {
        Session::New => rustix::process::setsid().map(drop),
        Session::SameAsProcbox => rustix::process::setpgid(None, None),
    };
    if let Err(e) = grouped {
        return e.raw_os_error();
    }
    for (target, fd) in fds.stdio.iter().enumerate() {
        // An inherited stream is already in place (and not close-on-exec).
        if fd.as_raw_fd() == target as RawFd {
            continue;
        }
        let placed = match target {
            0 => rustix::stdio::dup2_stdin(fd),
            1 => rustix::stdio::dup2_stdout(fd),
            _ => rustix::stdio::dup2_stderr(fd),
        };
        if let Err(e) = placed {
            return e.raw_os_error();
        }
    }
    if let Err(e) = rustix::process::fchdir(fds.cwd) {
        return e.raw_os_error();
    }
    if let Err(errno) = setup.apply() {
        return errno;
    }
    if let Err(errno) = last() {
        return errno;
    }
    exec.execve()
}

/// `fd` moved to a number of at least 3 if it is one of 0, 1, 2, so that
/// placing the streams never overwrites a descriptor still to be placed.
///
/// # Errors
/// The OS error of `fcntl`.
pub fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    Ok(rustix::io::fcntl_dupfd_cloexec(&fd, 3)?)
}
