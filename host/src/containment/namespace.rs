//! The kernel's containment of children: a PID namespace that dies with
//! procbox, with a private `/proc`.
//!
//! The launcher (`supervisor::launcher`) calls [`enter`] before its
//! first child:
//! 1. when procbox is not root, a user namespace that maps the user to
//!    itself (never to uid 0), which gives the launcher the right to make
//!    the others;
//! 2. a new PID namespace for the launcher's *children* (`unshare` moves
//!    only them);
//! 3. the namespace's init, started with `CLONE_PARENT`, so that its parent
//!    is procbox's thread that started the launcher: its death signal is
//!    tied to procbox, and it also watches procbox through a pidfd. When
//!    procbox dies, for any reason, init dies, and the kernel kills every
//!    process of the namespace;
//! 4. init mounts a `/proc` of the namespace in a new mount namespace, and
//!    the launcher joins it, so that children see only their own processes;
//! 5. init reaps the orphans re-parented to it (it ignores `SIGCHLD`, so the
//!    kernel reaps them) and otherwise waits for procbox to die.
//!
//! Each child is still started with `CLONE_PARENT`: procbox's own child
//! (its pid in procbox's namespace), waited for, timed and reaped as before.
//! `CLONE_PARENT` is refused *to* an init, which is why the launcher is not
//! the init itself.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use serde::{Deserialize, Serialize};

use crate::supervisor::launcher::wire;

/// How strictly the kernel must contain children.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContainMode {
    /// Refuse to run when the kernel cannot give children a PID namespace.
    Require,
    /// A PID namespace where the kernel allows one; otherwise process
    /// groups and the subreaper's sweep, said once (the default).
    #[default]
    BestEffort,
    /// Process groups and the subreaper's sweep only.
    Off,
}

impl FromStr for ContainMode {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "require" => Ok(ContainMode::Require),
            "best-effort" => Ok(ContainMode::BestEffort),
            "off" => Ok(ContainMode::Off),
            other => Err(format!(
                "unknown containment mode {other:?}: use require, best-effort or off"
            )),
        }
    }
}

impl fmt::Display for ContainMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContainMode::Require => "require",
            ContainMode::BestEffort => "best-effort",
            ContainMode::Off => "off",
        })
    }
}

/// Whether this kernel, for this user, gives children a PID namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceSupport {
    /// `Ok(true)` when a user namespace is needed (procbox is not root)
    /// and works; `Err` says why there is no PID namespace.
    pub works: Result<bool, String>,
    /// Whether `PROCBOX_PRETEND_NO_PIDNS=1` lowered the result.
    pub pretended: bool,
}

impl NamespaceSupport {
    /// The kernel's support, probed once per process by making a namespace
    /// for real in a throw-away child.
    pub fn get() -> &'static NamespaceSupport {
        static PROBED: OnceLock<NamespaceSupport> = OnceLock::new();
        PROBED.get_or_init(|| {
            if std::env::var_os("PROCBOX_PRETEND_NO_PIDNS").is_some_and(|v| v == "1") {
                return NamespaceSupport {
                    works: Err("PROCBOX_PRETEND_NO_PIDNS=1 pretends this kernel has none".into()),
                    pretended: true,
                };
            }
            let works = match crate::supervisor::launcher::probes::probed() {
                Ok(found) => found.namespace.clone(),
                Err(e) => Err(e.clone()),
            };
            NamespaceSupport {
                works,
                pretended: false,
            }
        })
    }
}

/// What the kernel contains for one run, after the ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Containment {
    /// The mode that was asked for.
    pub mode: ContainMode,
    /// Whether children get a PID namespace.
    pub pid_namespace: bool,
    /// Why not, under best effort.
    pub missing: Option<String>,
}

impl Containment {
    /// Applies the ladder to this kernel.
    ///
    /// # Errors
    /// Under `require`, one line saying what the kernel lacks and the knob.
    pub fn decide(mode: ContainMode) -> Result<Containment, String> {
        if mode == ContainMode::Off {
            return Ok(Containment {
                mode,
                pid_namespace: false,
                missing: None,
            });
        }
        // No helper process ran: no PID namespace can be made, and nothing
        // is forked from procbox in the launcher's place.
        if let Err(why) = crate::supervisor::launcher::probes::probed() {
            return Err(format!(
                "cannot contain children: {why}; name a program that can run as procbox's launcher \
                 (`procbox::set_launcher_program`), or set `contain = off`"
            ));
        }
        match &NamespaceSupport::get().works {
            Ok(_) => Ok(Containment {
                mode,
                pid_namespace: true,
                missing: None,
            }),
            Err(why) if mode == ContainMode::Require => Err(format!(
                "`contain = require`: children cannot get a PID namespace here ({why}); \
                 set `contain = best-effort` to run with process groups and the subreaper's sweep"
            )),
            Err(why) => Ok(Containment {
                mode,
                pid_namespace: false,
                missing: Some(why.clone()),
            }),
        }
    }

    /// How `die-with-procbox` is kept under this containment, in one line
    /// (for `-v` and `explain`).
    pub fn death_signal_summary(&self) -> &'static str {
        match self.pid_namespace {
            true => {
                "each child gets a death signal (PR_SET_PDEATHSIG, tied to procbox's thread that started the launcher); \
                 the PID namespace already implies it for the whole tree: its init dies with procbox, \
                 and the kernel then kills every process in the namespace"
            }
            false => "each child gets a death signal (PR_SET_PDEATHSIG): the child itself, not the processes it starts",
        }
    }

    /// What contains children, in one line.
    pub fn summary(&self) -> String {
        if self.pid_namespace {
            return format!(
                "a PID namespace that dies with procbox, with a private /proc ({})",
                self.mode
            );
        }
        let fallback = "process groups and the subreaper's sweep; children survive a SIGKILL of procbox";
        match &self.missing {
            Some(why) => format!("{fallback} (best effort: no PID namespace: {why})"),
            None => format!("{fallback} (`contain = off`)"),
        }
    }
}

/// What [`enter`] made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entered {
    /// The namespace's init, in the caller's PID namespace.
    pub init: libc::pid_t,
    /// Whether a user namespace was made (procbox is not root).
    pub user_namespace: bool,
}

/// Makes the calling process's future children members of a new PID
/// namespace whose init dies with `procbox`, and moves the caller into the
/// mount namespace where that namespace's `/proc` is mounted. With
/// `init_is_procbox_child`, init is started with `CLONE_PARENT` (the
/// launcher, whose parent is procbox); otherwise it is the caller's child.
///
/// Must be called in a process with one thread (the launcher, or the
/// probe's child): `unshare(CLONE_NEWUSER)` refuses others.
///
/// # Errors
/// Which step the kernel refused, and its error.
pub fn enter(procbox: libc::pid_t, init_is_procbox_child: bool) -> Result<Entered, String> {
    let step = |what: &str| format!("{what}: {}", std::io::Error::last_os_error());
    // SAFETY: system calls on integers and locals, in a single-threaded
    // process; the clone child runs `init_main`, which never returns.
    unsafe {
        let user_namespace = libc::geteuid() != 0;
        if user_namespace {
            let (uid, gid) = (libc::geteuid(), libc::getegid());
            if libc::unshare(libc::CLONE_NEWUSER) != 0 {
                return Err(step("a user namespace"));
            }
            // A process that is not dumpable (the command line makes
            // itself so: children must not read its environment) has its
            // /proc files owned by root, and so cannot write its own maps.
            // Dumpable for the three writes only: no child exists yet.
            let dumpable = libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0);
            libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
            let mapped = map_user(uid, gid);
            libc::prctl(libc::PR_SET_DUMPABLE, dumpable.max(0) as libc::c_ulong, 0, 0, 0);
            mapped?;
        }
        // Without a pidfd (Linux before 5.3) init relies on its death signal.
        let pidfd = libc::syscall(libc::SYS_pidfd_open, procbox, 0) as libc::c_int;
        let close_pidfd = || {
            if pidfd >= 0 {
                libc::close(pidfd);
            }
        };
        if libc::unshare(libc::CLONE_NEWPID) != 0 {
            close_pidfd();
            return Err(step("a PID namespace"));
        }
        // Init reports on a socket, with its mount namespace attached: we
        // could not open its /proc/PID/ns/mnt ourselves without root (it is
        // not dumpable).
        let mut ready = [0; 2];
        if libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            ready.as_mut_ptr(),
        ) != 0
        {
            close_pidfd();
            return Err(step("a socket pair"));
        }
        let parent = if init_is_procbox_child { libc::CLONE_PARENT } else { 0 };
        let flags = (parent | libc::SIGCHLD) as libc::c_ulong;
        let init = libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) as libc::pid_t;
        if init == 0 {
            init_main(pidfd, ready[1]);
        }
        let cloned = step("the namespace's init");
        libc::close(ready[1]);
        close_pidfd();
        if init < 0 {
            libc::close(ready[0]);
            return Err(cloned);
        }
        let joined = read_report(ready[0]).and_then(|mounts| join_mounts(&mounts));
        libc::close(ready[0]);
        if let Err(e) = joined {
            libc::kill(init, libc::SIGKILL);
            if !init_is_procbox_child {
                libc::waitpid(init, std::ptr::null_mut(), 0);
            }
            return Err(e);
        }
        Ok(Entered { init, user_namespace })
    }
}

/// Maps `uid` and `gid` to themselves in the new user namespace, the only
/// ids it knows (`setgroups` is denied first, as the kernel requires).
fn map_user(uid: libc::uid_t, gid: libc::gid_t) -> Result<(), String> {
    let write = |file: &str, text: String| {
        std::fs::write(file, text).map_err(|e| format!("writing {file} of the user namespace: {e}"))
    };
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    write("/proc/self/gid_map", format!("{gid} {gid} 1"))
}

/// Joins init's mount namespace, where the namespace's `/proc` is: every
/// later child inherits it.
fn join_mounts(mounts: &OwnedFd) -> Result<(), String> {
    // SAFETY: setns on a descriptor we own.
    if unsafe { libc::setns(mounts.as_raw_fd(), libc::CLONE_NEWNS) } != 0 {
        return Err(format!(
            "joining the namespace's mounts: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Steps of init, for its report.
const STEPS: [&str; 6] = [
    "",
    "the death signal",
    "a mount namespace",
    "making mounts private",
    "mounting the namespace's /proc",
    "opening the namespace's mounts",
];

/// Reads init's report: five zero bytes with its mount namespace
/// attached, or a step and an errno.
fn read_report(fd: libc::c_int) -> Result<OwnedFd, String> {
    // SAFETY: the socket outlives this function.
    let socket = unsafe { BorrowedFd::borrow_raw(fd) };
    let mut report = [0u8; 5];
    let mut got = 0;
    let mut mounts = None;
    while got < report.len() {
        match wire::recv_with_fds(socket, &mut report[got..]) {
            Ok((0, _)) => return Err("the namespace's init exited before it was ready".into()),
            Ok((n, fds)) => {
                got += n;
                mounts = mounts.or(fds.into_iter().next());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading init's report: {e}")),
        }
    }
    let errno = i32::from_le_bytes([report[1], report[2], report[3], report[4]]);
    match report[0] {
        0 => mounts.ok_or_else(|| "init reported without its mount namespace".to_string()),
        step => Err(format!(
            "{}: {}",
            STEPS.get(step as usize).copied().unwrap_or("init"),
            std::io::Error::from_raw_os_error(errno)
        )),
    }
}

/// The namespace's init: dies with procbox, mounts the namespace's `/proc`,
/// reports, then waits for procbox to die while the kernel reaps the
/// orphans re-parented to it. System calls only. Runs in init, a clone of
/// the launcher (or of the probe's child).
unsafe fn init_main(pidfd: libc::c_int, ready: libc::c_int) -> ! {
    // SAFETY: system calls on integers and static strings.
    unsafe {
        let fail = |step: u8| fail_step(ready, step);
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            fail(1);
        }
        // procbox may have died before the death signal was set.
        if procbox_gone(pidfd, 0) {
            libc::_exit(0);
        }
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            fail(2);
        }
        let none = std::ptr::null::<libc::c_char>();
        if libc::mount(
            none,
            c"/".as_ptr(),
            none,
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            fail(3);
        }
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        if libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            flags,
            std::ptr::null(),
        ) != 0
        {
            fail(4);
        }
        let mounts = libc::open(c"/proc/self/ns/mnt".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if mounts < 0 {
            fail(5);
        }
        libc::signal(libc::SIGCHLD, libc::SIG_IGN);
        libc::prctl(libc::PR_SET_NAME, c"procbox-init".as_ptr(), 0, 0, 0);
        if wire::send_with_fds(
            BorrowedFd::borrow_raw(ready),
            &[0u8; 5],
            &[BorrowedFd::borrow_raw(mounts)],
            rustix::net::SendFlags::empty(),
        )
        .is_err()
        {
            libc::_exit(1);
        }
        // Nothing but the pidfd: the launcher's socket must close when the
        // launcher dies.
        close_all_but(pidfd);
        loop {
            if pidfd < 0 {
                libc::pause();
            } else if procbox_gone(pidfd, -1) {
                libc::_exit(0);
            }
        }
    }
}

/// Reports that init's `step` failed, with the errno, and exits.
fn fail_step(ready: libc::c_int, step: u8) -> ! {
    let errno = std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(0)
        .to_le_bytes();
    let report = [step, errno[0], errno[1], errno[2], errno[3]];
    // SAFETY: a write from a local buffer, then _exit.
    unsafe {
        libc::write(ready, report.as_ptr().cast(), report.len());
        libc::_exit(1)
    }
}

/// Whether procbox's pidfd reports its exit within `millis` (-1: wait).
unsafe fn procbox_gone(pidfd: libc::c_int, millis: libc::c_int) -> bool {
    if pidfd < 0 {
        return false;
    }
    let mut poll = libc::pollfd {
        fd: pidfd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut poll, 1, millis) == 1 }
}

unsafe fn close_all_but(keep: libc::c_int) {
    // SAFETY: closing descriptor numbers this process owns alone.
    unsafe {
        if keep > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, (keep - 1) as u32, 0u32);
        }
        libc::syscall(libc::SYS_close_range, (keep.max(-1) + 1) as u32, u32::MAX, 0u32);
    }
}

/// Runs in the probe process (`supervisor::launcher::probes`), which has
/// one thread: makes a namespace for real in a throw-away child; `Ok(true)`
/// when it needed a user namespace.
pub fn probe_here() -> Result<bool, String> {
    let mut answer = [0; 2];
    // SAFETY: a pipe into a local array.
    if unsafe { libc::pipe2(answer.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("a pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: getpid and fork of the probe process, which has one thread;
    // the child runs `enter`, reports and exits.
    unsafe {
        let procbox = libc::getpid();
        let pid = libc::fork();
        if pid < 0 {
            return Err(format!("fork: {}", std::io::Error::last_os_error()));
        }
        if pid == 0 {
            libc::close(answer[0]);
            let code = match enter(procbox, false) {
                Ok(entered) => {
                    libc::kill(entered.init, libc::SIGKILL);
                    libc::waitpid(entered.init, std::ptr::null_mut(), 0);
                    0
                }
                Err(message) => {
                    libc::write(answer[1], message.as_ptr().cast(), message.len());
                    1
                }
            };
            libc::_exit(code);
        }
        libc::close(answer[1]);
        let mut message = Vec::new();
        let mut buffer = [0u8; 512];
        loop {
            let n = libc::read(answer[0], buffer.as_mut_ptr().cast(), buffer.len());
            if n > 0 {
                message.extend_from_slice(&buffer[..n as usize]);
            } else if n == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                break;
            }
        }
        libc::close(answer[0]);
        let mut status = 0;
        while libc::waitpid(pid, &mut status, 0) < 0 {
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                break;
            }
        }
        match libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            true => Ok(libc::geteuid() != 0),
            false if message.is_empty() => Err("the probe's child failed".into()),
            false => Err(String::from_utf8_lossy(&message).into_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip() {
        for mode in [ContainMode::Require, ContainMode::BestEffort, ContainMode::Off] {
            assert_eq!(mode.to_string().parse::<ContainMode>(), Ok(mode));
        }
        assert!("strict".parse::<ContainMode>().is_err());
    }

    #[test]
    fn off_never_asks_the_kernel_and_says_what_remains() {
        let off = Containment::decide(ContainMode::Off).unwrap();
        assert!(!off.pid_namespace);
        assert!(off.summary().contains("`contain = off`"), "{}", off.summary());
    }

    #[test]
    fn this_kernel_gives_root_a_pid_namespace() {
        // The machines this runs on (see ../shared/NOTES-kernel.md) have
        // PID namespaces; the tests run as root.
        assert_eq!(NamespaceSupport::get().works, Ok(false));
        assert!(Containment::decide(ContainMode::Require).unwrap().pid_namespace);
    }
}
