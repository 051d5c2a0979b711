//! [`Strictness`]: how strictly the kernel must enforce a part of the
//! sandbox — the one ladder of `confine` (Landlock, seccomp) and `contain`
//! (a PID namespace), as flags, grants files and code name it. The type
//! is shared with the layers below (`terms.rs`); its words are read here.

use std::str::FromStr;

pub use crate::terms::Strictness;

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
