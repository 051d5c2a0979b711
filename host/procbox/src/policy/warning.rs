//! [`PolicyWarning`]: what a policy allows that the person who wrote it
//! should know, and its one-line message.

use std::fmt;
use std::path::{Path, PathBuf};

use super::Source;

/// Something about a policy that is allowed but that the person who wrote
/// it should know. Building the policy does not print it: an application
/// shows [`Policy::warnings`](super::Policy::warnings) its own way (the `procbox` command line
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
    /// A write grant holds protected paths ([`protected`](super::protected)): they stay
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
    /// files its confined children may not execute ([`shims`](super::shims)).
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
            PolicyWarning::SplitWriteGrant { dir, protected } => split_write_grant(f, dir, protected),
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
                write!(f, "{origin}: rule '{rule}': {} is a script", script.display())?;
                blocked_shim(f, rule, program, script, real.as_deref(), refused)
            }
        }
    }
}

/// [`PolicyWarning::SplitWriteGrant`]: the first three protected paths.
fn split_write_grant(f: &mut fmt::Formatter<'_>, dir: &Path, protected: &[PathBuf]) -> fmt::Result {
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

/// [`PolicyWarning::BlockedShim`], after "SCRIPT is a script": a shim's
/// fix, or the interpreter to let children run.
fn blocked_shim(
    f: &mut fmt::Formatter<'_>,
    rule: &str,
    program: &str,
    script: &Path,
    real: Option<&Path>,
    refused: &[PathBuf],
) -> fmt::Result {
    let first = refused.first().map(|p| p.display().to_string()).unwrap_or_default();
    let refused: Vec<String> = refused.iter().map(|p| p.display().to_string()).collect();
    let refused = refused.join(", ");
    match real {
        Some(real) => shim_fix(f, rule, script, real, &refused),
        None => write!(
            f,
            " whose interpreter confined children may not execute: {refused}; let them run it (`allow-helper`, {program}={first})"
        ),
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
