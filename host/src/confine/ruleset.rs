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
use std::path::Path;

use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope, ABI,
};

use super::plan::ChildPlan;
use super::probe::{ABI_SCOPE, ABI_TCP};

/// The ruleset for `plan`, as a descriptor to restrict children with; `None`
/// when the plan uses no Landlock.
///
/// # Errors
/// One line naming the path or rule the kernel refused.
pub fn build(plan: &ChildPlan) -> Result<Option<OwnedFd>, String> {
    if plan.abi == 0 {
        return Ok(None);
    }
    let abi = ABI::from(plan.abi as i32);
    let failed = |what: &str, e: &dyn std::fmt::Display| format!("building the Landlock ruleset: {what}: {e}");
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi))
        .map_err(|e| failed("filesystem rights", &e))?;
    if plan.abi >= ABI_TCP && !plan.net.all {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .map_err(|e| failed("network rights", &e))?;
    }
    if plan.abi >= ABI_SCOPE {
        ruleset = ruleset.scope(Scope::from_all(abi)).map_err(|e| failed("scoping", &e))?;
    }
    let mut created = ruleset.create().map_err(|e| failed("creating", &e))?;
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
                .map_err(|e| failed(&path.display().to_string(), &e))?;
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
                .map_err(|e| failed(&format!("port {port}"), &e))?;
        }
    }
    Ok(Option::<OwnedFd>::from(created))
}

/// A rule for `path`: the rights for a directory, or those of them that
/// apply to a file.
fn beneath(path: &Path, access: BitFlags<AccessFs>, abi: ABI) -> Result<PathBeneath<PathFd>, String> {
    let fd = PathFd::new(path).map_err(|e| format!("a path granted to children cannot be opened: {e}"))?;
    let is_dir = std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false);
    let access = match is_dir {
        true => access,
        false => access & AccessFs::from_file(abi),
    };
    Ok(PathBeneath::new(fd, access))
}
