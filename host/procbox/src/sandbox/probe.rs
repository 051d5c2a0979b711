//! What the running kernel can enforce, found by trying it, and the
//! [`Strictness`] ladder that decides whether a plugin may run with it.
//!
//! The probe asks Landlock for its ABI version and then, in the probe
//! process (a helper exec'd for this alone, which exits right after),
//! really sets `no_new_privs`, restricts itself with a Landlock ruleset
//! and loads a seccomp filter: a kernel that reports support but refuses
//! to enforce it counts as having none.
//!
//! Tests force a weaker kernel with two variables, which can only lower
//! what the probe found, never raise it: `PROCBOX_PRETEND_LANDLOCK_ABI=N`
//! and `PROCBOX_PRETEND_NO_SECCOMP=1`, read by debug builds only
//! ([`pretended`]).

use std::fmt;

use super::ChildNet;
use crate::terms::Strictness;

/// The newest Landlock ABI procbox knows.
pub const NEWEST_ABI: u32 = 7;
/// Filesystem rules including truncation (Linux 6.2).
pub const ABI_FILES: u32 = 3;
/// TCP bind and connect rules (Linux 6.7).
pub const ABI_TCP: u32 = 4;
/// Scoping of signals and abstract Unix sockets (Linux 6.12).
pub const ABI_SCOPE: u32 = 6;
/// Audit logging of denials after `exec` (Linux 6.15).
pub const ABI_LOG: u32 = 7;

/// What the kernel enforces, as probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelSupport {
    /// The Landlock ABI that works (0: none), capped at [`NEWEST_ABI`].
    pub landlock_abi: u32,
    /// Whether seccomp filters work.
    pub seccomp: bool,
    /// Whether a `PROCBOX_PRETEND_*` variable lowered the result.
    pub pretended: bool,
}

// `KernelSupport::get`, which asks the probe, is the launcher's
// (`launcher::findings`): the probe runs in its image.

/// The Linux release that brought each Landlock ABI, for messages.
pub fn linux_for_abi(abi: u32) -> &'static str {
    match abi {
        0 | 1 => "5.13",
        2 => "5.19",
        3 => "6.2",
        4 => "6.7",
        5 => "6.10",
        6 => "6.12",
        _ => "6.15",
    }
}

#[doc(hidden)]
pub use crate::sys::pretend::pretended;

/// `found` lowered by the test switches (`PROCBOX_PRETEND_LANDLOCK_ABI`,
/// `PROCBOX_PRETEND_NO_SECCOMP`).
pub(crate) fn pretend(mut found: KernelSupport) -> KernelSupport {
    if let Some(abi) = pretended("PROCBOX_PRETEND_LANDLOCK_ABI").and_then(|v| v.parse::<u32>().ok()) {
        if abi < found.landlock_abi {
            found.landlock_abi = abi;
            found.pretended = true;
        }
    }
    if pretended("PROCBOX_PRETEND_NO_SECCOMP").is_some_and(|v| v == "1") && found.seccomp {
        found.seccomp = false;
        found.pretended = true;
    }
    found
}

/// Runs in the probe process (`launcher::probes`), which has
/// one thread and exits after probing: the Landlock ABI that really
/// restricts a process (0: none), capped at [`NEWEST_ABI`], and whether a
/// seccomp filter loads. Both are tried on the probe process itself, and
/// stay: it sets `no_new_privs`, restricts itself with a ruleset that
/// handles only `READ_FILE` (valid on every ABI; it opens no file
/// afterwards) and loads a filter that allows every call.
pub fn probe_here() -> (u32, bool) {
    use landlock::{AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr};
    let abi = landlock_abi();
    if rustix::thread::set_no_new_privs(true).is_err() {
        return (0, false);
    }
    let landlock_works = abi > 0
        && Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(AccessFs::ReadFile)
            .and_then(|ruleset| ruleset.create())
            .and_then(|ruleset| ruleset.restrict_self())
            .is_ok();
    let allow_all = [seccompiler::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: libc::SECCOMP_RET_ALLOW,
    }];
    // SAFETY: a program that allows every call.
    let seccomp = unsafe { super::restrict::load_filter(&allow_all) }.is_ok();
    (if landlock_works { abi.min(NEWEST_ABI) } else { 0 }, seccomp)
}

/// `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`:
/// the kernel's own Landlock ABI, not capped at what procbox knows.
pub fn landlock_abi() -> u32 {
    crate::sys::landlock_abi()
}

/// What the kernel will enforce for one run, after the ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enforcement {
    /// The mode that was asked for.
    pub mode: Strictness,
    /// The Landlock ABI the rulesets are built for (0: no Landlock).
    pub abi: u32,
    /// Whether children get the seccomp filter.
    pub seccomp: bool,
    /// What the grants need and this kernel does not enforce (only under
    /// best effort: `require` refuses instead), one line each.
    pub missing: Vec<String>,
    /// What is not enforced on this kernel whatever the grants: scoping
    /// below ABI 6, and the gaps of every kernel ([`KNOWN_GAPS`]).
    pub gaps: Vec<String>,
}

impl Enforcement {
    /// What children run under, in one line.
    pub fn summary(&self) -> String {
        if self.mode == Strictness::Off {
            return "off (`confine = off`): children have your full authority".into();
        }
        let landlock = match self.abi {
            0 => "no Landlock".to_string(),
            abi => format!("Landlock ABI {abi}"),
        };
        let seccomp = if self.seccomp {
            "a seccomp filter"
        } else {
            "no seccomp filter"
        };
        let partial = if self.missing.is_empty() {
            ""
        } else {
            " (partial: best effort)"
        };
        format!("{} with {landlock} and {seccomp}{partial}", self.mode)
    }

    /// Whether children are confined at all.
    pub fn active(&self) -> bool {
        self.mode != Strictness::Off && (self.abi > 0 || self.seccomp)
    }
}

/// Why a plugin may not run under `--confine=require` on this kernel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unenforceable(pub String);

/// The ladder: what `mode` and the grants need against what `kernel` has,
/// once a launcher runs (`Enforcement::decide` asks that first, in the
/// launcher's layer).
///
/// # Errors
/// Under [`Strictness::Require`], the first need the kernel cannot meet,
/// as one line that says how to go on.
pub(crate) fn ladder(mode: Strictness, net: &ChildNet, kernel: KernelSupport) -> Result<Enforcement, Unenforceable> {
    if mode == Strictness::Off {
        return Ok(Enforcement {
            mode,
            abi: 0,
            seccomp: false,
            missing: Vec::new(),
            gaps: vec!["confinement is off (`confine = off`): children have your full authority".into()],
        });
    }
    let abi = kernel.landlock_abi;
    let mut missing = Vec::new();
    if abi < ABI_FILES {
        missing.push(format!(
            "filesystem and exec rules need Landlock ABI {ABI_FILES} (Linux {}); this kernel has {}",
            linux_for_abi(ABI_FILES),
            describe_abi(abi)
        ));
    }
    if net.needs_tcp_rules() && abi < ABI_TCP {
        missing.push(format!(
            "per-port network grants need Landlock ABI {ABI_TCP} (Linux {}); this kernel has {}",
            linux_for_abi(ABI_TCP),
            describe_abi(abi)
        ));
    }
    if !kernel.seccomp {
        missing.push("the network and exec filter needs seccomp, which this kernel does not enforce".into());
    }
    if mode == Strictness::Require {
        if let Some(first) = missing.first() {
            return Err(Unenforceable(format!(
                "cannot confine children on this kernel: {first}; set `confine = best-effort` to run with what it enforces (`procbox doctor` shows what that is), or `confine = off`"
            )));
        }
    }
    let mut gaps = Vec::new();
    if abi < ABI_SCOPE {
        gaps.push(format!(
            "signals and abstract Unix sockets are not scoped (Landlock ABI {ABI_SCOPE}, Linux {}): a child may signal other processes of your user",
            linux_for_abi(ABI_SCOPE)
        ));
    }
    gaps.extend(KNOWN_GAPS.iter().map(|g| g.to_string()));
    Ok(Enforcement {
        mode,
        abi,
        seccomp: kernel.seccomp,
        missing,
        gaps,
    })
}

/// Gaps that hold on every kernel procbox supports today.
pub const KNOWN_GAPS: &[&str] = &[
    "a granted program's ELF interpreter is executable, and runs any file a child can read, even one it wrote to $TMPDIR (`ld.so FILE`): grant only programs you would let run other code",
    "Unix socket files are reachable once `allow-child-net` grants `unix` (Landlock controls them only from ABI 9, Linux 7.1)",
    "with `allow-child-net` granting `bind:PORT`, a child may also listen on an ephemeral port (listen without bind)",
    "without a PID namespace (`contain = off`, or a kernel that refuses one), all of /proc is readable: children can list other processes and read what your user may read there",
    "file metadata is visible everywhere (stat, readlink, getxattr) and timestamps can be changed (utimensat); contents, modes and owners cannot",
    "a child given procbox's terminal (`allow-inherit`) can use its ioctls, except TIOCSTI and TIOCLINUX",
    "inotify watches show activity on paths a child may not read, and children share your network namespace, so /proc/net lists this machine's sockets",
    "protected paths are found when the run starts: a .git or shell start-up file a child creates during the run inside a write grant is writable",
    "no default cap on the tree's processes or memory: set `max-processes` and `max-tree-memory`",
];

fn describe_abi(abi: u32) -> String {
    match abi {
        0 => "no Landlock".into(),
        n => format!("ABI {n}"),
    }
}

impl fmt::Display for KernelSupport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Landlock {}, seccomp {}",
            describe_abi(self.landlock_abi),
            if self.seccomp { "yes" } else { "no" }
        )?;
        if self.pretended {
            f.write_str(" (lowered by PROCBOX_PRETEND_*)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(abi: u32, seccomp: bool) -> KernelSupport {
        KernelSupport {
            landlock_abi: abi,
            seccomp,
            pretended: true,
        }
    }

    #[test]
    fn require_refuses_each_missing_rung() {
        let ports = {
            let mut net = ChildNet::default();
            net.add("443").unwrap();
            net
        };
        let none = ChildNet::default();
        let refused = |abi, seccomp, net: &ChildNet| ladder(Strictness::Require, net, kernel(abi, seccomp));
        assert!(refused(7, true, &ports).is_ok());
        assert!(refused(3, true, &none).is_ok());
        let err = refused(2, true, &none).unwrap_err().to_string();
        assert!(
            err.contains("ABI 3") && err.contains("`confine = best-effort`"),
            "{err}"
        );
        assert!(refused(0, true, &none).unwrap_err().to_string().contains("no Landlock"));
        assert!(refused(3, true, &ports).unwrap_err().to_string().contains("ABI 4"));
        assert!(refused(7, false, &none).unwrap_err().to_string().contains("seccomp"));
    }

    #[test]
    fn best_effort_runs_and_names_every_gap() {
        let run = ladder(Strictness::BestEffort, &ChildNet::default(), kernel(2, false)).unwrap();
        assert_eq!((run.abi, run.seccomp), (2, false));
        assert!(run.active());
        let gaps = format!("{}\n{}", run.missing.join("\n"), run.gaps.join("\n"));
        assert_eq!(run.missing.len(), 2, "{gaps}");
        for fragment in ["ABI 3", "seccomp", "not scoped", "ELF interpreter"] {
            assert!(gaps.contains(fragment), "{fragment:?} missing from {gaps}");
        }
        let none = ladder(Strictness::BestEffort, &ChildNet::default(), kernel(0, false)).unwrap();
        assert!(!none.active());
    }

    #[test]
    fn scoping_below_abi_6_is_reported_not_refused() {
        let run = ladder(Strictness::Require, &ChildNet::default(), kernel(4, true)).unwrap();
        assert!(run.gaps.iter().any(|g| g.contains("not scoped")), "{:?}", run.gaps);
    }

    #[test]
    fn off_is_explicit() {
        let run = ladder(Strictness::Off, &ChildNet::default(), kernel(7, true)).unwrap();
        assert!(!run.active());
        assert!(run.gaps[0].contains("`confine = off`"));
    }
}
