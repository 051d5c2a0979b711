//! The spawn path: the one place a process is started
//! ([`spawner::Spawner::spawn`]: judge, escalate, authorize, admit, spawn,
//! observe), with the supervisor's admission (the limits on children at
//! once and in total that make a `Permit`), the hooks an application
//! attaches (`hooks.rs`: authorizers, one escalation hook, observers) and the
//! observers procbox ships (`observe.rs`: the audit log and `-v`), and the
//! pauses of a run while an escalation hook is asked (`pauses.rs`).
//!
//! It may use the policy and the gate (the decision), the sandbox and
//! process tree plans (`sandbox`, `process_tree`), the supervisor (the
//! start, admission), the launcher (ending a run's launcher) and `exit`;
//! the WIT-facing layer, the runtime and the grants use it, never a layer
//! below.

pub(crate) mod hooks;
pub(crate) mod observe;
pub(crate) mod pauses;
pub(crate) mod spawner;
