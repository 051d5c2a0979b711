//! The terms of a grant that the layers below the policy share too: how
//! strictly the kernel must enforce a part of the sandbox ([`Strictness`],
//! the one ladder of `confine` and `contain`) and where a grant came from
//! ([`Source`]). Plain data; the policy reads them from flags, grants
//! files and code (`policy::strictness` parses the ladder's words). Uses
//! no layer.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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

/// How strictly the kernel must enforce the confinement of children
/// (`confine`, default [`Strictness::Require`]) or their containment
/// (`contain`, default [`Strictness::BestEffort`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strictness {
    /// Refuse to run a plugin when the kernel cannot enforce it.
    Require,
    /// Enforce what the kernel can, and say once what is missing.
    BestEffort,
    /// Not at all: for confinement, children have the user's authority;
    /// for containment, process groups and the subreaper's sweep only.
    Off,
}

impl Strictness {
    /// `confine`'s default: refuse what the kernel cannot confine.
    pub const CONFINE_DEFAULT: Strictness = Strictness::Require;
    /// `contain`'s default: a PID namespace where the kernel gives one.
    pub const CONTAIN_DEFAULT: Strictness = Strictness::BestEffort;
}

impl fmt::Display for Strictness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strictness::Require => "require",
            Strictness::BestEffort => "best-effort",
            Strictness::Off => "off",
        })
    }
}
