//! What the person running a plugin granted, and what the plugin asked for:
//! plain data, frozen by [`PolicyBuilder::build`]. Deciding a request
//! against it is the gate's job ([`crate::gate`]).
//!
//! A policy has two layers, and a request must pass both:
//! - the user's **grants** (command-line flags, `--grants FILE`, or an
//!   embedder's code): allow and deny rules, env rules, directories, limits,
//!   and the plugin's own capabilities;
//! - the plugin's **manifest**, if it has one: the programs and variables it
//!   requests. Without a manifest only the grants count.

pub mod anywhere;
mod breadth;
mod builder;
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
pub mod worker_file;

pub use builder::PolicyBuilder;
pub use knobs::{LimitSettings, KNOBS};
pub use limits::*;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::confine::probe::{Enforcement, KernelSupport, Unenforceable};
use crate::confine::Confinement;
use crate::error::SpawnError;
use crate::resolve::SearchPath;
use document::RunSpec;
use env::EnvRule;
use rule::ExecRule;

/// Where a rule came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, e.g. `--allow-run`.
    Flag(&'static str),
    /// A line of a grants file or manifest.
    File {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
    },
    /// Code of an application that embeds procbox.
    Api,
    /// Granted during the run, by the escalation hook (a prompt, a broker).
    Escalation,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "{flag}"),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
            Source::Api => write!(f, "embedder policy"),
            Source::Escalation => write!(f, "granted during the run"),
        }
    }
}

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

/// Something about a policy that is allowed but that the person who wrote
/// it should know. Building the policy does not print it: an application
/// shows [`Policy::warnings`] its own way (the `procbox` command line
/// prints each as one line on stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyWarning {
    /// A manifest requests a program that is not on this host: the request
    /// is dropped (it could never match anyway).
    ProgramNotFound {
        /// Where the request is written.
        origin: Source,
        /// The rule as written.
        rule: String,
    },
    /// A granted program lies in a directory the plugin may write: the
    /// plugin can replace what it is allowed to run.
    WritableProgram {
        /// Where the rule is written.
        origin: Source,
        /// The rule as written.
        rule: String,
        /// The program file.
        program: PathBuf,
        /// The directory the plugin may write.
        dir: PathBuf,
    },
    /// A granted program, or the interpreter that runs it, that a user other
    /// than procbox's (or root) can change: it or a directory on its path is
    /// writable by group or others, or belongs to another user.
    OthersMayChangeProgram {
        /// Where the rule is written.
        origin: Source,
        /// The rule as written.
        rule: String,
        /// The program or interpreter file.
        program: PathBuf,
        /// How it can be changed.
        why: String,
    },
    /// A rule that lets the plugin run any program or write any file, while
    /// children are not confined (`--confine=off`, or a kernel without it).
    BroadRule {
        /// Where the rule is written.
        origin: Source,
        /// The rule as written.
        rule: String,
        /// What makes it broad.
        why: String,
    },
    /// A write grant holds protected paths ([`protected`]): they stay
    /// read-only, and nothing is created, removed or renamed directly in
    /// the directories on the way to them.
    SplitWriteGrant {
        /// The write grant.
        dir: PathBuf,
        /// The protected paths inside it.
        protected: Vec<PathBuf>,
    },
    /// A write grant names a repository's `.git` (or lies in it): its hooks
    /// and config run later, outside procbox.
    PlantableDir {
        /// The directory.
        dir: PathBuf,
        /// What it holds.
        found: String,
    },
    /// A write grant names procbox's own state (or lies in it), which a
    /// later run trusts (the compilation cache, the grant store).
    StateDir {
        /// The directory.
        dir: PathBuf,
        /// What it holds, and where.
        holds: String,
    },
    /// The start directory is `/`, holds the user's home or everybody's
    /// files, or is a system directory, so confined children are not granted
    /// it: they read only what is granted.
    StartDirNotGranted {
        /// The start directory.
        dir: PathBuf,
    },
    /// A granted program inside a granted directory has more than one hard
    /// link: it may be another name for a file outside the directory.
    HardLinkedProgram {
        /// Where the rule is written.
        origin: Source,
        /// The rule as written.
        rule: String,
        /// The program file.
        program: PathBuf,
        /// Its number of hard links.
        links: u64,
    },
    /// A granted program is a script (a version manager's shim) that runs
    /// files its confined children may not execute ([`shims`]).
    BlockedShim {
        /// Where the rule is written.
        origin: Source,
        /// The rule as written.
        rule: String,
        /// The rule's program as written.
        program: String,
        /// The granted script.
        script: PathBuf,
        /// The last `exec` target it names: the real program, or the
        /// manager that finds it; `None` for an ordinary script whose
        /// interpreter is refused (`#!/usr/bin/env bash`).
        real: Option<PathBuf>,
        /// What it runs that children may not execute, in order.
        refused: Vec<PathBuf>,
    },
}

impl fmt::Display for PolicyWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyWarning::ProgramNotFound { origin, rule } => {
                write!(f, "{origin}: rule '{rule}': program not found on this host; ignored")
            }
            PolicyWarning::WritableProgram {
                origin,
                rule,
                program,
                dir,
            } => write!(
                f,
                "{origin}: rule '{rule}': {} lies in {}, which the plugin, its children or a redirect may write (`allow-write`): the plugin can replace what it runs (`strict-programs` refuses this)",
                program.display(),
                dir.display()
            ),
            PolicyWarning::OthersMayChangeProgram {
                origin,
                rule,
                program,
                why,
            } => write!(
                f,
                "{origin}: rule '{rule}': {} can be changed by others than you: {why} (`strict-programs` refuses this)",
                program.display()
            ),
            PolicyWarning::BroadRule { origin, rule, why } => write!(
                f,
                "{origin}: rule '{rule}' is broad: {why}; children are not confined, so it is as good as letting the plugin do anything"
            ),
            PolicyWarning::SplitWriteGrant { dir, protected } => {
                let shown: Vec<String> = protected.iter().take(3).map(|p| p.display().to_string()).collect();
                let more = match protected.len().saturating_sub(3) {
                    0 => String::new(),
                    n => format!(" and {n} more"),
                };
                write!(
                    f,
                    "{} holds protected paths ({}{more}): they stay read-only, and nothing is created, removed or renamed directly in {} or on the way to them; what lies below is writable (`procbox explain` lists them; grant one by name to make it writable)",
                    dir.display(),
                    shown.join(", "),
                    dir.display()
                )
            }
            PolicyWarning::PlantableDir { dir, found } => write!(
                f,
                "{} may be written by the plugin and its children ({found}): a child can plant a hook or a setting that runs later, outside procbox",
                dir.display()
            ),
            PolicyWarning::StateDir { dir, holds } => write!(
                f,
                "{} may be written by the plugin and its children, and holds {holds}: a child could plant what a later procbox run trusts (machine code it runs, grants it honours)",
                dir.display()
            ),
            PolicyWarning::StartDirNotGranted { dir } => write!(
                f,
                "children may not read the start directory {} (it is /, holds your home or everybody's files, or is a system directory); grant what they need with `allow-read` or `dir`",
                dir.display()
            ),
            PolicyWarning::HardLinkedProgram {
                origin,
                rule,
                program,
                links,
            } => write!(
                f,
                "{origin}: rule '{rule}': {} has {links} hard links: another name for it may lie where the plugin or its children may write, or outside its granted directory (`strict-programs` refuses this)",
                program.display()
            ),
            PolicyWarning::BlockedShim {
                origin,
                rule,
                program,
                script,
                real,
                refused,
            } => {
                let first = refused.first().map(|p| p.display().to_string()).unwrap_or_default();
                let refused: Vec<String> = refused.iter().map(|p| p.display().to_string()).collect();
                let refused = refused.join(", ");
                write!(f, "{origin}: rule '{rule}': {} is a script", script.display())?;
                match real {
                    Some(real) => shim_fix(f, rule, script, real, &refused),
                    None => write!(
                        f,
                        " whose interpreter confined children may not execute: {refused}; let them run it (`allow-helper`, {program}={first})"
                    ),
                }
            }
        }
    }
}

/// [`PolicyWarning::BlockedShim`] of a shim, after "SCRIPT is a script":
/// what it runs, what children may not execute, and the real program to
/// grant.
fn shim_fix(f: &mut fmt::Formatter<'_>, rule: &str, script: &Path, real: &Path, refused: &str) -> fmt::Result {
    write!(
        f,
        " (a version manager's shim?) that runs {}, and confined children may not execute {refused}; ",
        real.display()
    )?;
    let name = script.file_name().unwrap_or_default().to_string_lossy();
    match (real.file_name() == script.file_name(), real.parent()) {
        (true, Some(dir)) => write!(
            f,
            "grant the real program: start procbox with {} first on PATH, so that rule '{rule}' names it, or let children run it (`allow-helper`)",
            dir.display()
        ),
        _ => write!(
            f,
            "grant the real program (`asdf which {name}`, `pyenv which {name}` say where it is): put its directory first on PATH, so that rule '{rule}' names it, or let children run what the script runs (`allow-helper`)"
        ),
    }
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
    /// (the [`ConfineMode`](crate::confine::ConfineMode) ladder).
    ///
    /// # Errors
    /// Under `require`, why this kernel cannot enforce what the grants need.
    pub fn enforcement(&self) -> Result<Enforcement, Unenforceable> {
        crate::confine::probe::enforcement(self.confinement.mode, &self.confinement.net, KernelSupport::get())
    }

    /// What the running kernel will contain under this policy (the
    /// [`ContainMode`](crate::containment::ContainMode) ladder).
    ///
    /// # Errors
    /// Under `require`, why this kernel gives children no PID namespace;
    /// and why the tree limits (`--max-processes`, `--max-tree-memory`)
    /// cannot be enforced here.
    pub fn containment(&self) -> Result<crate::containment::Containment, String> {
        crate::containment::cgroup::check(&self.limits.tree)?;
        crate::containment::Containment::decide(self.confinement.contain)
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
        /// Why it does not resolve.
        reason: SpawnError,
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
