//! The launcher process: a loop that receives requests, loads its seccomp
//! filter on itself with the first plan (so every child inherits it: the
//! kernel's setup of a filter is not paid per child), prepares each distinct
//! plan once (a Landlock ruleset descriptor), and starts each child with
//! `clone(CLONE_VM | CLONE_VFORK | CLONE_PARENT)`:
//! - `CLONE_VM | CLONE_VFORK`, as `posix_spawn` does: no page tables are
//!   copied, so the cost does not grow with any process's size;
//! - `CLONE_PARENT`: the child is procbox's child, not the launcher's, so
//!   procbox's watcher waits for it, reaps it and reads its usage exactly as
//!   for an unconfined child, and the child's death signal
//!   (`--die-with-procbox`) is tied to procbox's thread that started the
//!   launcher.
//!
//! The child confines itself between `clone` and `exec`, under the rule of
//! the fork window ([`super::setup`]): it shares the
//! launcher's memory and may only make system calls on data prepared here.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use std::sync::Arc;

use super::setup_error::SetupError;
use super::wire::{self, Failure, Reply, Request};
use crate::exit::LauncherStages;
use crate::launcher::launch::{clone_vfork, in_child, ChildFds, Exec, Handlers, Session, VFORK_STACK_BYTES};
use crate::launcher::setup::ChildSetup;
use crate::process_tree::cgroup;
use crate::process_tree::namespace::{self, Entered};
use crate::sandbox::plan::ChildPlan;
use crate::sandbox::{ruleset, ChildNet};

/// The signals the launcher ignores, which its children reset.
pub const IGNORED: &[libc::c_int] = &[
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGHUP,
    libc::SIGPIPE,
];

/// A plan, made ready for the kernel.
struct Prepared {
    ruleset: Option<OwnedFd>,
    flags: u32,
}

/// Serves requests on `socket` until procbox closes it. Returns the exit
/// code of the launcher.
pub fn serve(socket: BorrowedFd<'_>, procbox: libc::pid_t) -> i32 {
    let mut prepared: HashMap<u64, Result<Prepared, SetupError>> = HashMap::new();
    let mut stack = vec![0u8; VFORK_STACK_BYTES];
    let mut filter: Option<Result<FilterKey, Arc<SetupError>>> = None;
    let mut namespace: Option<Result<Option<Entered>, Arc<SetupError>>> = None;
    let mut caps_dropped = false;
    loop {
        let (request, mut fds) = match wire::recv::<Request>(socket) {
            Ok(Some(received)) => received,
            Ok(None) => return 0,
            Err(_) => return 1,
        };
        let received = crate::sys::monotonic_ns();
        // The request's last descriptor is where its reply goes. Without
        // it (a procbox of another protocol) no reply can reach anyone:
        // the descriptors are closed, and the asker, if any, sees the end
        // of its reply socket.
        if fds.len() != wire::FDS + 1 {
            continue;
        }
        let Some(reply_to) = fds.pop() else { continue };
        let ready = contained(&mut namespace, &request, procbox).and_then(|entered| {
            filtered(&mut filter, &request)?;
            let in_user_namespace = entered.is_some_and(|e| e.user_namespace);
            unprivileged(&mut caps_dropped, &request, in_user_namespace)?;
            Ok(entered.map(|e| e.init))
        });
        let mut reply = match ready {
            Ok(init) => start(&request, &fds, &mut prepared, &mut stack, procbox, init, received),
            Err(e) => Reply::Failed(Failure::Confinement(e.to_string())),
        };
        drop(fds);
        if let Reply::Started { replied, .. } = &mut reply {
            *replied = crate::sys::monotonic_ns();
        }
        let replied = wire::Replied { id: request.id, reply };
        // A spawn gone before its reply left its socket to procbox's link,
        // which reads the reply and kills the child: a reply that cannot
        // be sent means procbox itself is going.
        let _ = wire::send(reply_to.as_fd(), &replied, &[]);
    }
}

/// How many prepared plans the launcher keeps: past it, it forgets them
/// all (and their descriptors), and procbox sends each again when needed.
const MAX_PLANS: usize = 256;

fn start(
    request: &Request,
    fds: &[OwnedFd],
    cache: &mut HashMap<u64, Result<Prepared, SetupError>>,
    stack: &mut [u8],
    procbox: libc::pid_t,
    init: Option<libc::pid_t>,
    received: u64,
) -> Reply {
    let refused = |message: String| Reply::Failed(Failure::Request(message));
    let [stdin, stdout, stderr, cwd] = fds else {
        return refused("the launcher got the wrong number of descriptors".into());
    };
    if !cache.contains_key(&request.plan_id) {
        let Some(plan) = &request.plan else {
            return Reply::UnknownPlan;
        };
        if cache.len() >= MAX_PLANS {
            cache.clear();
        }
        cache.insert(request.plan_id, prepare(plan));
    }
    let prepared = match &cache[&request.plan_id] {
        Ok(prepared) => prepared,
        Err(e) => return Reply::Failed(Failure::Confinement(e.to_string())),
    };
    let program = Path::new(std::ffi::OsStr::from_bytes(&request.program));
    let exec = match Exec::new(program, &request.arg0, &request.args, &request.env) {
        Ok(exec) => exec,
        Err(e) => return refused(e.to_string()),
    };
    // In a mount namespace of its own, a directory of procbox's would be
    // unreachable from the child's root (getcwd fails): the same directory,
    // opened here.
    let here = match init {
        Some(_) => match same_directory_here(cwd.as_fd(), &request.cwd_path) {
            Ok(here) => Some(here),
            Err((errno, message)) => return Reply::Failed(Failure::Directory { errno, message }),
        },
        None => None,
    };
    let cwd = here.as_ref().map_or(cwd.as_fd(), |here| here.as_fd());
    // The death signal is tied to procbox's thread that started the
    // launcher (CLONE_PARENT): the child is procbox's, in any namespace.
    let die_with = request.die_with.filter(|p| *p == procbox);
    let setup = ChildSetup::from_parts(&request.rlimits, die_with, init.is_some());
    let join: Vec<std::ffi::CString> = match request
        .join_cgroups
        .iter()
        .map(|path| std::ffi::CString::new(path.clone()))
        .collect()
    {
        Ok(join) => join,
        Err(_) => return refused("a cgroup path holds a NUL byte".into()),
    };
    let child = Child {
        exec: &exec,
        fds: ChildFds {
            stdio: [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()],
            cwd: cwd.as_fd(),
        },
        session: if request.new_session {
            Session::New
        } else {
            Session::SameAsProcbox
        },
        setup: &setup,
        ruleset: prepared.ruleset.as_ref().map(|fd| fd.as_fd()),
        flags: prepared.flags,
        join: &join,
    };
    clone_child(child, stack, init, received)
}

/// Opens `path` in the launcher's mount namespace, and checks that it is
/// the directory `given` (same device and inode): a directory swapped
/// since procbox opened `given` is refused, never followed.
fn same_directory_here(given: BorrowedFd<'_>, path: &[u8]) -> Result<OwnedFd, (i32, String)> {
    use std::os::unix::fs::MetadataExt;
    let path = Path::new(std::ffi::OsStr::from_bytes(path));
    let refused = |errno: i32, why: String| (errno, format!("working directory {}: {why}", path.display()));
    let opened = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| refused(e.raw_os_error().unwrap_or(libc::EIO), e.to_string()))?;
    let stat = |file: &std::fs::File| file.metadata().map(|m| (m.dev(), m.ino()));
    let given = std::fs::File::from(
        given
            .try_clone_to_owned()
            .map_err(|e| refused(libc::EIO, e.to_string()))?,
    );
    match (stat(&opened), stat(&given)) {
        (Ok(a), Ok(b)) if a == b => Ok(OwnedFd::from(opened)),
        _ => Err(refused(
            libc::EAGAIN,
            "it changed while the child was being started".into(),
        )),
    }
}

/// Joins the run's cgroups and makes the PID namespace with the first plan
/// ([`cgroup::join`], [`namespace::enter`]): the launcher, the namespace's
/// init and every child are in both; returns the namespace for every later
/// request.
fn contained(
    made: &mut Option<Result<Option<Entered>, Arc<SetupError>>>,
    request: &Request,
    procbox: libc::pid_t,
) -> Result<Option<Entered>, Arc<SetupError>> {
    let result = match made {
        Some(result) => result,
        None => {
            let Some(plan) = &request.plan else {
                return Ok(None); // asked by number only: UnknownPlan follows
            };
            if let Err(e) = cgroup::join(&plan.tree.cgroups) {
                return made.insert(Err(Arc::new(e.into()))).clone();
            }
            let entered = match plan.tree.pid_namespace {
                true => namespace::enter(procbox, true)
                    .map(Some)
                    .map_err(|e| Arc::new(SetupError::Namespace(e))),
                false => Ok(None),
            };
            made.insert(entered)
        }
    };
    let wanted = request.plan.as_ref().map(|plan| plan.tree.pid_namespace);
    if matches!((&*result, wanted), (Ok(made), Some(want)) if made.is_some() != want) {
        return Err(Arc::new(SetupError::OtherNamespace));
    }
    result.clone()
}

/// The network grant a launcher's seccomp filter was built from (`None`:
/// no filter).
type FilterKey = Option<ChildNet>;

/// Installs the seccomp filter of the first plan on the launcher itself
/// (its children inherit it), and checks that every later plan wants the
/// same one: procbox runs one launcher per filter.
fn filtered(
    installed: &mut Option<Result<FilterKey, Arc<SetupError>>>,
    request: &Request,
) -> Result<(), Arc<SetupError>> {
    let wanted = request.plan.as_ref().map(|plan| plan.seccomp.then(|| plan.net.clone()));
    let installed = match installed {
        Some(result) => result,
        None => {
            let Some(key) = wanted.clone() else {
                return Ok(()); // asked by number only: UnknownPlan follows
            };
            installed.insert(install_filter(key).map_err(Arc::new))
        }
    };
    match (installed, wanted) {
        (Err(e), _) => Err(e.clone()),
        (Ok(have), Some(want)) if *have != want => Err(Arc::new(SetupError::OtherFilter)),
        _ => Ok(()),
    }
}

/// Drops every capability of the launcher itself once a plan asks it for
/// children (procbox runs as root), or once it holds them in a user
/// namespace it made: its children inherit the empty sets, and the launcher
/// never needs a privilege again (it sees what its children do).
fn unprivileged(dropped: &mut bool, request: &Request, in_user_namespace: bool) -> Result<(), Arc<SetupError>> {
    if *dropped || !(in_user_namespace || request.plan.as_ref().is_some_and(|plan| plan.drop_caps)) {
        return Ok(());
    }
    drop_capabilities().map_err(|e| Arc::new(SetupError::Capabilities(e)))?;
    *dropped = true;
    Ok(())
}

fn install_filter(key: FilterKey) -> Result<FilterKey, SetupError> {
    if let Some(net) = &key {
        // The launcher never needs privileges.
        rustix::thread::set_no_new_privs(true).map_err(SetupError::NoNewPrivs)?;
        crate::sandbox::restrict::install(net)?;
    }
    Ok(key)
}

fn prepare(plan: &ChildPlan) -> Result<Prepared, SetupError> {
    const LOG_NEW_EXEC_ON: u32 = 1 << 1;
    Ok(Prepared {
        ruleset: ruleset::build(plan)?,
        flags: if plan.logs_denials() { LOG_NEW_EXEC_ON } else { 0 },
    })
}

/// Everything the clone child reads, prepared before `clone`.
struct Child<'a> {
    exec: &'a Exec,
    fds: ChildFds<'a>,
    session: Session,
    setup: &'a ChildSetup,
    ruleset: Option<BorrowedFd<'a>>,
    flags: u32,
    /// `cgroup.procs` files to write the child into.
    join: &'a [std::ffi::CString],
}

/// Starts the child; `received` is when its request was read
/// (`sys::monotonic_ns`).
fn clone_child(child: Child<'_>, stack: &mut [u8], init: Option<libc::pid_t>, received: u64) -> Reply {
    let marks = Marks::default();
    let confine = || {
        marks.set(Mark::Confining);
        let confined = confine_self(child.ruleset, child.flags);
        marks.set(Mark::Confined);
        confined
    };
    // Runs in the clone child (procbox's child by `CLONE_PARENT`, sharing
    // the launcher's memory until `exec`): system calls only. Into its own
    // cgroups first: before rlimits (a low RLIMIT_NOFILE would refuse the
    // open) and before Landlock (which would refuse the files).
    let mut run = || {
        marks.set(Mark::Joining);
        let joined = join_cgroups(child.join);
        marks.set(Mark::Joined);
        match joined {
            Ok(()) => in_child(child.exec, &child.fds, child.session, child.setup, IGNORED, &confine),
            Err(errno) => errno,
        }
    };
    let cloned = crate::sys::monotonic_ns();
    let started = clone_vfork(stack, libc::CLONE_PARENT, Handlers::NoneCaught, &mut run);
    let stages = marks.stages(received, cloned, crate::sys::monotonic_ns());
    match started {
        Ok(Ok(pid)) => Reply::Started {
            pid,
            init,
            stages,
            received,
            replied: 0, // stamped as it is sent
        },
        Ok(Err((pid, errno))) => Reply::Failed(Failure::Child { pid: Some(pid), errno }),
        Err(e) => Reply::Failed(Failure::Child {
            pid: None,
            errno: e.raw_os_error().unwrap_or(libc::EIO),
        }),
    }
}

/// The moments the clone child marks ([`Marks`]).
#[derive(Clone, Copy)]
enum Mark {
    Joining,
    Joined,
    Confining,
    Confined,
}

/// Times the clone child writes into the launcher's memory (which it
/// shares until `exec`): plain atomic stores, system-call free but for the
/// clock, whose first reading (rustix's lookup of the vDSO) the launcher
/// has made before every clone (`received`, `cloned`). The launcher reads
/// them once `clone` has returned.
#[derive(Default)]
struct Marks([std::sync::atomic::AtomicU64; 4]);

impl Marks {
    fn set(&self, mark: Mark) {
        self.0[mark as usize].store(crate::sys::monotonic_ns(), std::sync::atomic::Ordering::Relaxed);
    }

    fn get(&self, mark: Mark) -> u64 {
        self.0[mark as usize].load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The launcher's stages of a child whose request was read at
    /// `received`, cloned at `cloned`, and that had exec'd (or failed) by
    /// `resumed`. A mark the child never reached counts as no time.
    fn stages(&self, received: u64, cloned: u64, resumed: u64) -> LauncherStages {
        let between = |from: Mark, to: Mark| self.get(to).saturating_sub(self.get(from));
        let nanos = |n: u64| std::time::Duration::from_nanos(n);
        let cgroup_join = between(Mark::Joining, Mark::Joined);
        let landlock = between(Mark::Confining, Mark::Confined);
        LauncherStages {
            prepare: nanos(cloned.saturating_sub(received)),
            cgroup_join: nanos(cgroup_join),
            landlock: nanos(landlock),
            clone_exec: nanos(resumed.saturating_sub(cloned).saturating_sub(cgroup_join + landlock)),
            // procbox's to time, against `received` and `replied`.
            request_way: std::time::Duration::ZERO,
            reply_way: std::time::Duration::ZERO,
        }
    }
}

/// Writes the child into each cgroup (`"0"` is the writer itself). System
/// calls only (the fork window): the paths are C strings prepared before
/// the clone, and dropping a descriptor only closes it.
fn join_cgroups(procs: &[std::ffi::CString]) -> Result<(), i32> {
    use rustix::fs::{Mode, OFlags};
    for file in procs {
        let fd = rustix::fs::open(file.as_c_str(), OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| e.raw_os_error())?;
        match rustix::io::write(&fd, b"0") {
            Ok(1) => {}
            Ok(_) => return Err(libc::EIO),
            Err(e) => return Err(e.raw_os_error()),
        }
    }
    Ok(())
}

/// The last steps before `exec`: `no_new_privs` and Landlock. The seccomp
/// filter and the empty capability sets are the launcher's own, inherited.
/// System calls only (the fork window).
fn confine_self(ruleset: Option<BorrowedFd<'_>>, flags: u32) -> Result<(), i32> {
    rustix::thread::set_no_new_privs(true).map_err(|e| e.raw_os_error())?;
    if let Some(ruleset) = ruleset {
        crate::sys::landlock_restrict_self(ruleset, flags).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    }
    Ok(())
}

/// Empties every capability set of the calling process (the launcher of a
/// root procbox, whose children inherit them): the bounding set (so `exec`
/// of a root-owned program grants nothing), the ambient set, and the
/// permitted, effective and inheritable sets; and locks the secure bits
/// that would give them back. Runs in the launcher, on its only thread.
fn drop_capabilities() -> rustix::io::Result<()> {
    use rustix::thread::{CapabilitiesSecureBits as Bits, CapabilitySet, CapabilitySets};
    let bits = Bits::NO_ROOT
        | Bits::NO_ROOT_LOCKED
        | Bits::NO_SETUID_FIXUP
        | Bits::NO_SETUID_FIXUP_LOCKED
        | Bits::KEEP_CAPS_LOCKED
        | Bits::NO_CAP_AMBIENT_RAISE
        | Bits::NO_CAP_AMBIENT_RAISE_LOCKED;
    rustix::thread::set_capabilities_secure_bits(bits)?;
    rustix::thread::clear_ambient_capability_set()?;
    // Every number the kernel may know, not only those rustix names.
    for cap in 0..64 {
        match rustix::thread::remove_capability_from_bounding_set(CapabilitySet::from_bits_retain(1 << cap)) {
            Ok(()) | Err(rustix::io::Errno::INVAL) => {}
            Err(e) => return Err(e),
        }
    }
    let empty = CapabilitySets {
        effective: CapabilitySet::empty(),
        permitted: CapabilitySet::empty(),
        inheritable: CapabilitySet::empty(),
    };
    rustix::thread::set_capabilities(None, empty)
}
