//! Granted programs that could be changed before or while they run: a
//! program, or the interpreter that runs it (`#!`, the ELF loader), is
//! exposed when
//! - the plugin, its children or a redirect may write it: it lies in a
//!   directory of the write grants as they are enforced (split around
//!   protected paths, with the paths the user granted by name), or is one of
//!   the files written in place;
//! - someone else may: it, or a directory on its path, is writable by its
//!   group or others (a sticky directory excepted), or belongs to another
//!   user than procbox's (or root);
//! - it has more than one hard link inside a granted directory: it may be
//!   another name for a file outside it.
//!
//! Each is a [`PolicyWarning`] at start-up, and refused when the policy is
//! strict (`--strict-programs`).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::protected::WriteSet;
use super::rule::ExecRule;
use super::PolicyWarning;

/// The warnings for `allow` rules, given the write grants as enforced and
/// every granted directory (read or write).
pub(super) fn exposed_programs(allow: &[ExecRule], write_set: &WriteSet, granted: &[&PathBuf]) -> Vec<PolicyWarning> {
    let mut warnings = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for rule in allow {
        let mut files = vec![rule.path.clone()];
        files.extend(crate::sandbox::plan::interpreters(&rule.path));
        for file in files {
            if seen.contains(&file) {
                continue;
            }
            warnings.extend(exposure(rule, &file, write_set, granted));
            seen.push(file);
        }
    }
    warnings
}

/// How `file`, which runs for `rule`, could be changed, if at all.
fn exposure(rule: &ExecRule, file: &Path, write_set: &WriteSet, granted: &[&PathBuf]) -> Option<PolicyWarning> {
    let writable_in = write_set
        .dirs
        .iter()
        .find(|d| file.starts_with(d))
        .or_else(|| write_set.files.iter().find(|f| f.as_path() == file));
    if let Some(dir) = writable_in {
        return Some(PolicyWarning::WritableProgram {
            origin: rule.source.clone(),
            rule: rule.written.clone(),
            program: file.to_path_buf(),
            dir: dir.clone(),
        });
    }
    if let Some(why) = changeable_by_others(file) {
        return Some(PolicyWarning::OthersMayChangeProgram {
            origin: rule.source.clone(),
            rule: rule.written.clone(),
            program: file.to_path_buf(),
            why,
        });
    }
    // Another name may lie anywhere on the same file system: in a granted
    // directory, or in one the plugin may write.
    let meta = std::fs::metadata(file).ok()?;
    let same_device = |dir: &PathBuf| std::fs::metadata(dir).is_ok_and(|d| d.dev() == meta.dev());
    let reachable = granted.iter().any(|d| file.starts_with(d))
        || write_set.dirs.iter().any(same_device)
        || write_set.files.iter().any(same_device);
    let links = meta.nlink();
    (reachable && links > 1).then(|| PolicyWarning::HardLinkedProgram {
        origin: rule.source.clone(),
        rule: rule.written.clone(),
        program: file.to_path_buf(),
        links,
    })
}

/// Why a user other than procbox's (and root) could replace or rewrite
/// `file`: it or a directory on its path is writable by group or others
/// (sticky directories excepted: only a file's owner may rename it there),
/// or owned by another user.
fn changeable_by_others(file: &Path) -> Option<String> {
    let me = rustix::process::geteuid().as_raw();
    let foreign = |meta: &std::fs::Metadata| meta.uid() != me && meta.uid() != 0;
    let meta = std::fs::metadata(file).ok()?;
    if meta.mode() & 0o022 != 0 {
        return Some(format!(
            "it is writable by its group or others (mode {:o})",
            meta.mode() & 0o7777
        ));
    }
    if foreign(&meta) {
        return Some(format!("it belongs to user {}", meta.uid()));
    }
    file.ancestors().skip(1).find_map(|dir| {
        let meta = std::fs::metadata(dir).ok()?;
        let sticky = meta.mode() & 0o1000 != 0;
        if meta.mode() & 0o022 != 0 && !sticky {
            Some(format!(
                "{} is writable by its group or others (mode {:o}), who can replace what is in it",
                dir.display(),
                meta.mode() & 0o7777
            ))
        } else if foreign(&meta) {
            Some(format!(
                "{} belongs to user {}, who can replace what is in it",
                dir.display(),
                meta.uid()
            ))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn rule(path: &Path) -> ExecRule {
        ExecRule {
            written: path.display().to_string(),
            program: path.display().to_string(),
            path: path.to_path_buf(),
            args: super::super::rule::ArgsPattern::Any,
            sha256: None,
            source: super::super::Source::Api,
        }
    }

    /// The kinds of the warnings about files under `top`: the system's ELF
    /// loader may have other names where this machine put them (perf's
    /// build-id cache hard-links it), which is not this test's business.
    fn kinds(warnings: &[PolicyWarning], top: &Path) -> Vec<&'static str> {
        warnings
            .iter()
            .filter_map(|w| match w {
                PolicyWarning::WritableProgram { program, .. } => Some((program, "writable")),
                PolicyWarning::OthersMayChangeProgram { program, .. } => Some((program, "others")),
                PolicyWarning::HardLinkedProgram { program, .. } => Some((program, "hard-linked")),
                _ => None,
            })
            .filter(|(program, _)| program.starts_with(top))
            .map(|(_, kind)| kind)
            .collect()
    }

    #[test]
    fn every_way_to_change_a_granted_program_or_its_interpreter_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().canonicalize().unwrap();
        std::fs::set_permissions(&top, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = top.join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let interp = bin.join("interp");
        std::fs::copy("/bin/sh", &interp).unwrap();
        let script = bin.join("tool");
        std::fs::write(&script, format!("#!{}\necho\n", interp.display())).unwrap();
        for f in [&interp, &script] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let nothing = WriteSet::default();
        let granted = [&top];
        let check = |set: &WriteSet| kinds(&exposed_programs(&[rule(&script)], set, &granted), &top);
        // Nobody else can change them: nothing to say.
        assert_eq!(check(&nothing), Vec::<&str>::new());
        // The interpreter lies in a directory the plugin may write.
        let writes_bin = WriteSet {
            dirs: vec![bin.clone()],
            ..WriteSet::default()
        };
        assert_eq!(check(&writes_bin), ["writable", "writable"]);
        // The script alone is written in place (a file of a split grant).
        let writes_script = WriteSet {
            files: vec![script.clone()],
            ..WriteSet::default()
        };
        assert_eq!(check(&writes_script), ["writable"]);
        // Its interpreter writable by others.
        std::fs::set_permissions(&interp, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(check(&nothing), ["others"]);
        std::fs::set_permissions(&interp, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Their directory writable by its group, and not sticky.
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o775)).unwrap();
        assert_eq!(check(&nothing), ["others", "others"]);
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(check(&nothing), Vec::<&str>::new(), "a sticky directory");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A second name for the script inside a granted directory.
        std::fs::hard_link(&script, top.join("other-name")).unwrap();
        assert_eq!(check(&nothing), ["hard-linked"]);
    }
}
