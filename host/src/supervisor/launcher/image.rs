//! Starting procbox's helper processes from a clean image: `fork`, then
//! only async-signal-safe system calls, then `execve` of this program
//! (`/proc/self/exe`, or the program an embedder named with
//! [`set_program`]) with one argument, the role's name, and an empty
//! environment. The exec'd process is dispatched to its role before `main`
//! by [`super::entry`]: a single thread that holds nothing of procbox's
//! (not its command line, its environment or its memory).

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    let program = CString::new(program().as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the launcher program holds a NUL byte"))?;
    // Everything the child touches, made here: above fd 3, so that moving
    // them into 0 to 3 cannot overwrite one another.
    let null = high(open_null()?)?;
    let stdout = match streams.stdout {
        Some(fd) => high(fd.try_clone_to_owned()?)?,
        None => high(null.try_clone()?)?,
    };
    let fd3 = streams
        .fd3
        .map(|fd| fd.try_clone_to_owned().and_then(high))
        .transpose()?;
    let (report_read, report_write) = cloexec_pipe()?;
    let report_write = high(report_write)?;
    let argv = [role.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null::<libc::c_char>()];
    let child = Prepared {
        program: &program,
        argv: &argv,
        envp: &envp,
        null: null.as_raw_fd(),
        stdout: stdout.as_raw_fd(),
        fd3: fd3.as_ref().map(|fd| fd.as_raw_fd()),
        report: report_write.as_raw_fd(),
        // SAFETY: getpid has no preconditions.
        parent: die_with_parent.then(|| unsafe { libc::getpid() }),
        last_signal: libc::SIGRTMAX(),
    };
    // SAFETY: the child runs `exec_role`, which makes only async-signal-safe
    // system calls on `child` (prepared above) and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        exec_role(&child);
    }
    drop(report_write);
    match read_errno(&report_read) {
        None => Ok(pid),
        Some(errno) => {
            reap(pid);
            let error = io::Error::from_raw_os_error(errno);
            Err(io::Error::new(
                error.kind(),
                format!(
                    "cannot execute {} as procbox's helper: {error}",
                    program.to_string_lossy()
                ),
            ))
        }
    }
}

/// What the forked child needs, prepared before `fork`.
struct Prepared<'a> {
    program: &'a CStr,
    argv: &'a [*const libc::c_char; 2],
    envp: &'a [*const libc::c_char; 1],
    null: RawFd,
    stdout: RawFd,
    fd3: Option<RawFd>,
    report: RawFd,
    parent: Option<libc::pid_t>,
    last_signal: libc::c_int,
}

/// Runs in the child forked from procbox (a threaded process): only
/// async-signal-safe system calls on `child`, then `execve`. On failure,
/// writes the errno to the report pipe and exits.
fn exec_role(child: &Prepared<'_>) -> ! {
    // SAFETY: system calls on descriptor numbers and data prepared before
    // the fork; the child owns every descriptor it inherited.
    unsafe {
        let failed = |child: &Prepared<'_>| -> ! {
            let errno = *libc::__errno_location();
            let bytes = errno.to_ne_bytes();
            libc::write(child.report, bytes.as_ptr().cast(), bytes.len());
            libc::_exit(127)
        };
        if let Some(parent) = child.parent {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                failed(child);
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
        }
        // dup2 leaves the copies without close-on-exec.
        for (from, to) in [(child.null, 0), (child.stdout, 1), (child.null, 2)] {
            if libc::dup2(from, to) != to {
                failed(child);
            }
        }
        if let Some(fd3) = child.fd3 {
            if libc::dup2(fd3, 3) != 3 {
                failed(child);
            }
        }
        let first_closed = if child.fd3.is_some() { 4 } else { 3 };
        libc::syscall(
            libc::SYS_close_range,
            first_closed as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        // Ignored signals stay ignored across exec: none of procbox's.
        for signal in 1..=child.last_signal {
            libc::signal(signal, libc::SIG_DFL);
        }
        libc::execve(child.program.as_ptr(), child.argv.as_ptr(), child.envp.as_ptr());
        failed(child)
    }
}

fn open_null() -> io::Result<OwnedFd> {
    // SAFETY: open of a static path; the descriptor is ours.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just opened.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `fd` moved to a number above 3 (close-on-exec).
fn high(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 3 {
        return Ok(fd);
    }
    // SAFETY: duplicates a descriptor we own.
    let moved = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 4) };
    if moved < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just made.
    Ok(unsafe { OwnedFd::from_raw_fd(moved) })
}

fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut ends = [0; 2];
    // SAFETY: pipe2 fills the array with two new descriptors.
    if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are ours now.
    Ok(unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) })
}

/// The errno the child reported, or `None` when the pipe closed empty
/// (its `execve` succeeded).
fn read_errno(pipe: &OwnedFd) -> Option<i32> {
    let mut bytes = [0u8; 4];
    let mut got = 0;
    while got < bytes.len() {
        // SAFETY: reads into a live local buffer.
        let n = unsafe { libc::read(pipe.as_raw_fd(), bytes[got..].as_mut_ptr().cast(), bytes.len() - got) };
        match n {
            0 => break,
            n if n > 0 => got += n as usize,
            _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            _ => break,
        }
    }
    (got == bytes.len()).then(|| i32::from_ne_bytes(bytes))
}

/// Kills and collects a child of ours.
pub fn reap(pid: libc::pid_t) {
    // SAFETY: plain calls on our own child; ECHILD if someone else reaped it.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}
