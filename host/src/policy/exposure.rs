//! Granted programs that the plugin could change: a program file inside a
//! directory the plugin may write (`--allow-write`) can be replaced by the
//! plugin with anything, and a program file with more than one hard link
//! inside a granted directory may be another name for a file outside it.
//! Both are reported as [`PolicyWarning`]s at start-up, and refused when
//! the policy is strict (`--strict-programs`).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::rule::ExecRule;
use super::PolicyWarning;

/// The warnings for `allow` rules, given the plugin's writable directories
/// and the directories granted to children.
pub(super) fn exposed_programs(allow: &[ExecRule], write_dirs: &[PathBuf], dirs: &[PathBuf]) -> Vec<PolicyWarning> {
    let mut warnings = Vec::new();
    let mut seen: Vec<&Path> = Vec::new();
    for rule in allow {
        if seen.contains(&rule.path.as_path()) {
            continue;
        }
        seen.push(&rule.path);
        if let Some(dir) = write_dirs.iter().find(|d| rule.path.starts_with(d)) {
            warnings.push(PolicyWarning::WritableProgram {
                origin: rule.source.clone(),
                rule: rule.written.clone(),
                program: rule.path.clone(),
                dir: dir.clone(),
            });
            continue;
        }
        let in_granted = write_dirs.iter().chain(dirs).any(|d| rule.path.starts_with(d));
        let links = std::fs::metadata(&rule.path).map(|m| m.nlink()).unwrap_or(1);
        if in_granted && links > 1 {
            warnings.push(PolicyWarning::HardLinkedProgram {
                origin: rule.source.clone(),
                rule: rule.written.clone(),
                program: rule.path.clone(),
                links,
            });
        }
    }
    warnings
}
