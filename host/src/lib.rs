//! procbox runs WebAssembly component plugins that script operating-system
//! processes, under a capability policy that the person running them
//! grants.
//!
//! Where things are decided:
//! - [`policy`]: what was granted and what the plugin requests (plain data,
//!   built by [`PolicyBuilder`]; rule grammar in [`policy::rule`] and
//!   [`policy::env`], files in [`policy::document`]);
//! - [`spawner`]: **the one spawn path**, [`Spawner::spawn`]: judge,
//!   escalate, authorize, admit, spawn, observe;
//! - [`gate`]: the pure decision against the policy, [`Gate::judge`];
//! - [`admission`]: the limits on children at once and in total;
//! - [`hooks`]: authorizers, the escalation hook, observers;
//! - [`resolve`]: how a program name becomes the file that would run;
//! - [`supervisor`]: spawning from a [`Permit`], process groups, timeouts,
//!   reaping;
//! - [`stdio`]: child pipes as `wasi:io` streams;
//! - `host/`: the WIT interface, one file per interface or resource;
//! - [`observe`]: the audit log and `-v`, as observers;
//! - [`runtime`]: engine, loading, running, cleanup.
//!
//! Embedding procbox as a plugin system:
//!
//! ```no_run
//! use std::sync::Arc;
//! use procbox::{PolicyBuilder, Runtime, RunOptions};
//!
//! # async fn example() -> anyhow::Result<()> {
//! let policy = PolicyBuilder::new()
//!     .allow_run("git log **")
//!     .deny_run("git log --output=*")
//!     .allow_env("LANG=C*")
//!     .build()?;
//! let runtime = Runtime::new()?;
//! let plugin = runtime.load_file("report.wasm".as_ref())?;
//! let outcome = runtime.run(&plugin, RunOptions::new(Arc::new(policy))).await?;
//! println!("{outcome:?}");
//! # Ok(()) }
//! ```

pub mod admission;
pub mod bindings;
pub mod budget;
pub mod cache;
pub mod child;
mod confine;
pub mod containment;
pub mod ctx;
pub mod error;
pub mod exit;
pub mod gate;
pub mod hooks;
mod host;
pub mod observe;
pub mod policy;
pub mod redirect;
pub mod resolve;
pub mod runtime;
pub mod spawner;
pub mod stdio;
pub mod supervisor;

pub use admission::{Admission, Permit};
pub use error::SpawnError;
pub use exit::{ExitStatus, Termination, Usage};
pub use gate::{Decision, Gate, Refusal, SpawnRequest, Unmatched};
pub use hooks::{Answer, Authorizer, Escalation, ExitEvent, Observer};
pub use observe::{AuditLog, VerboseLog};
pub use policy::{Limits, PluginLimits, Policy, PolicyBuilder, PolicyError, Source};
pub use runtime::{CompileHook, Description, LoadError, Outcome, Plugin, RunError, RunOptions, Runtime, WasiSetup};
pub use spawner::{Hooks, Spawned, Spawner};

/// The wasmtime this crate is built with, for embedders that need its
/// types (e.g. a `Linker` of their own).
pub use wasmtime;
/// The wasmtime-wasi this crate is built with, for shaping a plugin's WASI
/// context ([`RunOptions::wasi`]), e.g. capturing its stdout.
pub use wasmtime_wasi;
