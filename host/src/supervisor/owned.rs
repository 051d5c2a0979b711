//! The pids of this process's children that a watcher owns: started by
//! [`super::spawn`] and not yet reaped. Whoever reaps *other* children
//! (adopted orphans, as the child subreaper) must leave these alone, or a
//! watcher would lose its child's exit status.
//!
//! The rule that makes that safe: a pid enters the set under the same lock
//! as the spawn that creates it, and a reaper decides under that lock, so
//! no reaper can see a fresh child before it is registered.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};

static OWNED: Mutex<Option<HashSet<libc::pid_t>>> = Mutex::new(None);

/// The registry, locked.
pub(crate) struct Owned(MutexGuard<'static, Option<HashSet<libc::pid_t>>>);

impl Owned {
    /// Locks the registry (a spawn holds it across the spawn itself).
    pub(crate) fn lock() -> Owned {
        Owned(OWNED.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Registers a child a watcher now owns.
    pub(crate) fn insert(&mut self, pid: libc::pid_t) {
        self.0.get_or_insert_with(HashSet::new).insert(pid);
    }

    /// Whether a watcher owns `pid`.
    pub(crate) fn contains(&self, pid: libc::pid_t) -> bool {
        self.0.as_ref().is_some_and(|set| set.contains(&pid))
    }
}

/// Forgets `pid` once its watcher has reaped it.
pub(crate) fn release(pid: libc::pid_t) {
    if let Some(set) = Owned::lock().0.as_mut() {
        set.remove(&pid);
    }
}
