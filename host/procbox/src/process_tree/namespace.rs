//! The kernel's containment of children: a PID namespace that dies with
//! procbox, with a private `/proc`.
//!
//! The launcher (`launcher`) calls [`enter`] before its
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

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;

use crate::sys::{self, Disposition};
use crate::terms::Strictness;

pub use super::errors::{ContainmentError, NamespaceError, NoNamespace};

/// Whether this kernel, for this user, gives children a PID namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceSupport {
    /// `Ok(true)` when a user namespace is needed (procbox is not root)
    /// and works; `Err` says why there is no PID namespace.
    pub works: Result<bool, NoNamespace>,
    /// Whether `PROCBOX_PRETEND_NO_PIDNS=1` lowered the result.
    pub pretended: bool,
}

// `NamespaceSupport::get` and `Containment::decide`, which ask the probe,
// are the launcher's (`launcher::findings`): the probe runs in its image.

impl NamespaceSupport {
    /// What `PROCBOX_PRETEND_NO_PIDNS=1` (debug builds only) makes of the
    /// probe's findings: no namespace. `None` when it is not set.
    pub(crate) fn pretended_none() -> Option<NamespaceSupport> {
        let set = crate::sys::pretend::pretended("PROCBOX_PRETEND_NO_PIDNS").is_some_and(|v| v == "1");
        set.then(|| NamespaceSupport {
            works: Err(NoNamespace {
                reason: "PROCBOX_PRETEND_NO_PIDNS=1 pretends this kernel has none".into(),
            }),
            pretended: true,
        })
    }
}

/// What the kernel contains for one run, after the ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Containment {
    /// The mode that was asked for.
    pub mode: Strictness,
    /// Whether children get a PID namespace.
    pub pid_namespace: bool,
    /// Why not, under best effort.
    pub missing: Option<String>,
}

impl Containment {
    /// `contain = off`: no PID namespace, and nothing asked of the kernel.
    pub(crate) fn off() -> Containment {
        Containment {
            mode: Strictness::Off,
            pid_namespace: false,
            missing: None,
        }
    }

    /// The ladder: what `mode` makes of `support`, once a launcher runs
    /// (`Containment::decide` asks that first, in the launcher's layer).
    ///
    /// # Errors
    /// Under `require`, what the kernel lacks and the knob.
    pub(crate) fn ladder(mode: Strictness, support: &NamespaceSupport) -> Result<Containment, ContainmentError> {
        match &support.works {
            _ if mode == Strictness::Off => Ok(Containment::off()),
            Ok(_) => Ok(Containment {
                mode,
                pid_namespace: true,
                missing: None,
            }),
            Err(why) if mode == Strictness::Require => Err(ContainmentError::Required(why.clone())),
            Err(why) => Ok(Containment {
                mode,
                pid_namespace: false,
                missing: Some(why.reason.clone()),
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
/// probe): `unshare(CLONE_NEWUSER)` refuses others, and init is a
/// fork of it.
///
/// # Errors
/// Which step the kernel refused, and its error.
pub fn enter(procbox: libc::pid_t, init_is_procbox_child: bool) -> Result<Entered, NamespaceError> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    use rustix::process::{DumpableBehavior, Pid, PidfdFlags, Signal, WaitOptions};
    let step = |step: &'static str, e: Errno| NamespaceError::Step { step, source: e.into() };
    let user_namespace = !rustix::process::geteuid().is_root();
    if user_namespace {
        let (uid, gid) = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
        unshare(Namespace::User).map_err(|e| step("a user namespace", e))?;
        // A process that is not dumpable (the command line makes
        // itself so: children must not read its environment) has its
        // /proc files owned by root, and so cannot write its own maps.
        // Dumpable for the three writes only: no child exists yet.
        let dumpable = rustix::process::dumpable_behavior().unwrap_or(DumpableBehavior::NotDumpable);
        let _ = rustix::process::set_dumpable_behavior(DumpableBehavior::Dumpable);
        let mapped = map_user(uid, gid);
        let _ = rustix::process::set_dumpable_behavior(dumpable);
        mapped?;
    }
    // Without a pidfd (Linux before 5.3) init relies on its death signal.
    let pidfd = Pid::from_raw(procbox).and_then(|pid| rustix::process::pidfd_open(pid, PidfdFlags::empty()).ok());
    unshare(Namespace::Pid).map_err(|e| step("a PID namespace", e))?;
    // Init reports on a socket, with its mount namespace attached: we
    // could not open its /proc/PID/ns/mnt ourselves without root (it is
    // not dumpable).
    let (report, ready) = rustix::net::socketpair(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)
        .map_err(|e| step("a socket pair", e))?;
    let parent = if init_is_procbox_child { libc::CLONE_PARENT } else { 0 };
    // This process has one thread (the launcher, the probe): init is a
    // fork of it, and runs `init_main`, which never returns.
    let forked = crate::sys::fork::fork_alone(parent);
    if let Ok(0) = forked {
        init_main(pidfd, ready);
    }
    drop((ready, pidfd));
    let init = forked.map_err(|source| NamespaceError::Step {
        step: "the namespace's init",
        source,
    })?;
    let Some(init_pid) = Pid::from_raw(init) else {
        return Err(NamespaceError::InitExited);
    };
    let joined = read_report(report.as_fd()).and_then(|mounts| join_mounts(&mounts));
    drop(report);
    if let Err(e) = joined {
        let _ = rustix::process::kill_process(init_pid, Signal::KILL);
        if !init_is_procbox_child {
            let _ = rustix::process::waitpid(Some(init_pid), WaitOptions::empty());
        }
        return Err(e);
    }
    Ok(Entered { init, user_namespace })
}

/// The namespaces [`unshare`] makes.
#[derive(Clone, Copy)]
enum Namespace {
    User,
    Pid,
    Mount,
}

/// `unshare` of one namespace: never of what threads share (descriptors,
/// the working directory), which is what makes `unshare` unsafe in
/// general. Called only in processes with one thread (the launcher, the
/// probe, init).
fn unshare(namespace: Namespace) -> Result<(), Errno> {
    use rustix::thread::UnshareFlags;
    let flags = match namespace {
        Namespace::User => UnshareFlags::NEWUSER,
        Namespace::Pid => UnshareFlags::NEWPID,
        Namespace::Mount => UnshareFlags::NEWNS,
    };
    // SAFETY: a new namespace changes no descriptor table and no memory:
    // `UnshareFlags::FILES`, the flag rustix warns of, is never passed.
    unsafe { rustix::thread::unshare_unsafe(flags) }
}

/// Maps `uid` and `gid` to themselves in the new user namespace, the only
/// ids it knows (`setgroups` is denied first, as the kernel requires).
fn map_user(uid: libc::uid_t, gid: libc::gid_t) -> Result<(), NamespaceError> {
    let write = |file: &'static str, text: String| {
        std::fs::write(file, text).map_err(|source| NamespaceError::MapUser { file, source })
    };
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    write("/proc/self/gid_map", format!("{gid} {gid} 1"))
}

/// Joins init's mount namespace, where the namespace's `/proc` is: every
/// later child inherits it.
fn join_mounts(mounts: &OwnedFd) -> Result<(), NamespaceError> {
    use rustix::thread::LinkNameSpaceType;
    rustix::thread::move_into_link_name_space(mounts.as_fd(), Some(LinkNameSpaceType::Mount)).map_err(|e| {
        NamespaceError::Step {
            step: "joining the namespace's mounts",
            source: e.into(),
        }
    })
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
fn read_report(socket: BorrowedFd<'_>) -> Result<OwnedFd, NamespaceError> {
    let mut report = [0u8; 5];
    let mut got = 0;
    let mut mounts = None;
    while got < report.len() {
        match crate::sys::fds::recv_with_fds(socket, &mut report[got..]) {
            Ok((0, _)) => return Err(NamespaceError::InitExited),
            Ok((n, fds)) => {
                got += n;
                mounts = mounts.or(fds.into_iter().next());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(NamespaceError::Step {
                    step: "reading init's report",
                    source,
                })
            }
        }
    }
    let errno = i32::from_le_bytes([report[1], report[2], report[3], report[4]]);
    match report[0] {
        0 => mounts.ok_or(NamespaceError::NoMounts),
        step => Err(NamespaceError::Step {
            step: STEPS.get(step as usize).copied().unwrap_or("init"),
            source: std::io::Error::from_raw_os_error(errno),
        }),
    }
}

/// The namespace's init: dies with procbox, mounts the namespace's `/proc`,
/// reports on `ready`, then waits for procbox (`pidfd`) to die while the
/// kernel reaps the orphans re-parented to it. Runs in init, a fork of the
/// launcher (or of the probe), which has one thread: system calls
/// only, and it never returns.
fn init_main(pidfd: Option<OwnedFd>, ready: OwnedFd) -> ! {
    use rustix::fs::{Mode, OFlags};
    use rustix::mount::{MountFlags, MountPropagationFlags};
    let fail = |step: u8, e: Errno| fail_step(ready.as_fd(), step, e);
    if let Err(e) = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL)) {
        fail(1, e);
    }
    // procbox may have died before the death signal was set.
    let now = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
    if pidfd.as_ref().is_some_and(|fd| procbox_gone(fd.as_fd(), Some(&now))) {
        sys::exit_now(0);
    }
    if let Err(e) = unshare(Namespace::Mount) {
        fail(2, e);
    }
    if let Err(e) = rustix::mount::mount_change(c"/", MountPropagationFlags::REC | MountPropagationFlags::PRIVATE) {
        fail(3, e);
    }
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    if let Err(e) = rustix::mount::mount(c"proc", c"/proc", c"proc", flags, None::<&std::ffi::CStr>) {
        fail(4, e);
    }
    let mounts = match rustix::fs::open(c"/proc/self/ns/mnt", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(mounts) => mounts,
        Err(e) => fail_step(ready.as_fd(), 5, e),
    };
    sys::set_disposition(libc::SIGCHLD, Disposition::Ignore);
    let _ = rustix::thread::set_name(c"procbox-init");
    let sent = crate::sys::fds::send_with_fds(
        ready.as_fd(),
        &[0u8; 5],
        &[mounts.as_fd()],
        rustix::net::SendFlags::empty(),
    );
    if sent.is_err() {
        sys::exit_now(1);
    }
    drop((mounts, ready));
    // Nothing but the pidfd: the launcher's socket must close when the
    // launcher dies.
    close_all_but(pidfd.as_ref().map(|fd| fd.as_fd()));
    loop {
        match &pidfd {
            None => rustix::event::pause(),
            Some(fd) if procbox_gone(fd.as_fd(), None) => sys::exit_now(0),
            Some(_) => {}
        }
    }
}

/// Reports that init's `step` failed with `errno` on `ready`, and exits.
/// Runs in init.
fn fail_step(ready: BorrowedFd<'_>, step: u8, errno: Errno) -> ! {
    let errno = errno.raw_os_error().to_le_bytes();
    let report = [step, errno[0], errno[1], errno[2], errno[3]];
    let _ = rustix::io::write(ready, &report);
    sys::exit_now(1)
}

/// Whether procbox's pidfd reports its exit within `timeout` (`None`:
/// wait). Runs in init.
fn procbox_gone(pidfd: BorrowedFd<'_>, timeout: Option<&rustix::event::Timespec>) -> bool {
    use rustix::event::{PollFd, PollFlags};
    let mut poll = [PollFd::from_borrowed_fd(pidfd, PollFlags::IN)];
    matches!(rustix::event::poll(&mut poll, timeout), Ok(1))
}

/// Closes every descriptor of init but `keep`. Runs in init, which never
/// returns into the launcher's code whose objects own the others.
fn close_all_but(keep: Option<BorrowedFd<'_>>) {
    let ranges = match keep.map(|fd| fd.as_raw_fd() as u32) {
        None => [Some((0, u32::MAX)), None],
        Some(keep) => [keep.checked_sub(1).map(|last| (0, last)), Some((keep + 1, u32::MAX))],
    };
    for (first, last) in ranges.into_iter().flatten() {
        if close_call(libc::SYS_close_range, first, last) == 0 {
            continue;
        }
        // Before Linux 5.9: one by one, up to the descriptor limit (a
        // descriptor kept open here would keep a launcher's socket, or a
        // spawn's reply socket, open after the launcher died).
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(1 << 20)
            .min(u64::from(last) + 1);
        for fd in u64::from(first)..limit {
            close_call(libc::SYS_close, fd as u32, 0);
        }
    }
}

/// `close_range(first, last, 0)` or `close(first)`, as `nr` says; its
/// result. Runs in init.
fn close_call(nr: libc::c_long, first: u32, last: u32) -> libc::c_long {
    // SAFETY: no code of init uses these descriptors again: it owns
    // nothing but `keep` (its other objects were dropped above) and
    // never returns to the launcher's code, whose copies own the rest.
    unsafe { libc::syscall(nr, first, last, 0u32) }
}

/// Runs in the probe process (`launcher::probes`), which has
/// one thread and exits after probing: makes a namespace for real, as the
/// launcher does, then ends its init; `Ok(true)` when it needed a user
/// namespace. The probe stays in the namespaces it made, and can start no
/// process afterwards (the init of its children's PID namespace is gone).
pub fn probe_here() -> Result<bool, NamespaceError> {
    use rustix::process::{Pid, Signal, WaitOptions};
    let entered = enter(rustix::process::getpid().as_raw_nonzero().get(), false)?;
    if let Some(init) = Pid::from_raw(entered.init) {
        let _ = rustix::process::kill_process(init, Signal::KILL);
        let _ = rustix::process::waitpid(Some(init), WaitOptions::empty());
    }
    Ok(entered.user_namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip() {
        for mode in [Strictness::Require, Strictness::BestEffort, Strictness::Off] {
            assert_eq!(mode.to_string().parse::<Strictness>(), Ok(mode));
        }
        assert!("strict".parse::<Strictness>().is_err());
    }

    #[test]
    fn off_never_asks_the_kernel_and_says_what_remains() {
        let off = Containment::decide(Strictness::Off).unwrap();
        assert!(!off.pid_namespace);
        assert!(off.summary().contains("`contain = off`"), "{}", off.summary());
    }

    #[test]
    fn this_kernel_gives_root_a_pid_namespace() {
        // The machines the tests run on have PID namespaces, and the tests
        // run as root.
        assert_eq!(NamespaceSupport::get().works, Ok(false));
        assert!(Containment::decide(Strictness::Require).unwrap().pid_namespace);
    }
}
