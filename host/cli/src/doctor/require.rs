//! `procbox doctor --require LIST`: fail closed when this kernel does not
//! enforce a mechanism a deployment counts on, so that a container's
//! entrypoint can refuse to start a worker (`procbox doctor --require
//! landlock,seccomp,pidns,cgroup && exec procbox-worker ...`).
//!
//! A requirement is met only when the mechanism was found working (the
//! probe process restricted itself with Landlock and seccomp and made the
//! namespace; a run's cgroup was made, limited and joined by a throw-away
//! child), never because it is compiled in or listed; and the
//! `PROCBOX_PRETEND_*` variables, which only lower what was found, make it
//! unmet as they make runs see it missing.

use procbox::process_tree::namespace::NamespaceSupport;
use procbox::sandbox::probe::{self, KernelSupport, ABI_FILES};
use procbox::{ChildNet, Enforcement, Strictness};

use super::super::failure::Failure;
use super::super::output::{emit, stderr_line};
use super::children;

/// Exit status when a requirement is not met.
pub const EXIT_MISSING: u8 = 1;

/// What `--require` accepts, each a mechanism `procbox doctor` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Landlock enforces the grants' filesystem and exec rules (ABI 3+).
    Landlock,
    /// procbox's seccomp filter loads.
    Seccomp,
    /// Children get a PID namespace that dies with procbox.
    Pidns,
    /// `--max-processes` and `--max-tree-memory` can be enforced (a pids
    /// and a memory cgroup procbox may create).
    Cgroup,
}

/// The names, in the order the valid ones are listed.
const NAMES: [(&str, Requirement); 4] = [
    ("landlock", Requirement::Landlock),
    ("seccomp", Requirement::Seccomp),
    ("pidns", Requirement::Pidns),
    ("cgroup", Requirement::Cgroup),
];

impl Requirement {
    fn name(self) -> &'static str {
        NAMES.iter().find(|(_, r)| *r == self).map_or("?", |(name, _)| name)
    }
}

fn valid() -> String {
    NAMES.map(|(name, _)| name).join(", ")
}

/// The requirements `--require` named (each value a comma-separated
/// list, the flag repeatable), without repeats, in the order given.
///
/// # Errors
/// A usage failure (exit status 2) in one line that lists the valid names,
/// for an unknown or empty name.
pub fn parse(values: &[String]) -> Result<Vec<Requirement>, Failure> {
    let mut wanted = Vec::new();
    for value in values {
        for word in value.split(',') {
            let word = word.trim();
            let Some((_, requirement)) = NAMES.iter().find(|(name, _)| *name == word) else {
                let what = match word {
                    "" => format!("an empty name in {value:?}"),
                    other => format!("unknown requirement {other:?}"),
                };
                return Err(Failure::usage_msg(format!(
                    "--require: {what}; the valid ones are {} (comma-separated)",
                    valid()
                )));
            };
            if !wanted.contains(requirement) {
                wanted.push(*requirement);
            }
        }
    }
    Ok(wanted)
}

/// Checks each requirement against the probe: one line on stdout for each
/// that is met, one on stderr for each that is not (with why); returns 0
/// when all are met, else [`EXIT_MISSING`].
///
/// # Errors
/// If stdout cannot be written.
pub fn check(wanted: &[Requirement]) -> Result<u8, Failure> {
    let mut status = 0;
    for &requirement in wanted {
        match verdict(requirement) {
            Ok(how) => emit(&format!(
                "procbox doctor: required {} is enforced here: {how}\n",
                requirement.name()
            ))?,
            Err(why) => {
                stderr_line(&format!(
                    "procbox doctor: required {} is not enforced here: {why}",
                    requirement.name()
                ));
                status = EXIT_MISSING;
            }
        }
    }
    Ok(status)
}

/// `Ok(what works)` or `Err(why not)`, each in a few words.
fn verdict(requirement: Requirement) -> Result<String, String> {
    let kernel = KernelSupport::get();
    match requirement {
        Requirement::Landlock => landlock(kernel),
        Requirement::Seccomp => match kernel.seccomp {
            true => Ok("procbox's seccomp filter loads".into()),
            false => Err(match probe_failure(kernel) {
                Some(why) => why,
                None if probe::pretended("PROCBOX_PRETEND_NO_SECCOMP").is_some_and(|v| v == "1") => {
                    "PROCBOX_PRETEND_NO_SECCOMP=1 is set (it pretends the kernel has no seccomp)".into()
                }
                None => "a seccomp filter did not load in the probe process".into(),
            }),
        },
        Requirement::Pidns => match &NamespaceSupport::get().works {
            Ok(true) => Ok("a PID namespace per run, in a user namespace that maps procbox's user to itself".into()),
            Ok(false) => Ok("a PID namespace per run".into()),
            Err(why) => Err(format!("no PID namespace for children: {why}")),
        },
        Requirement::Cgroup => cgroup(),
    }
}

/// A run's cgroups, made for real: both controllers found writable, a
/// run's cgroup made with both limits written, and a throw-away child
/// moved into it, as the launcher moves itself; then removed.
fn cgroup() -> Result<String, String> {
    use procbox::process_tree::cgroup::{self, TreeCgroup, TreeLimits};
    let missing: Vec<String> = cgroup::report()
        .into_iter()
        .filter_map(|(controller, place)| {
            place
                .err()
                .map(|why| format!("no {controller} cgroup procbox can create ({why})"))
        })
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{}; --max-processes and --max-tree-memory need both",
            missing.join("; ")
        ));
    }
    let limits = TreeLimits {
        max_processes: Some(1),
        max_memory: Some(64 << 20),
    };
    let made = TreeCgroup::create(&limits, NamespaceSupport::get().works.is_ok())
        .map_err(|why| format!("a run's cgroup could not be made: {why}"))?;
    let dirs: Vec<String> = made.dirs().iter().map(|d| d.display().to_string()).collect();
    for dir in made.dirs() {
        join_in_child(&dir.join("cgroup.procs"))
            .map_err(|why| format!("a process could not join the run's cgroup {}: {why}", dir.display()))?;
    }
    Ok(format!(
        "--max-processes and --max-tree-memory: a run's cgroup made, limited and joined just now, in {}",
        dirs.join(" and ")
    ))
}

/// Starts a throw-away child that moves itself into the cgroup of `procs`
/// (its `cgroup.procs`) and exits; whether it could.
fn join_in_child(procs: &std::path::Path) -> Result<(), String> {
    let ended = children::run(children::JOIN, &[procs.as_os_str()])?;
    match (ended.code, ended.said.is_empty()) {
        (0, _) => Ok(()),
        (code, true) => Err(format!("the throw-away child ended with {code}")),
        (_, false) => Err(ended.said),
    }
}

/// The throw-away child's `main` ([`children::JOIN`]), in a process of its
/// own started for it: `PROCS`. It writes itself into that
/// `cgroup.procs` ("0": the writing process, in v1 and v2 alike).
pub(super) fn join_child(args: &[std::ffi::OsString]) -> u8 {
    use std::io::Write;
    let [procs] = args else {
        eprintln!("usage: {} CGROUP.PROCS", children::JOIN);
        return 2;
    };
    let joined = std::fs::OpenOptions::new()
        .write(true)
        .open(procs)
        .and_then(|mut file| file.write_all(b"0"));
    match joined {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

fn landlock(kernel: KernelSupport) -> Result<String, String> {
    let abi = kernel.landlock_abi;
    if abi >= ABI_FILES {
        return Ok(format!("Landlock ABI {abi}"));
    }
    let needs = format!(
        "the grants' filesystem and exec rules need Landlock ABI {ABI_FILES} (Linux {})",
        probe::linux_for_abi(ABI_FILES)
    );
    let raw = probe::landlock_abi();
    // The variable can only lower what the probe found.
    let pretend = probe::pretended("PROCBOX_PRETEND_LANDLOCK_ABI")
        .filter(|v| kernel.pretended && v.parse::<u32>().is_ok_and(|n| n == abi));
    let found = match (abi, probe_failure(kernel)) {
        (_, Some(why)) => why,
        (n, None) if pretend.is_some() => {
            format!("PROCBOX_PRETEND_LANDLOCK_ABI={n} is set (it lowers what the probe found)")
        }
        (0, None) if raw > 0 => {
            format!("the kernel reports Landlock ABI {raw}, but a process could not restrict itself with it")
        }
        (0, None) => {
            "this kernel has no Landlock (not built in, or not in its LSM list: lsm= on the kernel command line)".into()
        }
        (n, None) => format!("this kernel has ABI {n}"),
    };
    Err(format!("{found}; {needs}"))
}

/// Why the probe process could not run at all, if it could not (then
/// procbox counts the kernel as enforcing nothing).
fn probe_failure(kernel: KernelSupport) -> Option<String> {
    // Every mode but off asks the probe process first, whatever the kernel.
    Enforcement::decide(Strictness::BestEffort, &ChildNet::default(), kernel)
        .err()
        .map(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(values: &[&str]) -> Result<Vec<&'static str>, String> {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        parse(&values)
            .map(|wanted| wanted.into_iter().map(Requirement::name).collect())
            .map_err(|f| f.render())
    }

    #[test]
    fn names_are_comma_separated_repeatable_and_deduplicated() {
        assert_eq!(
            names(&["landlock,seccomp,pidns,cgroup"]).unwrap(),
            ["landlock", "seccomp", "pidns", "cgroup"]
        );
        assert_eq!(names(&["cgroup", " pidns , cgroup"]).unwrap(), ["cgroup", "pidns"]);
    }

    #[test]
    fn a_bad_name_is_one_line_that_lists_the_valid_ones() {
        for bad in [
            &["landlock,selinux"][..],
            &[""],
            &["landlock,"],
            &["Landlock"],
            &["\u{0}"],
        ] {
            let err = names(bad).unwrap_err();
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.contains("--require") && err.contains("landlock, seccomp, pidns, cgroup"),
                "{err}"
            );
        }
    }
}
