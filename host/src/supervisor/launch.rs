//! The spawn primitive: starts one program with its standard streams on
//! given descriptors, in a working directory given as a descriptor, in a
//! new session (or process group), with nothing else inherited.
//!
//! Two paths, chosen per child:
//! - **`posix_spawn`** when the child needs no code of ours before `exec`
//!   ([`ChildSetup::is_empty`]). glibc runs it as `clone(CLONE_VM |
//!   CLONE_VFORK)`, so its cost does not grow with procbox's memory (a
//!   plain `fork` of a 1 GiB host costs 18-26× more here). File actions do
//!   the rest: `dup2` of the three streams and `fchdir`
//!   (`posix_spawn_file_actions_addfchdir_np`, glibc 2.29+).
//! - **[`clone_vfork`] + `exec`** when it does: a child that shares
//!   procbox's memory until `exec` (no page tables copied, no fork of the
//!   threaded procbox) applies its [`ChildSetup`] with system calls only
//!   and reports a failure in that shared memory. The launcher starts
//!   confined children the same way.
//!
//! Both reset the signal mask and SIGPIPE's disposition (Rust ignores
//! SIGPIPE, and an ignored signal stays ignored across `exec`), and start
//! the child either as a session leader (`setsid`: no controlling
//! terminal, so it cannot read or type into the user's terminal) or, when
//! it shares procbox's terminal streams, as the leader of a new process
//! group. Never both: `setsid` after `setpgid` fails with EPERM.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::setup::{errno, ChildSetup};

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

/// Starts `exec` with `fds` and `session`, running `setup` first if it has
/// anything to do. Returns the child's pid.
///
/// # Errors
/// The OS error of the spawn or of the `exec` itself (e.g. `ENOENT` when
/// the program vanished, `E2BIG` for too large arguments).
pub fn launch(exec: &Exec, fds: &ChildFds<'_>, session: Session, setup: &ChildSetup) -> io::Result<libc::pid_t> {
    if setup.is_empty() {
        posix_spawn(exec, fds, session)
    } else {
        fork_exec(exec, fds, session, setup)
    }
}

fn posix_spawn(exec: &Exec, fds: &ChildFds<'_>, session: Session) -> io::Result<libc::pid_t> {
    let actions = FileActions::new(fds)?;
    let attr = SpawnAttr::new(session)?;
    let mut pid = 0;
    // SAFETY: every pointer is valid and NUL-terminated (Exec), and the
    // file actions and attributes were initialised.
    let rc = unsafe {
        libc::posix_spawn(
            &mut pid,
            exec.program.as_ptr(),
            &actions.0,
            &attr.0,
            exec.argv.as_ptr() as *const *mut libc::c_char,
            exec.envp.as_ptr() as *const *mut libc::c_char,
        )
    };
    match rc {
        0 => Ok(pid),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// `posix_spawn_file_actions_t`, destroyed on drop.
struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new(fds: &ChildFds<'_>) -> io::Result<FileActions> {
        // SAFETY: init fills the zeroed struct; destroy runs on drop.
        let mut actions = FileActions(unsafe { std::mem::zeroed() });
        // SAFETY: initialises the struct just allocated.
        check(unsafe { libc::posix_spawn_file_actions_init(&mut actions.0) })?;
        for (target, fd) in fds.stdio.iter().enumerate() {
            let fd = fd.as_raw_fd();
            // An inherited stream is already in place (and not close-on-exec).
            if fd != target as RawFd {
                // SAFETY: initialised actions; plain integers.
                check(unsafe { libc::posix_spawn_file_actions_adddup2(&mut actions.0, fd, target as RawFd) })?;
            }
        }
        // SAFETY: as above.
        check(unsafe { libc::posix_spawn_file_actions_addfchdir_np(&mut actions.0, fds.cwd.as_raw_fd()) })?;
        Ok(actions)
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// `posix_spawnattr_t`, destroyed on drop.
struct SpawnAttr(libc::posix_spawnattr_t);

impl SpawnAttr {
    fn new(session: Session) -> io::Result<SpawnAttr> {
        // SAFETY: init fills the zeroed struct; destroy runs on drop. The
        // signal sets are locals filled by sigemptyset/sigaddset.
        unsafe {
            let mut attr = SpawnAttr(std::mem::zeroed());
            check(libc::posix_spawnattr_init(&mut attr.0))?;
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            check(libc::posix_spawnattr_setsigmask(&mut attr.0, &empty))?;
            let mut defaults: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut defaults);
            libc::sigaddset(&mut defaults, libc::SIGPIPE);
            check(libc::posix_spawnattr_setsigdefault(&mut attr.0, &defaults))?;
            let grouping = match session {
                Session::New => libc::POSIX_SPAWN_SETSID as libc::c_int,
                Session::SameAsProcbox => {
                    check(libc::posix_spawnattr_setpgroup(&mut attr.0, 0))?;
                    libc::POSIX_SPAWN_SETPGROUP
                }
            };
            let flags = grouping | libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
            check(libc::posix_spawnattr_setflags(&mut attr.0, flags as libc::c_short))?;
            Ok(attr)
        }
    }
}

impl Drop for SpawnAttr {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    match rc {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// The setup in a child that shares procbox's memory until `exec`
/// ([`clone_vfork`], as `posix_spawn` does): its cost does not grow with
/// procbox's memory, and no fork of the threaded procbox ever runs code.
fn fork_exec(exec: &Exec, fds: &ChildFds<'_>, session: Session, setup: &ChildSetup) -> io::Result<libc::pid_t> {
    let mut stack = vec![0u8; VFORK_STACK_BYTES];
    let mut run = || in_child(exec, fds, session, setup, &[libc::SIGPIPE], &|| Ok(()));
    match clone_vfork(&mut stack, 0, Handlers::Reset, &mut run)? {
        Ok(pid) => Ok(pid),
        Err((pid, errno)) => {
            // The child never reached `exec`: collect it before reporting.
            let mut status = 0;
            // SAFETY: our own child, which has exited.
            unsafe { libc::waitpid(pid, &mut status, 0) };
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
    /// The highest signal number (read before the clone).
    last_signal: libc::c_int,
    /// Written by the child when `run` returns (it failed before `exec`).
    errno: i32,
}

/// Starts a child with `clone(CLONE_VM | CLONE_VFORK | extra_flags)`:
/// it runs `run` on `stack`, sharing the caller's memory, and the caller
/// resumes once it has exec'd or exited. Every signal is blocked in the
/// calling thread meanwhile. Returns the pid, or the pid and errno of a
/// child whose `run` returned (failed before `exec`; it has exited and
/// waits to be reaped).
///
/// `run` runs in the child: it may only make async-signal-safe system
/// calls on data prepared before this call, and must end in `execve`
/// (returning the errno only when that fails).
pub(crate) fn clone_vfork(
    stack: &mut [u8],
    extra_flags: libc::c_int,
    handlers: Handlers,
    run: &mut dyn FnMut() -> i32,
) -> io::Result<Result<libc::pid_t, (libc::pid_t, i32)>> {
    let mut child = VforkChild {
        run,
        handlers,
        last_signal: libc::SIGRTMAX(),
        errno: 0,
    };
    // The stack grows down from the end, aligned to 16 bytes.
    let top = (stack.as_mut_ptr() as usize + stack.len()) & !15;
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD | extra_flags;
    // SAFETY: sigfillset and pthread_sigmask on locals; clone runs
    // `vfork_main` on its own stack with `child`, which lives on this
    // frame until clone returns (CLONE_VFORK: after the child exec'd or
    // exited); the mask is restored before returning.
    let (pid, clone_error) = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let pid = libc::clone(
            vfork_main,
            top as *mut libc::c_void,
            flags,
            (&mut child as *mut VforkChild<'_>).cast(),
        );
        let clone_error = io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        (pid, clone_error)
    };
    if pid < 0 {
        return Err(clone_error);
    }
    // SAFETY: the child has exec'd or exited; a volatile read sees what it
    // wrote to the shared memory.
    match unsafe { std::ptr::read_volatile(&child.errno) } {
        0 => Ok(Ok(pid)),
        errno => Ok(Err((pid, errno))),
    }
}

/// Runs in the clone child of [`clone_vfork`] (sharing the caller's memory
/// until `exec`), with every signal blocked: system calls only.
extern "C" fn vfork_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `VforkChild` that clone_vfork passed, alive
    // until we exec or exit.
    let child = unsafe { &mut *arg.cast::<VforkChild<'_>>() };
    if child.handlers == Handlers::Reset {
        reset_caught_signals(child.last_signal);
    }
    let errno = (child.run)();
    // SAFETY: shared memory the parent reads once we exit; _exit is
    // async-signal-safe.
    unsafe {
        std::ptr::write_volatile(&mut child.errno, errno.max(1));
        libc::_exit(127)
    }
}

/// Sets every signal with a handler back to its default disposition, as
/// `posix_spawn` does (the child has its own copy of the handler table:
/// no `CLONE_SIGHAND`). System calls only.
fn reset_caught_signals(last_signal: libc::c_int) {
    // SAFETY: sigaction queries and sets on locals.
    unsafe {
        for signal in 1..=last_signal {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut current) != 0 {
                continue;
            }
            if current.sa_sigaction == libc::SIG_DFL || current.sa_sigaction == libc::SIG_IGN {
                continue;
            }
            let mut default: libc::sigaction = std::mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(signal, &default, std::ptr::null_mut());
        }
    }
}

/// In the forked (or cloned) child: signals, session, streams, directory,
/// setup, then `last` (the launcher's confinement), then exec. Returns
/// only on failure, with the errno.
pub(super) fn in_child(
    exec: &Exec,
    fds: &ChildFds<'_>,
    session: Session,
    setup: &ChildSetup,
    ignored: &[libc::c_int],
    last: &dyn Fn() -> Result<(), i32>,
) -> i32 {
    // SAFETY: async-signal-safe calls on locals and on data prepared
    // before the fork.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        // An ignored signal stays ignored across exec (Rust ignores
        // SIGPIPE, the launcher the terminal's signals); caught ones are
        // reset by exec itself.
        for &signal in ignored {
            libc::signal(signal, libc::SIG_DFL);
        }
        let grouped = match session {
            Session::New => libc::setsid(),
            Session::SameAsProcbox => libc::setpgid(0, 0),
        };
        if grouped < 0 {
            return errno();
        }
        for (target, fd) in fds.stdio.iter().enumerate() {
            let fd = fd.as_raw_fd();
            if fd != target as RawFd && libc::dup2(fd, target as RawFd) < 0 {
                return errno();
            }
        }
        if libc::fchdir(fds.cwd.as_raw_fd()) < 0 {
            return errno();
        }
        if let Err(errno) = setup.apply() {
            return errno;
        }
        if let Err(errno) = last() {
            return errno;
        }
        libc::execve(exec.program.as_ptr(), exec.argv.as_ptr(), exec.envp.as_ptr());
        errno()
    }
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
    // SAFETY: duplicates a descriptor we own into a new one we own.
    let moved = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if moved < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just made, ours.
    Ok(unsafe { OwnedFd::from_raw_fd(moved) })
}
