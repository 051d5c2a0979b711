//! procbox runs WebAssembly component plugins that script operating-system
//! processes, under a capability policy that the person running them
//! grants.
//!
//! The public surface, by what an embedder does with it (ARCHITECTURE.md
//! has the inside):
//! - **grant**: [`PolicyBuilder`] → [`Policy`]; rule grammar in
//!   [`policy::rule`] and [`policy::env`], files in [`policy::document`],
//!   limits in [`policy::knobs`];
//! - **run a plugin**: [`Runtime`], [`RunOptions`] (hooks, the plugin's own
//!   WASI), [`Outcome`], [`LoadError`], [`RunError`];
//! - **decide with the user**: [`hooks`] ([`Authorizer`], [`Escalation`],
//!   [`Observer`]), and the shipped observers [`AuditLog`], [`VerboseLog`];
//! - **start processes without wasm**: [`Spawner::spawn`], the one spawn
//!   path (judge, escalate, authorize, admit, spawn, observe), and
//!   [`Gate`], the pure decision it starts with;
//! - **link into a store of your own**: [`ctx`] ([`ProcessCtx`],
//!   [`ProcessView`], [`add_to_linker`]);
//! - **process-wide choices** an application makes itself: [`containment`]
//!   (subreaper sweep, inherited descriptors), [`cache`].
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

#![deny(missing_docs)]
// Each `unsafe` block holds one unsafe operation, and an `unsafe fn` is no
// licence for unchecked operations in its body: every one is named and
// justified (`// SAFETY:`, required by the workspace's lints).
#![deny(unsafe_op_in_unsafe_fn, clippy::multiple_unsafe_ops_per_block)]

mod admission;
mod bindings;
pub mod broker;
mod budget;
pub mod cache;
mod child;
pub mod confine;
pub mod containment;
pub mod ctx;
mod error;
mod exit;
pub mod gate;
pub mod grant_store;
pub mod hooks;
mod host;
mod known;
mod observe;
pub mod plugin_file;
pub mod policy;
mod private;
mod redirect;
pub mod resolve;
mod runtime;
pub mod spawner;
mod stdio;
mod supervisor;
mod sys;

pub use budget::Pauses;
pub use cache::{CacheWarning, Origin};
pub use confine::probe::{Enforcement, KernelSupport, Unenforceable};
pub use confine::{ChildNet, ConfineMode, Confinement, Helper};
pub use containment::{ContainMode, Containment};
pub use ctx::{add_to_linker, add_to_linker_with_wasi, ProcessCtx, ProcessCtxView, ProcessView};
pub use error::SpawnError;
pub use exit::{ExitStatus, Termination, TreeUsage, Usage};
pub use gate::fix::{Denial, Fix, FixStyle, Grant, GrantsFile};
pub use gate::{Decision, Gate, Refusal, SpawnRequest, Unmatched};
pub use hooks::{Answer, Authorizer, Escalation, ExitEvent, Observer};
#[doc(hidden)]
pub use known::hashed_bytes;
pub use observe::{AuditLog, VerboseLog};
pub use plugin_file::PluginFile;
pub use policy::{LimitSettings, Limits, PluginLimits, Policy, PolicyBuilder, PolicyError, Source, KNOBS};
pub use redirect::{Redirect, Redirects, Target};
pub use resolve::SearchPath;
pub use runtime::{CompileHook, Description, LoadError, Outcome, Plugin, RunError, RunOptions, Runtime, WasiSetup};
pub use spawner::{ExitRegistry, Hooks, Spawned, Spawner};
pub use supervisor::launcher::set_program as set_launcher_program;
pub use supervisor::launcher::start_early as start_launcher_early;
pub use supervisor::{ExitWaiter, OutputLimiter, Pipes, Process, Timeout};

/// The wasmtime this crate is built with, for embedders that need its
/// types (e.g. a `Linker` of their own).
pub use wasmtime;
/// The wasmtime-wasi this crate is built with, for shaping a plugin's WASI
/// context ([`RunOptions::wasi`]), e.g. capturing its stdout.
pub use wasmtime_wasi;
