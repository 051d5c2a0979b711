//! procbox runs WebAssembly component plugins that script operating-system
//! processes, under a capability policy that the person running them
//! grants.
//!
//! Where things are decided:
//! - [`policy`]: what was granted and what the plugin requests (plain data,
//!   built by [`PolicyBuilder`]; rule grammar in [`policy::rule`] and
//!   [`policy::env`], files in [`policy::document`]);
//! - [`gate`]: **the one gate** every spawn passes, [`Gate::check`];
//! - [`resolve`]: how a program name becomes the file that would run;
//! - [`supervisor`]: spawning from a [`Permit`], process groups, timeouts,
//!   reaping;
//! - [`stdio`]: child pipes as `wasi:io` streams;
//! - `host/`: the WIT interface, one file per interface or resource;
//! - [`observe`]: the audit log and hooks on every decision and exit;
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

pub mod bindings;
pub mod budget;
pub mod cache;
pub mod child;
pub mod containment;
pub mod ctx;
pub mod error;
pub mod exit;
pub mod gate;
mod host;
pub mod observe;
pub mod policy;
pub mod redirect;
pub mod resolve;
pub mod runtime;
pub mod stdio;
pub mod supervisor;

pub use error::SpawnError;
pub use exit::{ExitStatus, Termination, Usage};
pub use gate::{Gate, Permit, SpawnRequest};
pub use observe::{AuditLog, ExitEvent, SpawnHook, VerboseLog};
pub use policy::{Limits, PluginLimits, Policy, PolicyBuilder, PolicyError, Source};
pub use runtime::{CompileHook, Description, LoadError, Outcome, Plugin, RunError, RunOptions, Runtime};
