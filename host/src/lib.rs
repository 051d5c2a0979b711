//! procbox runs WebAssembly component plugins that script operating-system
//! processes, under a capability policy that the person running them
//! grants.
//!
//! Where things are decided:
//! - [`policy`]: what was granted (plain data, built by [`PolicyBuilder`]);
//! - [`gate`]: **the one gate** every spawn passes, [`Gate::check`];
//! - [`resolve`]: how a program name becomes the file that would run;
//! - [`supervisor`]: spawning from a [`Permit`], process groups, timeouts,
//!   reaping;
//! - [`stdio`]: child pipes as `wasi:io` streams;
//! - `host/`: the WIT interface, one file per interface or resource;
//! - [`runtime`]: engine, loading, running, cleanup.
//!
//! Embedding procbox as a plugin system:
//!
//! ```no_run
//! use std::sync::Arc;
//! use procbox::{PolicyBuilder, Runtime, RunOptions};
//!
//! # async fn example() -> anyhow::Result<()> {
//! let policy = PolicyBuilder::new().allow_run("git").build()?;
//! let runtime = Runtime::new()?;
//! let plugin = runtime.load_file("report.wasm".as_ref())?;
//! let outcome = runtime
//!     .run(&plugin, RunOptions { policy: Arc::new(policy), args: vec![] })
//!     .await?;
//! println!("{outcome:?}");
//! # Ok(()) }
//! ```

pub mod bindings;
pub mod child;
pub mod ctx;
pub mod error;
pub mod exit;
pub mod gate;
mod host;
pub mod policy;
pub mod resolve;
pub mod runtime;
pub mod stdio;
pub mod supervisor;

pub use error::SpawnError;
pub use exit::{ExitStatus, Termination, Usage};
pub use gate::{Gate, Permit, SpawnRequest};
pub use policy::{Policy, PolicyBuilder, PolicyError};
pub use runtime::{LoadError, Outcome, Plugin, RunError, RunOptions, Runtime};
