//! The pids of this process's children that a watcher owns: started by
//! the supervisor (`supervisor::spawn`) and not yet reaped; and those of
//! procbox's helper processes (launchers, probes) from their start until
//! they are reaped. Whoever reaps *other* children
//! (adopted orphans, as the child subreaper) must leave these alone, or a
//! watcher would lose its child's exit status.
//!
//! The rule that makes that safe: a pid enters the set under the same lock
//! as the spawn that creates it, and a reaper decides under that lock, so
//! no reaper can see a fresh child before it is registered. A child the
//! launcher starts exists before procbox learns its pid (from the reply):
//! such launches are counted while in flight, and a reaper reaps nothing
//! while any is ([`Owned::may_reap`]); the last one to finish raises
//! SIGCHLD again, so the reaping it put off happens.
//!
//! The sweeps leave procbox's own helper processes alone too (the
//! launchers, their namespaces' inits): the launcher names the function
//! that lists them ([`list_helpers_with`]), so that the process tree,
//! below it, needs no knowledge of it.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, OnceLock};

#[derive(Default)]
struct Registry {
    pids: HashSet<libc::pid_t>,
    /// Launcher requests sent and not yet answered.
    launching: usize,
    /// A reaper found launches in flight and reaped nothing.
    deferred: bool,
}

static OWNED: Mutex<Option<Registry>> = Mutex::new(None);

/// Lists procbox's own helper processes (the launchers and their
/// namespaces' inits, running or being ended), set by the launcher's
/// layer before it starts the first one.
static HELPERS: OnceLock<fn() -> Vec<libc::pid_t>> = OnceLock::new();

/// Names the function that lists procbox's helper processes, which the
/// sweeps of escaped processes leave alone. Called by whoever starts them
/// (the launcher), before the first is started; later calls change
/// nothing. (A launcher is listed from the moment its starter records it,
/// after its hello; before that, it is owned from its start, as a child
/// is.)
pub(crate) fn list_helpers_with(list: fn() -> Vec<libc::pid_t>) {
    let _ = HELPERS.set(list);
}

/// The pids of procbox's helper processes: children of this process that
/// are procbox's, not a plugin's (none before the first launcher starts).
pub(crate) fn helpers() -> Vec<libc::pid_t> {
    HELPERS.get().map_or_else(Vec::new, |list| list())
}

/// The registry, locked.
pub(crate) struct Owned(MutexGuard<'static, Option<Registry>>);

impl Owned {
    /// Locks the registry (a spawn holds it across the spawn itself).
    pub(crate) fn lock() -> Owned {
        Owned(OWNED.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn registry(&mut self) -> &mut Registry {
        self.0.get_or_insert_with(Registry::default)
    }

    /// Registers a child a watcher now owns.
    pub(crate) fn insert(&mut self, pid: libc::pid_t) {
        self.registry().pids.insert(pid);
    }

    /// Whether a watcher owns `pid`.
    pub(crate) fn contains(&self, pid: libc::pid_t) -> bool {
        self.0.as_ref().is_some_and(|r| r.pids.contains(&pid))
    }

    /// A launcher request is about to be sent.
    pub(crate) fn launching(&mut self) {
        self.registry().launching += 1;
    }

    /// A launcher request was answered (or never will be); `child` is the
    /// child it made, owned from now on.
    pub(crate) fn launched(&mut self, child: Option<libc::pid_t>) {
        let registry = self.registry();
        registry.launching = registry.launching.saturating_sub(1);
        if let Some(pid) = child {
            registry.pids.insert(pid);
        }
        if registry.launching == 0 && std::mem::take(&mut registry.deferred) {
            // The reaping put off in `may_reap`: the reaper runs on SIGCHLD.
            let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::CHILD);
        }
    }

    /// Whether a reaper of other children may reap now: not while a
    /// launcher request is in flight (its child may exist unregistered).
    pub(crate) fn may_reap(&mut self) -> bool {
        let registry = self.registry();
        registry.deferred |= registry.launching > 0;
        registry.launching == 0
    }
}

/// Kills `pid`, an owned child of this process that no watcher waits for
/// (a launcher, a child whose spawn is gone), waits for its exit, then
/// reaps and forgets it under the registry's lock: a new child of
/// procbox's cannot take the pid between the reaping and the forgetting,
/// and be forgotten in its place. The child is unreaped until here, so
/// its pid is its own when it is killed.
pub(crate) fn kill_and_forget(pid: libc::pid_t) {
    use rustix::process::{kill_process, waitid, waitpid, Pid, Signal, WaitId, WaitIdOptions, WaitOptions};
    let Some(child) = Pid::from_raw(pid) else {
        return;
    };
    let _ = kill_process(child, Signal::KILL);
    let _ = waitid(WaitId::Pid(child), WaitIdOptions::EXITED | WaitIdOptions::NOWAIT);
    let mut owned = Owned::lock();
    let _ = waitpid(Some(child), WaitOptions::NOHANG);
    owned.forget(pid);
}

/// Forgets `pid` once its watcher has reaped it.
pub(crate) fn release(pid: libc::pid_t) {
    Owned::lock().forget(pid);
}

impl Owned {
    /// Forgets `pid`, reaped (best under this lock, held from the reaping
    /// on: no new child can take the pid before it is forgotten).
    pub(crate) fn forget(&mut self, pid: libc::pid_t) {
        if let Some(registry) = self.0.as_mut() {
            registry.pids.remove(&pid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reaper never acts while a launcher request is in flight (its child
    /// may exist before procbox knows its pid), and the child is owned by
    /// the time the reaper may act again. Pids here are made up and far
    /// above any real one: the registry is the process's own.
    #[test]
    fn no_reaping_while_a_launch_is_in_flight_and_its_child_is_owned_after() {
        let child = i32::MAX - 7;
        Owned::lock().launching();
        assert!(!Owned::lock().may_reap());
        Owned::lock().launched(Some(child));
        let mut owned = Owned::lock();
        assert!(owned.contains(child));
        assert!(owned.may_reap() || owned.registry().launching > 0);
        drop(owned);
        release(child);
        assert!(!Owned::lock().contains(child));
    }
}
