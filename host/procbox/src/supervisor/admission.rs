//! Admission: the policy's limits on children at once (`max-children`) and
//! in total (`max-spawns`). A [`Decision`] the hooks agreed to becomes a
//! [`Permit`] here, which reserves one slot of each; the supervisor spawns
//! only from a permit.
//!
//! Rules:
//! - the running slot is held until the child has been reaped;
//! - the total counts only children that really started: a reservation
//!   whose spawn fails (or never happens) is given back when the permit
//!   is dropped, so a refused or failed spawn never uses up `max-spawns`.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::gate::Decision;
use crate::gate::{Exceeded, Limit, SpawnError};
use crate::policy::Limits;

/// Counts the children of one run against its limits.
#[derive(Debug, Clone)]
pub struct Admission {
    limits: Limits,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    running: AtomicUsize,
    spawned: AtomicU64,
}

impl Admission {
    /// Admission under `limits`, with nothing counted yet.
    pub fn new(limits: Limits) -> Self {
        Admission {
            limits,
            counters: Arc::default(),
        }
    }

    /// Reserves a slot for `decision`.
    ///
    /// # Errors
    /// [`SpawnError::LimitExceeded`] when `max-children` children run, or
    /// `max-spawns` children were started already.
    pub fn admit(&self, decision: Decision) -> Result<Permit, SpawnError> {
        let counters = &self.counters;
        let line = || decision.command_line();
        if !reserve(&counters.running, self.limits.max_children.map(|m| m as u64)) {
            let max = self.limits.max_children.unwrap_or_default();
            return Err(Exceeded::starting(line(), Limit::Children { max }).into());
        }
        let mut slot = ChildSlot {
            counters: Some(counters.clone()),
            started: false,
        };
        if !reserve(&counters.spawned, self.limits.max_spawns) {
            slot.started = true; // nothing reserved in `spawned` to give back
            let max = self.limits.max_spawns.unwrap_or_default();
            return Err(Exceeded::starting(line(), Limit::Spawns { max }).into());
        }
        Ok(Permit { decision, slot })
    }
}

/// Adds one to `counter` unless that would pass `max`.
fn reserve<C: Counter>(counter: &C, max: Option<u64>) -> bool {
    let previous = counter.increment();
    if max.is_some_and(|max| previous >= max) {
        counter.decrement();
        return false;
    }
    true
}

trait Counter {
    fn increment(&self) -> u64;
    fn decrement(&self);
}

impl Counter for AtomicUsize {
    fn increment(&self) -> u64 {
        self.fetch_add(1, Ordering::AcqRel) as u64
    }
    fn decrement(&self) {
        self.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Counter for AtomicU64 {
    fn increment(&self) -> u64 {
        self.fetch_add(1, Ordering::AcqRel)
    }
    fn decrement(&self) {
        self.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An admitted decision: what the supervisor spawns from. Only
/// [`Admission::admit`] makes one.
#[derive(Debug)]
pub struct Permit {
    decision: Decision,
    slot: ChildSlot,
}

impl Deref for Permit {
    type Target = Decision;
    fn deref(&self) -> &Decision {
        &self.decision
    }
}

impl Permit {
    /// The decision, once the permit has served (its slot, if not taken,
    /// is given back as it is dropped).
    pub(crate) fn into_decision(self) -> Decision {
        let Permit { decision, slot } = self;
        drop(slot);
        decision
    }

    /// Records the confinement the child runs under, for the observers.
    pub(crate) fn confined(&mut self, summary: String) {
        self.decision.confinement = Some(summary);
    }

    /// Takes the slot once the child has started: from now on it counts
    /// toward `max-spawns` for good, and it runs until the slot is dropped.
    pub(crate) fn started(&mut self) -> ChildSlot {
        let mut slot = std::mem::take(&mut self.slot);
        slot.started = true;
        slot
    }
}

/// One reserved running slot (and, until the child started, one reserved
/// spawn); freed when dropped.
#[derive(Debug, Default)]
pub struct ChildSlot {
    counters: Option<Arc<Counters>>,
    started: bool,
}

impl Drop for ChildSlot {
    fn drop(&mut self) {
        if let Some(counters) = self.counters.take() {
            counters.running.fetch_sub(1, Ordering::AcqRel);
            if !self.started {
                counters.spawned.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}
