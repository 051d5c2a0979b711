//! The WIT-facing layer: what a plugin sees of procbox. The one `bindgen!`
//! of `wit/process.wit` ([`bindings`]), the store's view and its linking
//! ([`ctx`]), the host functions of each interface and resource
//! ([`process`], [`child`], and [`v0_1`], which serves the 0.1 interface by
//! converting each call), and a child's pipes as `wasi:io` streams
//! ([`stdio`]).
//!
//! It owns no decision: every spawn goes down to the spawn path
//! ([`crate::Spawner`]) and every process to the supervisor. It uses those
//! two, the gate's error values and the runtime's budget; nothing below it
//! uses this layer, except the runtime, which links it into a store.

pub(crate) mod bindings;
pub(crate) mod child;
pub(crate) mod ctx;
mod process;
pub(crate) mod stdio;
#[cfg(test)]
mod tests;
mod v0_1;
