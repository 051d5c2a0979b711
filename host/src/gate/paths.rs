//! The gate's checks on paths: the working directory and the files that
//! standard streams are redirected to must lie in a granted directory.

use std::path::{Path, PathBuf};

use crate::error::SpawnError;
use crate::policy::Policy;
use crate::redirect::{Redirect, Redirects, Target};

use super::render::granted_dirs;

/// The canonical working directory and the granted directory it lies in:
/// the start directory (with no root) by default; an explicit one must lie
/// in a granted directory.
pub(super) fn check_cwd(policy: &Policy, cwd: Option<&str>) -> Result<(PathBuf, Option<PathBuf>), SpawnError> {
    let Some(cwd) = cwd else {
        return Ok((policy.start_dir.clone(), None));
    };
    if cwd.contains('\0') {
        return Err(SpawnError::InvalidInput(format!(
            "the working directory {cwd:?} contains a NUL byte"
        )));
    }
    let canonical = policy
        .start_dir
        .join(cwd)
        .canonicalize()
        .map_err(|e| SpawnError::InvalidInput(format!("working directory {cwd}: {e}")))?;
    if !canonical.is_dir() {
        return Err(SpawnError::InvalidInput(format!(
            "working directory {cwd}: not a directory"
        )));
    }
    let Some(root) = policy.dirs.iter().find(|root| canonical.starts_with(root)) else {
        return Err(SpawnError::Denied(format!(
            "working directory {} is outside the granted directories ({}); {}",
            canonical.display(),
            with_granted(&policy.dirs),
            super::suggest::dir(&canonical)
        )));
    };
    Ok((canonical, Some(root.clone())))
}

/// Each stream's target: inheriting needs a grant; a file must lie in a
/// granted directory; `stdout` is for stderr only and `child-stdout` for
/// stdin only.
pub(super) fn check_stdio(
    policy: &Policy,
    line: &str,
    cwd: &Path,
    stdio: &Redirects<Redirect>,
) -> Result<Redirects<Target>, SpawnError> {
    let one = |name: &str, redirect: &Redirect| -> Result<Target, SpawnError> {
        let misplaced = |what: &str| {
            SpawnError::InvalidInput(format!(
                "{line}: {name}: `{what}` is only for {}",
                if what == "stdout" { "stderr" } else { "stdin" }
            ))
        };
        Ok(match redirect {
            Redirect::Piped => Target::Piped,
            Redirect::Null => Target::Null,
            Redirect::Inherit if policy.allow_inherit => Target::Inherit,
            Redirect::Inherit => {
                return Err(SpawnError::Denied(format!(
                    "{line}: {name}: using procbox's own {name} needs --allow-inherit"
                )))
            }
            Redirect::File { path, append } => {
                let (path, root) = check_file(policy, line, name, cwd, path)?;
                Target::File {
                    path,
                    root,
                    append: *append,
                }
            }
            Redirect::Stdout if name == "stderr" => Target::SameAsStdout,
            Redirect::Stdout => return Err(misplaced("stdout")),
            Redirect::ChildStdout if name == "stdin" => Target::ChildStdout,
            Redirect::ChildStdout => return Err(misplaced("child-stdout")),
        })
    };
    Ok(Redirects {
        stdin: one("stdin", &stdio.stdin)?,
        stdout: one("stdout", &stdio.stdout)?,
        stderr: one("stderr", &stdio.stderr)?,
    })
}

/// A redirection file: its directory resolved (no `..` or symlink
/// escapes) and inside a granted directory, which is returned too; the
/// file itself not a symlink and not a directory.
fn check_file(
    policy: &Policy,
    line: &str,
    name: &str,
    cwd: &Path,
    path: &str,
) -> Result<(PathBuf, PathBuf), SpawnError> {
    let invalid = |why: String| SpawnError::InvalidInput(format!("{line}: {name} file {path:?}: {why}"));
    if path.is_empty() || path.contains('\0') {
        return Err(invalid("the path is empty or contains a NUL byte".into()));
    }
    let joined = cwd.join(path);
    let (Some(dir), Some(file_name)) = (joined.parent(), joined.file_name()) else {
        return Err(invalid("not a file path".into()));
    };
    let dir = dir.canonicalize().map_err(|e| invalid(format!("its directory: {e}")))?;
    let Some(root) = policy.dirs.iter().find(|root| dir.starts_with(root)) else {
        return Err(SpawnError::Denied(format!(
            "{line}: {name} file {}: outside the granted directories ({}); {}",
            dir.join(file_name).display(),
            granted_dirs(&policy.dirs),
            super::suggest::dir(&dir)
        )));
    };
    let resolved = dir.join(file_name);
    match std::fs::symlink_metadata(&resolved) {
        Ok(meta) if meta.file_type().is_symlink() => Err(SpawnError::Denied(format!(
            "{line}: {name} file {}: a symlink, which could point anywhere",
            resolved.display()
        ))),
        Ok(meta) if meta.is_dir() => Err(invalid("a directory".into())),
        _ => Ok((resolved, root.clone())),
    }
}

fn with_granted(dirs: &[PathBuf]) -> String {
    match dirs {
        [] => granted_dirs(dirs),
        _ => format!("granted: {}", granted_dirs(dirs)),
    }
}
