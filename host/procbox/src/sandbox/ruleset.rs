//! A [`ChildPlan`] as a Landlock ruleset (the `landlock` crate), built once
//! per distinct plan in the launcher and kept as a descriptor: each child
//! then only calls `landlock_restrict_self` on it.
//!
//! The ruleset handles **every** filesystem right of the ABI (a ruleset
//! that handled `WRITE_FILE` but not `MAKE_REG` would still let a denied
//! `open(O_CREAT)` leave an empty file), TCP bind and connect from ABI 4
//! unless the whole network is granted, and scopes signals and abstract
//! Unix sockets from ABI 6.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope, ABI,
};

use super::plan::{ChildPlan, SYSTEM_READ, SYSTEM_WRITE_FILES};
use super::probe::{ABI_SCOPE, ABI_TCP};

/// Why the Landlock ruleset of a plan cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesetError {
    /// Landlock refused a step.
    #[error("building the Landlock ruleset: {what}: {error}")]
    Landlock {
        /// The step: the rights handled, a granted path, a port.
        what: String,
        /// Landlock's error.
        error: landlock::RulesetError,
    },
    /// A granted path could not be opened.
    #[error("a path granted to children cannot be opened: {}: {source}", .path.display())]
    Open {
        /// The path.
        path: PathBuf,
        /// Why it could not be opened.
        #[source]
        source: std::io::Error,
    },
    /// A symlink appeared on the way to a granted path.
    #[error(
        "a path granted to children cannot be opened: {}: a symlink appeared on its way since the grant was resolved",
        .path.display()
    )]
    Moved {
        /// The path.
        path: PathBuf,
    },
    /// A granted path's descriptor could not be duplicated.
    #[error("{source}")]
    Duplicate {
        /// The path.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
}

/// The ruleset for `plan`, as a descriptor to restrict children with; `None`
/// when the plan uses no Landlock.
///
/// # Errors
/// The path or rule the kernel refused.
pub fn build(plan: &ChildPlan) -> Result<Option<OwnedFd>, RulesetError> {
    if plan.abi == 0 {
        return Ok(None);
    }
    let abi = ABI::from(plan.abi as i32);
    let failed = |what: &str, error: landlock::RulesetError| RulesetError::Landlock {
        what: what.to_string(),
        error,
    };
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi))
        .map_err(|e| failed("filesystem rights", e))?;
    if plan.abi >= ABI_TCP && !plan.net.all {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .map_err(|e| failed("network rights", e))?;
    }
    if plan.abi >= ABI_SCOPE {
        ruleset = ruleset.scope(Scope::from_all(abi)).map_err(|e| failed("scoping", e))?;
    }
    let mut created = ruleset.create().map_err(|e| failed("creating", e))?;
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let write = AccessFs::from_all(abi) & !AccessFs::Execute;
    let device = AccessFs::from_file(abi) & (AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate);
    let exec = AccessFs::Execute | AccessFs::ReadFile | AccessFs::ReadDir;
    let groups: [(&[std::path::PathBuf], BitFlags<AccessFs>); 4] = [
        (&plan.read, read),
        (&plan.write, write),
        (&plan.write_files, device),
        (&plan.exec, exec),
    ];
    for (paths, access) in groups {
        for path in paths {
            created = created
                .add_rule(beneath(path, access, abi)?)
                .map_err(|e| failed(&path.display().to_string(), e))?;
        }
    }
    if plan.abi >= ABI_TCP && !plan.net.all {
        let ports = plan
            .net
            .connect
            .iter()
            .map(|p| (*p, AccessNet::ConnectTcp))
            .chain(plan.net.bind.iter().map(|p| (*p, AccessNet::BindTcp)));
        for (port, access) in ports {
            created = created
                .add_rule(NetPort::new(port, access))
                .map_err(|e| failed(&format!("port {port}"), e))?;
        }
    }
    Ok(Option::<OwnedFd>::from(created))
}

/// A rule for `path`: the rights for a directory, or those of them that
/// apply to a file. A granted path was canonical when the policy was
/// built, and a child may since have swapped a directory on its way for a
/// symlink (a nested grant inside a write grant): it is opened without
/// following any, so the rule never lands on a symlink's target. Only
/// procbox's fixed system set (`/lib` is a symlink on merged-`/usr`
/// systems, in directories only root can change) is followed.
fn beneath(path: &Path, access: BitFlags<AccessFs>, abi: ABI) -> Result<PathBeneath<OwnedFd>, RulesetError> {
    let system = SYSTEM_READ
        .iter()
        .chain(SYSTEM_WRITE_FILES)
        .any(|s| Path::new(s) == path);
    let path_buf = || path.to_path_buf();
    let fd = match system {
        true => crate::sys::beneath::open_path(path, libc::O_PATH).map_err(|source| RulesetError::Open {
            path: path_buf(),
            source,
        }),
        false => crate::sys::beneath::open_canonical(path).map_err(|source| match source.raw_os_error() {
            Some(libc::ELOOP) => RulesetError::Moved { path: path_buf() },
            _ => RulesetError::Open {
                path: path_buf(),
                source,
            },
        }),
    }?;
    let duplicated = fd.try_clone().map_err(|source| RulesetError::Duplicate {
        path: path_buf(),
        source,
    })?;
    let is_dir = std::fs::File::from(duplicated).metadata().is_ok_and(|m| m.is_dir());
    let access = match is_dir {
        true => access,
        false => access & AccessFs::from_file(abi),
    };
    Ok(PathBeneath::new(fd, access))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::plan::TreePlan;
    use crate::sandbox::ChildNet;

    fn plan(read: Vec<std::path::PathBuf>) -> ChildPlan {
        ChildPlan {
            read,
            write: Vec::new(),
            write_files: Vec::new(),
            exec: Vec::new(),
            net: ChildNet::default(),
            tmp: std::env::temp_dir(),
            abi: crate::KernelSupport::get().landlock_abi,
            seccomp: false,
            drop_caps: false,
            tree: TreePlan::default(),
        }
    }

    #[test]
    fn a_granted_path_swapped_for_a_symlink_is_refused_not_followed() {
        if crate::KernelSupport::get().landlock_abi == 0 {
            eprintln!("skipped: this kernel has no Landlock");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().canonicalize().unwrap();
        let granted = top.join("granted");
        std::fs::create_dir(&granted).unwrap();
        // Resolved when the policy was built; fine as it is.
        assert!(build(&plan(vec![granted.clone()])).is_ok());
        // A child swaps it for a symlink to / before the launcher builds
        // the rule: the rule must not land on /.
        std::fs::remove_dir(&granted).unwrap();
        std::os::unix::fs::symlink("/", &granted).unwrap();
        let err = build(&plan(vec![granted])).unwrap_err().to_string();
        assert!(err.contains("a symlink appeared on its way"), "{err}");
        // procbox's own system set is followed (/lib is a symlink on
        // merged-/usr systems).
        let system: Vec<std::path::PathBuf> = SYSTEM_READ
            .iter()
            .map(std::path::PathBuf::from)
            .filter(|p| p.exists())
            .collect();
        assert!(build(&plan(system)).is_ok());
    }
}
