//! The WIT-facing layer: what a plugin sees of procbox. The one `bindgen!`
//! of `wit/process.wit` ([`bindings`]), the store's view and its linking
//! ([`ctx`]), the host functions of each interface and resource
//! ([`process`], [`child`], and [`v0_1`], which serves the 0.1 interface by
//! converting each call), and a child's pipes as `wasi:io` streams
//! ([`stdio`]).
//!
//! It owns no decision: every spawn goes down to the spawn path
//! ([`crate::Spawner`]) and every process to the supervisor. It may use
//! those two, the gate's error values, `exit` and `redirect`; nothing below
//! it uses this layer: the runtime, above it, links it into a store.

pub(crate) mod bindings;
pub(crate) mod child;
pub(crate) mod ctx;
mod process;
pub(crate) mod stdio;
#[cfg(test)]
mod tests;
mod v0_1;

/// What stops a plugin whose escalation hook could not decide: its call
/// traps with this, and the runtime ends the run with
/// `RunError::Aborted`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Aborted(pub String);
