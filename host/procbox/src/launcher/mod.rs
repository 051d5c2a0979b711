//! **The launcher**: a small process that starts every confined child; one
//! per seccomp filter it carries (in practice one per procbox process).
//!
//! Why a process and not a thread of procbox: a Landlock domain includes
//! the thread that made it, so a child confined from a thread of procbox
//! could signal that thread, and through it procbox (see the kernel notes
//! in ARCHITECTURE.md). The launcher is outside every child's domain, and
//! so is procbox. Each child confines itself between `clone` and `exec`
//! ([`server`]), so each gets a domain of its own: one per allow rule, and
//! a rule granted during the run is just another plan.
//!
//! A clean image: the launcher is not a fork of procbox but procbox's own
//! program exec'd anew ([`image`]), with the argument `procbox-launcher`
//! and an empty environment, and dispatched to [`server::serve`] before
//! `main` ([`entry`]): one thread, no runtime, nothing of procbox's
//! command line, environment or memory. The namespace's init is a fork of
//! it, so a child reading `/proc/1/cmdline` sees only `procbox-launcher`.
//! It says hello with [`wire::PROTOCOL`] first; a program that does not
//! (a wrong [`set_program`]) is refused in one line.
//!
//! Many spawns share one launcher at once ([`link`]): requests are
//! pipelined, each with an id, and replies matched to them; no lock is
//! held across a round trip and no tokio worker blocks on the launcher.
//!
//! Lifetime:
//! - it is started when the first confined child is spawned, from a
//!   dedicated thread that never exits (its death signal,
//!   `PR_SET_PDEATHSIG`, fires when the *thread* that started it exits);
//!   an application may start it earlier with [`start_early`];
//! - it keeps only its socket (fd 3), and dies with procbox (death
//!   signal) or when procbox closes the socket;
//! - with its first plan it loads its seccomp filters on itself and, under
//!   root, drops its own capabilities: children inherit both;
//! - if it dies, the next spawn starts a new one;
//! - when procbox exits (`atexit`, registered with the first launcher:
//!   [`exit`]), every launcher and namespace init is ended and reaped, so
//!   that a parent that never reaps (a container's entrypoint) is left no
//!   zombie.
//!
//! An embedding application needs to do nothing: any program linked with
//! this library can be exec'd as its launcher. One that cannot be exec'd
//! again (an interpreter loading the library) names a program that can
//! with [`set_program`]; when none starts, confined and contained spawns
//! fail with that reason, and nothing is forked in its place.
//!
//! Its layer (one of the kernel's three, with the sandbox and the process
//! tree) owns starting processes: the spawn primitive an unconfined child
//! is started with too ([`launch`]: `clone(CLONE_VM | CLONE_VFORK)` and
//! `exec`), what a child does to itself before `exec` ([`setup`]), the
//! launcher process, its protocol ([`wire`]) and the kernel probe
//! ([`probes`]), and the verdicts that rest on the probe's findings
//! ([`findings`]: `KernelSupport::get`, `Enforcement::decide`,
//! `NamespaceSupport::get`, `Containment::decide`). It may use `sys`, and
//! the sandbox and the process tree for the plans it applies, the probes
//! it runs and the verdicts' rules; they never use it (the sweeps learn
//! the launchers' pids through `sys::owned`, where this layer names the
//! function that lists them). The supervisor and the spawn path, above,
//! use it.

mod entry;
mod exit;
mod findings;
mod image;
pub mod launch;
mod link;
pub mod probes;
mod server;
pub mod setup;
mod setup_error;
pub mod wire;

pub use image::set_program;

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::exit::LauncherStages;
use crate::sandbox::plan::{ChildPlan, TreePlan};
use crate::sandbox::ChildNet;
use link::{gone, Link, Unanswered};
use wire::{Reply, Request};

/// What a launcher carries, fixed by its first plan: its seccomp filter
/// (the network grant it was built from, or `None` for none), loaded on
/// itself so that children inherit it rather than each paying for loading
/// one; and the PID namespace and cgroups its children start in.
type LauncherKey = (Option<ChildNet>, TreePlan);

/// The launchers of this process: one per key, and one started early that
/// has none yet.
#[derive(Default)]
struct Launchers {
    spare: Option<Arc<Link>>,
    bound: HashMap<LauncherKey, Arc<Link>>,
}

static LAUNCHERS: Mutex<Option<Launchers>> = Mutex::new(None);

/// Why a child did not start through the launcher.
#[derive(Debug)]
pub enum LaunchError {
    /// The child's own OS error before `exec` (it has been reaped).
    Child(io::Error),
    /// No launcher could be started or talked to.
    Launcher(io::Error),
    /// The plan's confinement or namespace cannot be set up.
    Confinement(String),
    /// The working directory cannot be reached from the child's namespace.
    Directory(io::Error, String),
    /// The launcher could not act on the request.
    Request(String),
}

impl From<io::Error> for LaunchError {
    fn from(error: io::Error) -> Self {
        LaunchError::Launcher(error)
    }
}

/// Starts the launcher now, on the calling thread, which must live as long
/// as the process (the launcher's death signal is tied to that thread),
/// and has it probe the kernel, in a fork of itself, before anything else.
/// Optional: without it, the first confined spawn starts the launcher
/// from a dedicated thread, and the first run a probe process.
///
/// It is not waited for here: a program that is not a launcher (a wrong
/// [`set_program`]) fails the first spawn that needs it, with the reason.
///
/// # Errors
/// The OS error of starting it.
pub fn start_early() -> io::Result<()> {
    // Reaps them at exit if no run asks for them.
    exit::reap_at_exit_once(rustix::process::getpid().as_raw_nonzero().get(), take_all);
    let mut launchers = lock();
    let launchers = launchers.get_or_insert_with(Launchers::default);
    if launchers.spare.is_none() && launchers.bound.is_empty() {
        // The launcher probes the kernel first: a run waits for that answer
        // before anything else, and it needs the launcher only at its
        // first spawn. Were the probe not asked, the first run starts a
        // probe process itself.
        let probe = probes::ask_early()?;
        launchers.spare = Some(start_launcher(Hello::Later, probe.as_ref().map(AsFd::as_fd))?);
    }
    Ok(())
}

/// The launchers' pids and their inits', running or being reaped: the
/// sweeps of escaped processes leave them alone (`sys::owned::helpers`).
fn pids() -> Vec<libc::pid_t> {
    let launchers = lock();
    let Some(launchers) = launchers.as_ref() else {
        return Vec::new();
    };
    let listed = launchers.spare.iter().chain(launchers.bound.values());
    let mut pids: Vec<libc::pid_t> = listed.flat_map(|link| link.pids()).collect();
    pids.extend(exit::Reaping::pids());
    pids
}

/// Starts `request`'s child, confined by `plan` (whose number the request
/// carries), with `fds` (stdin, stdout, stderr, working directory). Returns
/// its pid (a child of this process, already registered as owned) and
/// where the launcher's time went.
///
/// # Errors
/// The OS error of the child before `exec` (it has been reaped), or of
/// talking to the launcher.
pub async fn launch(
    mut request: Request,
    plan: &ChildPlan,
    fds: [BorrowedFd<'_>; wire::FDS],
) -> Result<(libc::pid_t, LauncherStages), LaunchError> {
    let key: LauncherKey = (plan.seccomp.then(|| plan.net.clone()), plan.tree.clone());
    // A launcher found dead before the request went out is replaced, but
    // not forever: one that dies as soon as it starts would loop here.
    let mut replaced = 0;
    let mut renewed_namespace = false;
    loop {
        let link = launcher_for(&key).await?;
        request.plan = (!link.knows(request.plan_id)).then(|| plan.clone());
        let sent = crate::sys::monotonic_ns();
        let asked = link.ask(&mut request, &fds).await;
        let resumed = crate::sys::monotonic_ns();
        let reply = match asked {
            Ok(reply) => reply,
            // A launcher started early that turned out not to be one.
            Err(_) if link.refusal().is_some() => {
                drop_launcher(&key, &link);
                return Err(link.refusal().unwrap_or_else(gone).into());
            }
            Err(Unanswered::NotSent(e)) if is_gone(&e) && replaced < 2 => {
                drop_launcher(&key, &link);
                replaced += 1;
                continue;
            }
            Err(Unanswered::NotSent(e)) if is_gone(&e) => {
                drop_launcher(&key, &link);
                return Err(io::Error::new(e.kind(), format!("the launcher process keeps exiting: {e}")).into());
            }
            Err(Unanswered::NotSent(e)) => return Err(e.into()),
            // It died with this request: forget it, so the next spawn
            // starts a new one, and say so.
            Err(Unanswered::Lost) => {
                drop_launcher(&key, &link);
                return Err(gone().into());
            }
        };
        match reply {
            Reply::UnknownPlan if request.plan.is_none() => link.forget(request.plan_id),
            Reply::Failed(wire::Failure::Child { pid: None, errno })
                if errno == libc::ENOMEM && !renewed_namespace && namespace_ended(&link) =>
            {
                // Its init was killed (the end-of-run sweep, or anyone): the
                // namespace can take no more processes. A new launcher makes
                // a new one.
                drop_launcher(&key, &link);
                renewed_namespace = true;
            }
            reply => {
                if let Reply::Started { init: Some(init), .. } = &reply {
                    link.learn_init(*init);
                }
                return finish(reply, sent, resumed);
            }
        }
    }
}

/// The launcher for `key`: the one bound to it, else the spare (bound to
/// it now), else a new one.
async fn launcher_for(key: &LauncherKey) -> io::Result<Arc<Link>> {
    if let Some(link) = bound_or_spare(key) {
        return Ok(link);
    }
    let started = start_from_keeper().await?;
    let mut launchers = lock();
    let launchers = launchers.get_or_insert_with(Launchers::default);
    match launchers.bound.get(key) {
        // Another spawn started one for this key meanwhile: use it, and
        // keep ours for the next key.
        Some(theirs) => {
            let theirs = theirs.clone();
            match launchers.spare {
                None => launchers.spare = Some(started),
                Some(_) => exit::end_in_background(started),
            }
            Ok(theirs)
        }
        None => {
            launchers.bound.insert(key.clone(), started.clone());
            Ok(started)
        }
    }
}

fn bound_or_spare(key: &LauncherKey) -> Option<Arc<Link>> {
    let mut launchers = lock();
    let launchers = launchers.get_or_insert_with(Launchers::default);
    if let Some(link) = launchers.bound.get(key) {
        return Some(link.clone());
    }
    let spare = launchers.spare.take()?;
    launchers.bound.insert(key.clone(), spare.clone());
    Some(spare)
}

/// Forgets a launcher that died (or whose namespace did), if it is still
/// the one listed for `key`, and ends it and its namespace in the
/// background.
fn drop_launcher(key: &LauncherKey, link: &Arc<Link>) {
    let mut launchers = lock();
    let Some(launchers) = launchers.as_mut() else {
        return;
    };
    if launchers.bound.get(key).is_some_and(|listed| Arc::ptr_eq(listed, link)) {
        launchers.bound.remove(key);
        exit::end_in_background(link.clone());
    }
}

/// Ends the launchers of the run `run` (see [`TreePlan::run`]) and their
/// namespaces, which kills whatever of the run's tree is left: the run is
/// over, and its cgroups can only be removed once nothing is inside.
pub fn retire(run: u64) {
    let retired: Vec<Arc<Link>> = {
        let mut launchers = lock();
        let Some(launchers) = launchers.as_mut() else {
            return;
        };
        let keys: Vec<LauncherKey> = launchers
            .bound
            .keys()
            .filter(|(_, tree)| tree.run == run)
            .cloned()
            .collect();
        let retired: Vec<Arc<Link>> = keys
            .into_iter()
            .filter_map(|key| launchers.bound.remove(&key))
            .collect();
        // Counted while the launchers are still listed or being reaped, so
        // that the reaping at exit waits for them.
        exit::Reaping::start(&retired);
        retired
    };
    for link in retired {
        // Its init's exit waits only for the namespace's members, which
        // the run has reaped by now.
        exit::end(&link);
        exit::Reaping::done(&link);
    }
}

/// Whether a launcher's namespace has ended: its init has exited (a clone
/// failing with ENOMEM alone may be memory pressure, and then the
/// namespace and its children must live on).
fn namespace_ended(link: &Link) -> bool {
    link.init.get().is_some_and(exit::exited)
}

/// What `reply` means to the spawn that sent its request at `sent` and
/// resumed with it at `resumed` (`sys::monotonic_ns`).
fn finish(reply: Reply, sent: u64, resumed: u64) -> Result<(libc::pid_t, LauncherStages), LaunchError> {
    match reply {
        Reply::Started {
            pid,
            mut stages,
            received,
            replied,
            ..
        } => {
            let nanos = std::time::Duration::from_nanos;
            stages.request_way = nanos(received.saturating_sub(sent));
            stages.reply_way = nanos(resumed.saturating_sub(replied));
            Ok((pid, stages))
        }
        Reply::Failed(wire::Failure::Child { pid, errno }) => {
            if let Some(pid) = pid {
                crate::sys::owned::kill_and_forget(pid);
            }
            Err(LaunchError::Child(io::Error::from_raw_os_error(errno)))
        }
        Reply::Failed(wire::Failure::Confinement(message)) => Err(LaunchError::Confinement(message)),
        Reply::Failed(wire::Failure::Directory { errno, message }) => {
            Err(LaunchError::Directory(io::Error::from_raw_os_error(errno), message))
        }
        Reply::Failed(wire::Failure::Request(message)) => Err(LaunchError::Request(message)),
        Reply::UnknownPlan => Err(LaunchError::Request("the launcher refused a plan it was sent".into())),
    }
}

fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::NotConnected
    )
}

fn lock() -> MutexGuard<'static, Option<Launchers>> {
    LAUNCHERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every launcher still listed, taken out of the list (for the exit).
fn take_all() -> Vec<Arc<Link>> {
    let mut launchers = lock();
    let Some(launchers) = launchers.as_mut() else {
        return Vec::new();
    };
    let bound = std::mem::take(&mut launchers.bound).into_values();
    launchers.spare.take().into_iter().chain(bound).collect()
}

type Order = oneshot::Sender<io::Result<Arc<Link>>>;

/// Starts a launcher from the keeper thread, which never exits; awaits it
/// without blocking the caller's thread.
async fn start_from_keeper() -> io::Result<Arc<Link>> {
    static KEEPER: Mutex<Option<std::sync::mpsc::Sender<Order>>> = Mutex::new(None);
    let (order, answer) = oneshot::channel();
    {
        let mut keeper = KEEPER.lock().unwrap_or_else(|e| e.into_inner());
        let orders = match keeper.as_ref() {
            Some(orders) => orders,
            None => keeper.insert(keeper_thread()?),
        };
        orders
            .send(order)
            .map_err(|_| io::Error::other("the launcher keeper thread is gone"))?;
    }
    answer
        .await
        .map_err(|_| io::Error::other("the launcher keeper thread is gone"))?
}

/// The thread that starts every launcher (their death signal is tied to
/// it); it lives as long as the process, since its sender is in a static.
fn keeper_thread() -> io::Result<std::sync::mpsc::Sender<Order>> {
    let (orders, inbox) = std::sync::mpsc::channel::<Order>();
    std::thread::Builder::new()
        .name("procbox-launcher-keeper".into())
        .spawn(move || {
            for order in inbox {
                let _ = order.send(start_launcher(Hello::Now, None));
            }
        })?;
    Ok(orders)
}

/// When a new launcher's hello is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hello {
    /// Here, before it is used: a spawn waits for it anyway, and a program
    /// that is not a launcher is refused with the reason.
    Now,
    /// By its link's thread, before any reply: started early, at the top
    /// of `main`, the launcher takes as long to load as procbox's own work
    /// until the first spawn, which need not wait for it twice.
    Later,
}

/// Starts a launcher from the calling thread (its death signal is tied to
/// it): exec'd from procbox's image ([`image`]) and checked to speak this
/// procbox's protocol, now or by its link ([`Hello`]). With `probe`, the
/// write end of [`probes::ask_early`]'s pipe, it probes the kernel first.
fn start_launcher(hello: Hello, probe: Option<BorrowedFd<'_>>) -> io::Result<Arc<Link>> {
    // Before the first launcher exists: the sweeps must know it is ours.
    crate::sys::owned::list_helpers_with(pids);
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    let (ours, theirs) = socketpair(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    let procbox = rustix::process::getpid().as_raw_nonzero().get();
    let streams = image::Streams {
        stdout: probe,
        fd3: Some(theirs.as_fd()),
    };
    // Owned from its creation (under the lock the sweeps decide under)
    // until it is reaped: until it is listed with the launchers, after its
    // hello, a sweep would otherwise take it for a stray, or the reaper of
    // orphans reap it from under its link.
    let pid = {
        let mut owned = crate::sys::owned::Owned::lock();
        let pid = image::start(entry::LAUNCHER, &streams, true)?;
        owned.insert(pid);
        pid
    };
    drop(theirs);
    exit::reap_at_exit_once(procbox, take_all);
    if hello == Hello::Now {
        if let Err(e) = link::handshake(&ours) {
            crate::sys::owned::kill_and_forget(pid);
            return Err(e);
        }
    }
    Link::start(ours, pid, hello == Hello::Later).inspect_err(|_| crate::sys::owned::kill_and_forget(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A launcher is procbox's own from its start: before it is listed
    /// with the launchers (once its hello is read), the sweep of escaped
    /// processes and the reaper of orphans already leave it alone (they
    /// spare what is owned), and its pid is forgotten once it is reaped.
    #[test]
    fn a_launcher_is_owned_from_its_start_until_it_is_reaped() {
        let link = start_launcher(Hello::Later, None).unwrap();
        let pid = link.pid;
        assert!(
            crate::sys::owned::Owned::lock().contains(pid),
            "a launcher not yet listed is still procbox's"
        );
        exit::end(&link);
        assert!(
            !crate::sys::owned::Owned::lock().contains(pid),
            "a reaped launcher's pid is forgotten (it may be reused)"
        );
    }
}
