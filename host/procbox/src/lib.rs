//! procbox runs WebAssembly component plugins that script operating-system
//! processes, under a capability policy that the person running them
//! grants.
//!
//! This crate is the same engine the `procbox` command runs, without the
//! command line's choices: an editor, a bot or a build tool embeds it as
//! its plugin system, builds a policy in code and attaches hooks to the one
//! spawn path. This page is the embedding guide; the command line, its
//! grants and what the kernel enforces are described in the repository's
//! `README.md`, `docs/` and `SECURITY.md`, and where each piece lives in
//! `ARCHITECTURE.md`.
//!
//! # A plugin run
//!
//! The policy is the outer bound: nothing it does not grant runs.
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
//!
//! The rules, environment rules, directories and limits are those of the
//! command line and its grants files, by the same names: [`PolicyBuilder`]
//! builds them in code, [`policy::document`] reads a grants file, and
//! [`policy::knobs`] is the one schema of every limit.
//!
//! # Hooks
//!
//! [`RunOptions`] attaches an application's hooks to the run:
//!
//! ```no_run
//! use std::sync::Arc;
//! use procbox::wasmtime_wasi::p2::pipe::MemoryOutputPipe;
//! use procbox::{Answer, AuthorizeError, Authorizer, Decision, Escalation, PolicyBuilder, RunOptions, Runtime, Unmatched, VerboseLog};
//!
//! /// Asks the user (here: always says no).
//! struct Prompt;
//!
//! #[async_trait::async_trait]
//! impl Escalation for Prompt {
//!     async fn escalate(&self, request: &Unmatched) -> Answer {
//!         Answer::Deny(format!("nobody allowed {}", request.command_line()))
//!     }
//! }
//!
//! /// This application's own rule, stricter than any user's.
//! struct NeverDelete;
//!
//! #[async_trait::async_trait]
//! impl Authorizer for NeverDelete {
//!     async fn authorize(&self, decision: &Decision) -> Result<(), AuthorizeError> {
//!         match decision.program().file_name().and_then(|n| n.to_str()) {
//!             Some("rm") => Err("plugins never delete files here".into()),
//!             _ => Ok(()),
//!         }
//!     }
//! }
//!
//! # async fn example() -> anyhow::Result<()> {
//! let policy = PolicyBuilder::new().allow_run("echo **").allow_run("rm *").build()?;
//! let captured = MemoryOutputPipe::new(1 << 20);
//! let stdout = captured.clone();
//! let options = RunOptions::new(Arc::new(policy))
//!     .escalation(Arc::new(Prompt))          // asked about what no allow rule grants: a dialog, a broker
//!     .authorizer(Arc::new(NeverDelete))     // may refuse what the policy allows, never allow more
//!     .observer(Arc::new(VerboseLog))        // sees every final verdict and every exit
//!     .wasi(move |wasi| {
//!         wasi.stdout(stdout.clone());       // the plugin's own stdio, preopens
//!     });
//! let runtime = Runtime::new()?;
//! let plugin = runtime.load_file("chores.wasm".as_ref())?;
//! let outcome = runtime.run(&plugin, options).await?;
//! println!("{outcome:?}: {}", String::from_utf8_lossy(&captured.contents()));
//! # Ok(()) }
//! ```
//!
//! | hook | called for | may |
//! |---|---|---|
//! | [`Authorizer`] (async) | requests the policy allows | refuse, with a reason |
//! | [`Escalation`] (async, one) | requests no allow rule grants, never those a deny rule or the manifest refuses | allow once, allow a rule for the rest of the run, or deny ([`Answer`]) |
//! | [`Observer`] | the final verdict of each request, each exit | watch (the audit log and `-v` are observers: [`AuditLog`], [`VerboseLog`]) |
//!
//! An escalation's answer is judged again by the gate, so deny rules and
//! the plugin's manifest still hold. While it is asked, the plugin's time
//! budget stops. [`grants::broker::Broker`] is the escalation hook of the command
//! line's `PROCBOX_PERMISSION_BROKER`: a program of yours that answers over
//! a Unix socket, failing closed.
//!
//! `host/procbox/examples/embed.rs` in the repository is a whole embedding (a
//! prompt that reads its answers from a channel, an authorizer that never
//! lets a plugin delete files, an activity log, captured output), run by
//! the tests.
//!
//! # Processes without wasm
//!
//! [`Spawner`] starts processes under a policy without any wasm at all:
//! [`Spawner::spawn`] is the one spawn path (judge, escalate, authorize,
//! admit, spawn, observe) that plugins go through too, and [`Gate`] the
//! pure decision it starts with, which an application may ask anything
//! (`procbox explain` does). A denial carries its fix as data
//! ([`Denial`], [`Fix`]); [`FixStyle`] writes it in the application's own
//! words.
//!
//! # Confinement, and the launcher
//!
//! An application gets the kernel's confinement of children (Landlock, a
//! seccomp filter, `no_new_privs`) and their containment (a PID namespace
//! per run) from its policy ([`PolicyBuilder::confine`],
//! [`PolicyBuilder::contain`], [`PolicyBuilder::allow_child_net`],
//! [`PolicyBuilder::allow_helper`], the same keys as a grants file):
//! nothing to call, and no extra binary. Children are started by a small
//! launcher process, which is the application's own program executed anew:
//! any program linked with this crate (its test binaries too) can be
//! executed as the launcher. One that cannot be executed again (an
//! interpreter loading the library) calls [`set_launcher_program`] with a
//! program that links it; when no launcher starts, confined and contained
//! spawns fail with the reason, and nothing is forked in its place. It may
//! call [`start_launcher_early`] at the top of `main`: the launcher and the
//! kernel probe then start while the application loads its plugin (a
//! cached `procbox run` of a Rust hello world went from 11.5 to 9.4 ms).
//! The preopens of [`RunOptions::wasi`] are the plugin's alone: children
//! are not granted them.
//!
//! # Process-wide choices
//!
//! Some choices affect every child of the process, so they stay the
//! application's own: becoming the child subreaper and sweeping escaped
//! grandchildren ([`process_tree::become_subreaper`],
//! [`process_tree::kill_adopted`], which an application with children of
//! its own must not call), and marking inherited descriptors close-on-exec
//! ([`process_tree::cloexec_inherited_fds`]). The `procbox` command does
//! all three at start-up. The compile cache is [`Runtime::with_cache`]'s
//! directory; only procbox's default cache and configuration directories
//! are protected from children's writes.
//!
//! # Many runs in one process
//!
//! A run's future is `Send`, so each can be a tokio task of its own (as in
//! `procbox worker`); what a run owns (its policy, its children, its
//! `$TMPDIR` and cgroups, its hooks and the plugin's output) is its own,
//! and ending a run signals only the children it owns.
//! [`Runtime::run_until`] stops the plugin when a future of the
//! application's completes with an exit code (on SIGINT, say); its
//! children are killed and reaped all the same.
//!
//! # The public surface
//!
//! - **grant**: [`PolicyBuilder`] → [`Policy`]; rule grammar in
//!   [`policy::rule`] and [`policy::env`], files in [`policy::document`],
//!   limits in [`policy::knobs`];
//! - **run a plugin**: [`Runtime`], [`RunOptions`] (hooks, the plugin's own
//!   WASI), [`Outcome`], [`LoadError`], [`RunError`];
//! - **decide with the user**: the hooks ([`Authorizer`] and its [`AuthorizeError`], [`Escalation`],
//!   [`Observer`]), the shipped observers [`AuditLog`], [`VerboseLog`], and
//!   [`grants::broker`]; remembered grants in [`grants`];
//! - **start processes without wasm**: [`Spawner::spawn`], [`Gate`];
//! - **measure**: each child's [`ExitStatus`] (its usage, and where
//!   procbox's time went, [`SpawnStages`], which an [`Observer`] sees at
//!   every exit); what the kernel enforces here ([`KernelSupport::get`],
//!   [`Enforcement::decide`]);
//! - **confine a helper of your own** as a child is confined:
//!   [`sandbox::restrict_self`];
//! - **link into a store of your own**: [`ProcessCtx`], [`ProcessView`],
//!   [`add_to_linker`];
//! - **process-wide choices** an application makes itself: [`process_tree`],
//!   the compile [`Cache`].

#![deny(missing_docs)]
// Each `unsafe` block holds one unsafe operation, and an `unsafe fn` is no
// licence for unchecked operations in its body: every one is named and
// justified (`// SAFETY:`, required by the workspace's lints).
#![deny(unsafe_op_in_unsafe_fn, clippy::multiple_unsafe_ops_per_block)]

mod exit;
pub mod gate;
pub mod grants;
mod launcher;
mod plugin_api;
pub mod policy;
pub mod process_tree;
mod redirect;
mod resolve;
mod runtime;
pub mod sandbox;
mod spawn;
mod supervisor;
mod sys;
mod terms;

pub use exit::{ExitStatus, LauncherStages, SpawnStages, Termination, TreeUsage, Usage};
pub use gate::fix::{Denial, Fix, FixStyle, Grant, GrantsFile};
pub use gate::{
    Absence, BadCwd, BadFile, Decision, Exceeded, Gate, Invalid, Limit, Missing, OsError, OtherStream, Refusal,
    SpawnError, SpawnRequest, StatusLost, Unmatched,
};
pub use launcher::set_program as set_launcher_program;
pub use launcher::start_early as start_launcher_early;
pub use plugin_api::ctx::{add_to_linker, add_to_linker_with_wasi, ProcessCtx, ProcessCtxView, ProcessView};
pub use policy::{LimitSettings, Limits, PluginLimits, Policy, PolicyBuilder, PolicyError, Source, Strictness, KNOBS};
pub use process_tree::Containment;
pub use redirect::{Redirect, Redirects, Stream, Target};
pub use resolve::{resolve_program, Looked, Malformed, ResolveError, SearchPath};
pub use runtime::cache::{Cache, CacheWarning, Origin};
#[doc(hidden)]
pub use runtime::known::hashed_bytes;
pub use runtime::plugin_file::PluginFile;
pub use runtime::{
    CompileHook, Description, LoadError, Misfit, Outcome, Plugin, RunError, RunOptions, Runtime, WasiSetup,
};
pub use sandbox::probe::{Enforcement, KernelSupport, Unenforceable};
pub use sandbox::{ChildNet, Confinement, Helper};
pub use spawn::hooks::{Answer, AuthorizeError, Authorizer, Escalation, ExitEvent, Observer};
pub use spawn::observe::{AuditLog, VerboseLog};
pub use spawn::pauses::Pauses;
pub use spawn::spawner::{ExitRegistry, Hooks, Spawned, Spawner};
pub use supervisor::{ExitWaiter, OutputLimiter, Pipes, Process, Timeout};

/// The wasmtime this crate is built with, for embedders that need its
/// types (e.g. a `Linker` of their own).
pub use wasmtime;
/// The wasmtime-wasi this crate is built with, for shaping a plugin's WASI
/// context ([`RunOptions::wasi`]), e.g. capturing its stdout.
pub use wasmtime_wasi;
