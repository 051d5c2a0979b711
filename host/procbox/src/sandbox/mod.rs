//! The sandbox: **confinement after `exec`** (Landlock, seccomp,
//! `no_new_privs`): the kernel enforces the grant on every child and on
//! everything it starts. Its sibling, the process tree (`process_tree`), keeps the
//! children together (a PID namespace, cgroups); how strictly each must be
//! enforced is one ladder, [`Strictness`] (`--confine`, `--contain`).
//!
//! The rule a user can hold in their head: *children get the filesystem
//! authority granted to the plugin and nothing more.* Concretely, each
//! child runs in its own Landlock domain and under a seccomp filter:
//! - **read**: the plugin's `--allow-read` and `--allow-write` directories,
//!   the working-directory roots (`--dir`), the start directory, and a
//!   documented read-only system set ([`plan::SYSTEM_READ`]);
//! - **write**: the plugin's `--allow-write` directories and the run's
//!   private temporary directory (`TMPDIR`);
//! - **execute**: only the program its allow rule granted, that program's
//!   ELF interpreter (or `#!` interpreter), and the helpers the user
//!   granted for it (`--allow-helper`);
//! - **network**: none unless `--allow-child-net` grants it
//!   ([`ChildNet`]); Unix sockets only with `unix`;
//! - signals and abstract Unix sockets scoped to the child's own domain,
//!   `no_new_privs`, and no capabilities when procbox runs as root.
//!
//! Where things are: [`probe`] asks the kernel what it can enforce and
//! applies the [`Strictness`] ladder; [`plan`] turns a policy and an
//! allowed request into a [`plan::ChildPlan`] (plain data); [`ruleset`]
//! and [`filter`] turn a plan into a Landlock ruleset and a seccomp
//! program. The plan is applied by the launcher process
//! (`launcher`), never by a thread of procbox: a
//! Landlock domain includes the thread that made it. A helper process of
//! an application's own can apply a plan to itself ([`restrict_self`]).
//!
//! Its layer (one of the kernel's three, with the process tree and the
//! launcher) owns the plan as data, its Landlock ruleset and seccomp
//! program (and loading one on a thread, `restrict::load_filter`), the probe's
//! Landlock and seccomp test and the `--confine` ladder ([`probe`]), and
//! the run's `$TMPDIR` ([`run_tmp`]). It may use `sys` and the words of a
//! grant (`terms`: `Source`, `Strictness`), never the launcher, which
//! runs this layer's plans and probe: the methods that ask the probe
//! (`KernelSupport::get`, `Enforcement::decide`) live with it
//! (`launcher::findings`). The policy reads the grants into a plan
//! (`Planner::planned`); this layer does not know the policy.

pub mod filter;
pub mod plan;
pub mod probe;
pub(crate) mod restrict;
pub mod ruleset;
pub mod run_tmp;

pub use restrict::{restrict_self, RestrictError, Restricted};

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::terms::{Source, Strictness};

/// The network children may use (`--allow-child-net`). The plugin's own
/// `--allow-net` is separate and grants nothing here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChildNet {
    /// TCP ports children may connect to (`PORT` or `connect:PORT`).
    pub connect: Vec<u16>,
    /// TCP ports children may bind and listen on (`bind:PORT`).
    pub bind: Vec<u16>,
    /// The whole network: any TCP or UDP connection, bind or listen (`all`).
    pub all: bool,
    /// Unix sockets: connecting to any socket file this kernel does not
    /// control (`unix`; Landlock controls socket files only from ABI 9).
    pub unix: bool,
}

/// A child network grant that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChildNetError {
    /// Not a TCP port.
    #[error("child network grant {written:?}: {port:?} is not a TCP port (1-65535)")]
    Port {
        /// The grant as written.
        written: String,
        /// Its port, as written.
        port: String,
    },
    /// Not one of the forms of a grant.
    #[error("child network grant {written:?}: write PORT, connect:PORT, bind:PORT, all or unix")]
    Form {
        /// The grant as written.
        written: String,
    },
}

impl ChildNet {
    /// Adds one grant as written: `PORT`, `connect:PORT`, `bind:PORT`,
    /// `all` or `unix`.
    ///
    /// # Errors
    /// [`ChildNetError`]: what is wrong with it.
    pub fn add(&mut self, written: &str) -> Result<(), ChildNetError> {
        let port = |text: &str| {
            text.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| ChildNetError::Port {
                    written: written.to_string(),
                    port: text.to_string(),
                })
        };
        match written.split_once(':') {
            _ if written == "all" => self.all = true,
            _ if written == "unix" => self.unix = true,
            Some(("connect", p)) => self.connect.push(port(p)?),
            Some(("bind", p)) => self.bind.push(port(p)?),
            None => self.connect.push(port(written)?),
            Some(_) => {
                return Err(ChildNetError::Form {
                    written: written.to_string(),
                })
            }
        }
        self.connect.sort_unstable();
        self.connect.dedup();
        self.bind.sort_unstable();
        self.bind.dedup();
        Ok(())
    }

    /// Whether it grants anything over TCP/UDP.
    pub fn any_inet(&self) -> bool {
        self.all || !self.connect.is_empty() || !self.bind.is_empty()
    }

    /// Whether it needs Landlock's TCP rules (per-port grants).
    pub fn needs_tcp_rules(&self) -> bool {
        !self.all && (!self.connect.is_empty() || !self.bind.is_empty())
    }
}

impl fmt::Display for ChildNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if self.all {
            parts.push("all TCP and UDP".into());
        } else {
            if !self.connect.is_empty() {
                parts.push(format!("TCP connect to port {}", join(&self.connect)));
            }
            if !self.bind.is_empty() {
                parts.push(format!("TCP bind and listen on port {}", join(&self.bind)));
            }
        }
        if self.unix {
            parts.push("Unix sockets".into());
        }
        match parts.is_empty() {
            true => f.write_str("none"),
            false => f.write_str(&parts.join("; ")),
        }
    }
}

fn join(ports: &[u16]) -> String {
    ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
}

/// An executable children may run besides their granted program
/// (`--allow-helper [PROGRAM=]PATH`): for one program's children, or for
/// every child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helper {
    /// The grant as written.
    pub written: String,
    /// The program whose children may run it (canonical), or `None` for
    /// every child.
    pub program: Option<PathBuf>,
    /// The file, or the directory whose files, may be executed (canonical).
    pub path: PathBuf,
    /// Where it was granted.
    pub source: Source,
}

/// The confinement part of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    /// How strictly the kernel must enforce it.
    pub mode: Strictness,
    /// The network children may use.
    pub net: ChildNet,
    /// Helper executables children may run.
    pub helpers: Vec<Helper>,
    /// How strictly the kernel must contain them (a PID namespace).
    pub contain: Strictness,
}

impl Default for Confinement {
    /// Children confined as the kernel must ([`Strictness::CONFINE_DEFAULT`])
    /// and contained where it can ([`Strictness::CONTAIN_DEFAULT`]), with
    /// no network and no helpers.
    fn default() -> Confinement {
        Confinement {
            mode: Strictness::CONFINE_DEFAULT,
            net: ChildNet::default(),
            helpers: Vec::new(),
            contain: Strictness::CONTAIN_DEFAULT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_net_grants_parse_and_refuse_what_they_cannot_mean() {
        let mut net = ChildNet::default();
        for grant in ["443", "connect:80", "bind:8080", "unix", "443"] {
            net.add(grant).unwrap();
        }
        assert_eq!(net.connect, vec![80, 443]);
        assert_eq!(net.bind, vec![8080]);
        assert!(net.unix && !net.all && net.needs_tcp_rules());
        assert_eq!(
            net.to_string(),
            "TCP connect to port 80, 443; TCP bind and listen on port 8080; Unix sockets"
        );
        for bad in ["0", "70000", "udp:53", "http", ""] {
            assert!(ChildNet::default().add(bad).is_err(), "{bad:?}");
        }
        assert_eq!(ChildNet::default().to_string(), "none");
    }

    #[test]
    fn modes_round_trip() {
        for mode in [Strictness::Require, Strictness::BestEffort, Strictness::Off] {
            assert_eq!(mode.to_string().parse::<Strictness>(), Ok(mode));
        }
        assert!("strict".parse::<Strictness>().is_err());
    }
}
