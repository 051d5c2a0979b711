//! Grants that outlive a run: the store of rules remembered per plugin
//! (`store.rs`, keyed by the plugin's content hash, with each entry's
//! usable part in `entry.rs`) and the broker (`broker.rs`), an escalation
//! hook that asks another program over a Unix socket.
//!
//! The top layer: it may use the policy (an entry is a grants file), the
//! gate (the request an escalation is asked about), the spawn path's hooks (the broker is an
//! escalation hook) and the runtime's plugin identity and private-file
//! checks; nothing below it uses this layer.

pub mod broker;
mod entry;
mod store;

pub use entry::{limits_written, listed_rules, Entry, EntryError, Refused, Remembered, Usable};
pub use store::{GrantStore, Lookup, StoreError};
