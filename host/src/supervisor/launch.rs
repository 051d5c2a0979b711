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
//! - **`fork` + `exec`** when it does: the child applies its [`ChildSetup`]
//!   in the fork window and reports a failure through a close-on-exec pipe.
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

/// `fork`, the setup in the child, `execve`; a failure before or in
/// `execve` comes back as its errno through a close-on-exec pipe.
fn fork_exec(exec: &Exec, fds: &ChildFds<'_>, session: Session, setup: &ChildSetup) -> io::Result<libc::pid_t> {
    let (report_read, report_write) = cloexec_pipe()?;
    // SAFETY: the child only calls `in_child`, which keeps to the rule of
    // the fork window (async-signal-safe calls on data prepared here).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        let errno = in_child(exec, fds, session, setup, &[libc::SIGPIPE], &|| Ok(()));
        let bytes = errno.to_ne_bytes();
        // SAFETY: write and _exit are async-signal-safe.
        unsafe {
            libc::write(report_write.as_raw_fd(), bytes.as_ptr().cast(), bytes.len());
            libc::_exit(127);
        }
    }
    drop(report_write);
    match read_report(&report_read) {
        None => Ok(pid),
        Some(errno) => {
            // The child never reached `exec`: collect it before reporting.
            let mut status = 0;
            // SAFETY: our own, already exiting child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            Err(io::Error::from_raw_os_error(errno))
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

fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut ends = [0; 2];
    // SAFETY: pipe2 fills the array with two new descriptors.
    if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are ours now.
    Ok(unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) })
}

/// The child's errno, or `None` once `exec` closed the pipe.
fn read_report(pipe: &OwnedFd) -> Option<i32> {
    let mut bytes = [0u8; 4];
    loop {
        // SAFETY: reads into a local buffer.
        let n = unsafe { libc::read(pipe.as_raw_fd(), bytes.as_mut_ptr().cast(), bytes.len()) };
        match n {
            4 => return Some(i32::from_ne_bytes(bytes)),
            n if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => continue,
            _ => return None,
        }
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
