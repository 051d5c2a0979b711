//! The spawn path: the one place a process is started
//! ([`spawner::Spawner::spawn`]: judge, escalate, authorize, admit, spawn,
//! observe), the limits on children at once and in total that make a
//! `Permit` (`admission.rs`), the hooks an application attaches
//! (`hooks.rs`: authorizers, one escalation hook, observers) and the
//! observers procbox ships (`observe.rs`: the audit log and `-v`), and the
//! pauses of a run while an escalation hook is asked (`pauses.rs`).
//!
//! Uses the policy and the gate (the decision), the sandbox and process
//! tree plans (`sandbox`, `process_tree`) and the supervisor (the start);
//! the WIT-facing layer and the runtime use it.

pub(crate) mod admission;
pub(crate) mod hooks;
pub(crate) mod observe;
pub(crate) mod pauses;
pub(crate) mod spawner;
