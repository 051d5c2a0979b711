//! Starting procbox's helper processes from a clean image: a child that
//! shares procbox's memory until `exec` (`launch::clone_vfork`), then only
//! async-signal-safe system calls, then `execve` of this program
//! (`/proc/self/exe`, or the program an embedder named with
//! [`set_program`]) with one argument, the role's name, and an empty
//! environment. The exec'd process is dispatched to its role before `main`
//! by [`super::entry`]: a single thread that holds nothing of procbox's
//! (not its command line, its environment or its memory).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rustix::process::{Pid, Signal, WaitOptions};

use crate::launcher::launch::{clone_vfork, Exec, Handlers, Signals, VFORK_STACK_BYTES};
use crate::sys::{self, Disposition};

/// The program an embedder named to run as procbox's helpers, if any.
static PROGRAM: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Names the program that procbox executes as its launcher and probe,
/// instead of the running program itself (`/proc/self/exe`). Any program
/// linked with this library serves (its `main` never runs in that role);
/// use it when the running program cannot be executed again (deleted, or
/// an interpreter such as Python loading this library). Takes effect for
/// helpers started afterwards.
///
/// # Errors
/// When `path` is not absolute: helpers are started from any directory.
pub fn set_program(path: &Path) -> io::Result<()> {
    if !path.is_absolute() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the launcher program must be an absolute path, not {}", path.display()),
        ));
    }
    *PROGRAM.lock().unwrap_or_else(|e| e.into_inner()) = Some(path.to_path_buf());
    Ok(())
}

/// The program helpers are exec'd from, for messages.
pub fn program() -> PathBuf {
    PROGRAM
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"))
}

/// What a helper's descriptors 1 and 3 are (0 and 2 are `/dev/null`, and
/// every other descriptor is closed on `exec`).
pub struct Streams<'a> {
    /// Its standard output; `/dev/null` when `None`.
    pub stdout: Option<BorrowedFd<'a>>,
    /// Its descriptor 3 (the launcher's socket).
    pub fd3: Option<BorrowedFd<'a>>,
}

/// Starts `role` (one of [`super::entry`]'s names) as a child of the
/// calling thread. With `die_with_parent`, it gets SIGKILL when that thread
/// exits (`PR_SET_PDEATHSIG`, which survives `exec`).
///
/// # Errors
/// The OS error of `fork`, or of `execve` in the child (which has then
/// been reaped).
pub fn start(role: &CStr, streams: &Streams<'_>, die_with_parent: bool) -> io::Result<libc::pid_t> {
    // Keep the linker from dropping the constructor that serves the role.
    std::hint::black_box(&super::entry::ENTRY);
    let program = program();
    if program.as_os_str().as_bytes().contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the launcher program holds a NUL byte",
        ));
    }
    let role = role
        .to_str()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a role name is not UTF-8"))?;
    let exec = Exec::new(&program, role, &[], &[])?;
    // Everything the child touches, made here: above fd 3, so that moving
    // them into 0 to 3 cannot overwrite one another.
    let null = high(rustix::fs::open(
        c"/dev/null",
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?)?;
    let stdout = match streams.stdout {
        Some(fd) => high(fd.try_clone_to_owned()?)?,
        None => high(null.try_clone()?)?,
    };
    let fd3 = streams
        .fd3
        .map(|fd| fd.try_clone_to_owned().and_then(high))
        .transpose()?;
    let child = Prepared {
        exec: &exec,
        null: null.as_fd(),
        stdout: stdout.as_fd(),
        fd3: fd3.as_ref().map(|fd| fd.as_fd()),
        parent: die_with_parent.then(rustix::process::getpid),
        signals: Signals::of_this_process(),
    };
    let mut stack = vec![0u8; VFORK_STACK_BYTES];
    let mut run = || exec_role(&child);
    match clone_vfork(&mut stack, 0, Handlers::Reset, &mut run)? {
        Ok(pid) => Ok(pid),
        Err((pid, errno)) => {
            reap(pid);
            let error = io::Error::from_raw_os_error(errno);
            Err(io::Error::new(
                error.kind(),
                format!("cannot execute {} as procbox's helper: {error}", program.display()),
            ))
        }
    }
}

/// What the child needs, prepared before the clone.
struct Prepared<'a> {
    exec: &'a Exec,
    null: BorrowedFd<'a>,
    stdout: BorrowedFd<'a>,
    fd3: Option<BorrowedFd<'a>>,
    parent: Option<Pid>,
    signals: Signals,
}

/// Runs in the child cloned from procbox (a threaded process), sharing its
/// memory until `exec`: only async-signal-safe system calls on `child`,
/// then `execve`. Returns the errno of the step that failed.
fn exec_role(child: &Prepared<'_>) -> i32 {
    if let Some(parent) = child.parent {
        if let Err(e) = rustix::process::set_parent_process_death_signal(Some(Signal::KILL)) {
            return e.raw_os_error();
        }
        if rustix::process::getppid() != Some(parent) {
            sys::exit_now(1);
        }
    }
    // dup2 leaves the copies without close-on-exec.
    let placed = rustix::stdio::dup2_stdin(child.null)
        .and_then(|()| rustix::stdio::dup2_stdout(child.stdout))
        .and_then(|()| rustix::stdio::dup2_stderr(child.null));
    if let Err(e) = placed {
        return e.raw_os_error();
    }
    if let Some(fd3) = child.fd3 {
        // SAFETY: descriptor 3 of this child, which has its own table (no
        // CLONE_FILES) and nothing else that uses it: `dup2` replaces it,
        // and it is never closed here (forgotten below).
        let mut three = std::mem::ManuallyDrop::new(unsafe { OwnedFd::from_raw_fd(3) });
        if let Err(e) = rustix::io::dup2(fd3, &mut three) {
            return e.raw_os_error();
        }
    }
    let first_closed = if child.fd3.is_some() { 4 } else { 3 };
    let _ = sys::cloexec_from(first_closed);
    // Ignored signals stay ignored across exec: none of procbox's. Reset
    // before unblocking, so that no handler of procbox's runs here.
    for signal in child.signals.each() {
        sys::set_disposition(signal, Disposition::Default);
    }
    sys::set_signal_mask(sys::NO_SIGNALS);
    child.exec.execve()
}

/// `fd` moved to a number above 3 (close-on-exec).
fn high(fd: OwnedFd) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    if fd.as_raw_fd() > 3 {
        return Ok(fd);
    }
    Ok(rustix::io::fcntl_dupfd_cloexec(&fd, 4)?)
}

/// Kills and collects a child of ours (ECHILD if someone else reaped it).
pub fn reap(pid: libc::pid_t) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, Signal::KILL);
        let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
    }
}
