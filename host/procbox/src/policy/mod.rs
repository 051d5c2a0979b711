//! What the person running a plugin granted, and what the plugin asked for:
//! plain data, frozen by [`PolicyBuilder::build`]. Deciding a request
//! against it is the gate's job (`gate`, the layer above).
//!
//! The decision layer's data: it owns the grants, the manifest, the limits
//! and the one ladder of `--confine` and `--contain` ([`Strictness`], whose
//! type the layers below share from `terms`), and reading the grants into
//! a child's confinement plan (`child_plan.rs`). It may use program
//! resolution (`resolve`), the terms of a grant (`terms`), and the sandbox
//! and process tree for what a grant means to the kernel (a child's plan,
//! the probe, cgroup limits); nothing that acts, and no layer above it.
//!
//! A policy has two layers, and a request must pass both:
//! - the user's **grants** (command-line flags, `--grants FILE`, or an
//!   embedder's code): allow and deny rules, env rules, directories, limits,
//!   and the plugin's own capabilities;
//! - the plugin's **manifest**, if it has one: the programs and variables it
//!   requests. Without a manifest only the grants count.

pub mod anywhere;
pub(crate) mod breadth;
mod builder;
mod child_plan;
pub mod document;
pub mod embedded;
pub mod env;
mod exposure;
pub mod home;
pub mod knobs;
mod limits;
pub mod manifest;
pub mod protected;
pub mod rule;
pub mod shims;
mod strictness;
mod warning;
pub mod worker_file;

pub use crate::terms::Source;
pub use builder::PolicyBuilder;
pub use knobs::{LimitSettings, KNOBS};
pub use limits::*;
pub use strictness::Strictness;
pub use warning::PolicyWarning;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::resolve::ResolveError;
use crate::resolve::SearchPath;
use crate::sandbox::probe::{Enforcement, KernelSupport, Unenforceable};
use crate::sandbox::Confinement;
use document::RunSpec;
use env::EnvRule;
use rule::ExecRule;

/// The plugin's own WASI capabilities and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginCaps {
    /// Directories the plugin may read (canonical).
    pub read_dirs: Vec<PathBuf>,
    /// Directories the plugin may read and write (canonical).
    pub write_dirs: Vec<PathBuf>,
    /// Whether the plugin may open sockets and resolve names.
    pub network: bool,
    /// The cap on each linear memory, in bytes.
    pub max_memory_bytes: u64,
    /// The cap on handles held at once.
    pub max_handles: usize,
    /// The budget for the whole run.
    pub max_time: Option<Duration>,
}

/// The rules of one gate.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    pub(crate) allow: Vec<ExecRule>,
    pub(crate) deny: Vec<ExecRule>,
    pub(crate) env: Vec<EnvRule>,
}

impl Layer {
    /// Allow rules (for a manifest: its requests).
    pub fn allow_rules(&self) -> &[ExecRule] {
        &self.allow
    }
    /// Deny rules.
    pub fn deny_rules(&self) -> &[ExecRule] {
        &self.deny
    }
    /// Env rules.
    pub fn env_rules(&self) -> &[EnvRule] {
        &self.env
    }
}

/// A frozen policy. Build one with [`PolicyBuilder`].
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) grants: Layer,
    pub(crate) manifest: Option<(PathBuf, Layer)>,
    pub(crate) dirs: Vec<PathBuf>,
    pub(crate) start_dir: PathBuf,
    pub(crate) search_path: SearchPath,
    pub(crate) request_limits: RequestLimits,
    pub(crate) limits: Limits,
    pub(crate) plugin: PluginCaps,
    pub(crate) passed_env: Vec<(String, String)>,
    pub(crate) allow_inherit: bool,
    pub(crate) warnings: Vec<PolicyWarning>,
    pub(crate) confinement: Confinement,
    pub(crate) start_dir_readable: bool,
    /// procbox's own state directories ([`protected::state_dirs`]), found
    /// once when the policy is built.
    pub(crate) state_dirs: Vec<(PathBuf, &'static str)>,
    /// The plugin's write grants split around the protected paths in them
    /// ([`protected::WriteSet`]): what children, redirects and the plugin
    /// itself may write.
    pub(crate) write_set: protected::WriteSet,
}

impl Policy {
    /// The user's grants.
    pub fn grants(&self) -> &Layer {
        &self.grants
    }
    /// The plugin's manifest (its file and requests), if it has one.
    pub fn manifest(&self) -> Option<(&Path, &Layer)> {
        self.manifest.as_ref().map(|(p, l)| (p.as_path(), l))
    }
    /// The directories a child may be asked to run in (canonical).
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
    /// The default working directory of a child (canonical).
    pub fn start_dir(&self) -> &Path {
        &self.start_dir
    }

    /// Whether confined children may read the start directory: not when it
    /// is `/`, holds the user's home or everybody's files (`/home`, `/tmp`),
    /// or lies in a system tree (`/etc`, `/root`, `/var`, ...): procbox
    /// started there by a service, cron, a container, or from a terminal's
    /// first directory.
    pub fn start_dir_readable(&self) -> bool {
        self.start_dir_readable
    }
    /// The limits on processes.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// The plugin's own capabilities.
    pub fn plugin(&self) -> &PluginCaps {
        &self.plugin
    }
    /// Host variables that pass through to every child and to the plugin.
    pub fn passed_env(&self) -> &[(String, String)] {
        &self.passed_env
    }

    /// Parses an allow rule written as for `--allow-run` and resolves its
    /// program as the policy's own rules were resolved.
    ///
    /// # Errors
    /// [`PolicyError::Rule`] for a malformed rule, [`PolicyError::Unresolved`]
    /// for a program that does not resolve.
    pub fn resolve_rule(&self, written: &str, source: Source) -> Result<ExecRule, PolicyError> {
        let spec = RunSpec {
            written: written.to_string(),
            parts: None,
            sha256: None,
            source,
        };
        let rule = builder::resolve_rule(&spec, &self.start_dir, &self.search_path, None)?;
        Ok(rule.expect("a strict resolution returns a rule or an error"))
    }

    /// How children are confined after `exec`.
    pub fn confinement(&self) -> &Confinement {
        &self.confinement
    }

    /// What the running kernel will enforce on children under this policy
    /// (the [`Strictness`] ladder).
    ///
    /// # Errors
    /// Under `require`, why this kernel cannot enforce what the grants need.
    pub fn enforcement(&self) -> Result<Enforcement, Unenforceable> {
        Enforcement::decide(self.confinement.mode, &self.confinement.net, KernelSupport::get())
    }

    /// What the running kernel will contain under this policy (the
    /// [`Strictness`] ladder).
    ///
    /// # Errors
    /// Under `require`, why this kernel gives children no PID namespace;
    /// and why the tree limits (`--max-processes`, `--max-tree-memory`)
    /// cannot be enforced here.
    pub fn containment(
        &self,
    ) -> Result<crate::process_tree::Containment, crate::process_tree::namespace::ContainmentError> {
        crate::process_tree::cgroup::check(&self.limits.tree)?;
        crate::process_tree::Containment::decide(self.confinement.contain)
    }

    /// The write grants as they are enforced, split around the protected
    /// paths they hold.
    pub fn write_set(&self) -> &protected::WriteSet {
        &self.write_set
    }

    /// What building the policy noticed and let pass, for the user to see.
    pub fn warnings(&self) -> &[PolicyWarning] {
        &self.warnings
    }
}

/// A policy that was written wrongly: the message names the rule and its
/// source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A rule that cannot be parsed.
    #[error("{origin}: {message}")]
    Rule {
        /// Where the rule came from.
        origin: Source,
        /// What is wrong with it.
        message: String,
    },
    /// A granted program that does not resolve to an executable file.
    #[error("{origin}: rule '{rule}': {reason}")]
    Unresolved {
        /// Where the rule came from.
        origin: Source,
        /// The rule as written.
        rule: String,
        /// Its program, as written.
        program: String,
        /// Why it does not resolve (boxed: it names where the program was
        /// looked for, and a policy's error travels in many `Result`s).
        reason: Box<ResolveError>,
    },
    /// A directory that cannot be used.
    #[error("directory {path}: {reason}")]
    Dir {
        /// The directory as given.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// A grants file or manifest that cannot be read or parsed.
    #[error("{0}")]
    Document(String),
}
