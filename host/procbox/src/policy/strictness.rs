//! [`Strictness`]: how strictly the kernel must enforce a part of the
//! sandbox — the one ladder of `confine` (Landlock, seccomp) and `contain`
//! (a PID namespace), as flags, grants files and code name it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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

impl FromStr for Strictness {
    type Err = super::document::ValueError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "require" => Ok(Strictness::Require),
            "best-effort" => Ok(Strictness::BestEffort),
            "off" => Ok(Strictness::Off),
            other => Err(super::document::ValueError::Mode {
                text: other.to_string(),
            }),
        }
    }
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
