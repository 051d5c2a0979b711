//! The gate's checks on paths: the working directory must lie in a
//! directory granted for children (`dir`); a file a standard stream is
//! redirected to must be readable (stdin: `dir`, `allow-read` or
//! `allow-write`) or writable (stdout, stderr: `allow-write`, and not a
//! protected path, see [`crate::policy::protected`]) under the same grants
//! that confine the children themselves.

use std::path::{Path, PathBuf};

use crate::gate::{BadCwd, BadFile, Invalid, OtherStream, SpawnError};
use crate::policy::protected::protected_target;

use super::fix::{Fix, Grant};
use crate::policy::Policy;
use crate::redirect::{Redirect, Redirects, Stream, Target};

use super::render::granted_dirs;

/// The canonical working directory and the granted directory it lies in:
/// the start directory (with no root) by default; an explicit one must lie
/// in a granted directory.
pub(super) fn check_cwd(policy: &Policy, cwd: Option<&str>) -> Result<(PathBuf, Option<PathBuf>), SpawnError> {
    let Some(cwd) = cwd else {
        return Ok((policy.start_dir.clone(), None));
    };
    if cwd.contains('\0') {
        return Err(Invalid::Cwd(BadCwd::Nul { cwd: cwd.to_string() }).into());
    }
    let canonical = policy.start_dir.join(cwd).canonicalize().map_err(|e| {
        Invalid::Cwd(BadCwd::Unresolved {
            cwd: cwd.to_string(),
            error: e.into(),
        })
    })?;
    if !canonical.is_dir() {
        return Err(Invalid::Cwd(BadCwd::NotADirectory { cwd: cwd.to_string() }).into());
    }
    let Some(root) = policy.dirs.iter().find(|root| canonical.starts_with(root)) else {
        return Err(SpawnError::denied_unless(
            format!(
                "working directory {} is outside the granted directories ({})",
                canonical.display(),
                with_granted(&policy.dirs)
            ),
            super::suggest::dir(&canonical),
        ));
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
    let one = |name: Stream, redirect: &Redirect| -> Result<Target, SpawnError> {
        let misplaced = |redirect: OtherStream| {
            SpawnError::from(Invalid::Misplaced {
                command: line.to_string(),
                stream: name,
                redirect,
            })
        };
        Ok(match redirect {
            Redirect::Piped => Target::Piped,
            Redirect::Null => Target::Null,
            Redirect::Inherit if policy.allow_inherit => Target::Inherit,
            Redirect::Inherit => {
                return Err(SpawnError::denied_unless(
                    format!("{line}: {name}: using procbox's own {name} needs a grant"),
                    Fix::new(Grant::AllowInherit),
                ))
            }
            Redirect::File { path, append } => {
                let access = if name == Stream::Stdin {
                    Access::Read
                } else {
                    Access::Write
                };
                let (path, root) = check_file(policy, line, name, cwd, path, access)?;
                Target::File {
                    path,
                    root,
                    append: *append,
                }
            }
            Redirect::Stdout if name == Stream::Stderr => Target::SameAsStdout,
            Redirect::Stdout => return Err(misplaced(OtherStream::Stdout)),
            Redirect::ChildStdout if name == Stream::Stdin => Target::ChildStdout,
            Redirect::ChildStdout => return Err(misplaced(OtherStream::ChildStdout)),
        })
    };
    Ok(Redirects {
        stdin: one(Stream::Stdin, &stdio.stdin)?,
        stdout: one(Stream::Stdout, &stdio.stdout)?,
        stderr: one(Stream::Stderr, &stdio.stderr)?,
    })
}

/// What a redirect does with its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// stdin: reads it.
    Read,
    /// stdout, stderr: creates, truncates or appends to it.
    Write,
}

/// A redirection file: its directory resolved (no `..` or symlink
/// escapes) and inside a directory granted for this access, which is
/// returned too; the file itself not a symlink and not a directory; a file
/// written not a protected path.
fn check_file(
    policy: &Policy,
    line: &str,
    name: Stream,
    cwd: &Path,
    path: &str,
    access: Access,
) -> Result<(PathBuf, PathBuf), SpawnError> {
    let invalid = |why: BadFile| {
        SpawnError::from(Invalid::File {
            command: line.to_string(),
            stream: name,
            path: path.to_string(),
            why,
        })
    };
    if path.is_empty() || path.contains('\0') {
        return Err(invalid(BadFile::EmptyOrNul));
    }
    let joined = cwd.join(path);
    let (Some(dir), Some(file_name)) = (joined.parent(), joined.file_name()) else {
        return Err(invalid(BadFile::NotAFilePath));
    };
    let dir = dir.canonicalize().map_err(|e| invalid(BadFile::Directory(e.into())))?;
    let resolved = dir.join(file_name);
    let root = granted_root(policy, line, name, &resolved, access)?;
    match std::fs::symlink_metadata(&resolved) {
        Ok(meta) if meta.file_type().is_symlink() => Err(SpawnError::denied(format!(
            "{line}: {name} file {}: a symlink, which could point anywhere",
            resolved.display()
        ))),
        Ok(meta) if meta.is_dir() => Err(invalid(BadFile::IsADirectory)),
        _ => Ok((resolved, root)),
    }
}

/// The granted directory `file` lies in for `access`: any readable one
/// (`dir`, `allow-read`, `allow-write`) to read it; to write it, the
/// write grants as the kernel enforces them on children
/// ([`WriteSet`](crate::policy::protected::WriteSet)), and never a
/// protected path.
fn granted_root(policy: &Policy, line: &str, name: Stream, file: &Path, access: Access) -> Result<PathBuf, SpawnError> {
    let caps = policy.plugin();
    let deny = |why: String, fix: Fix| {
        SpawnError::denied_unless(format!("{line}: {name} file {}: {why}", file.display()), fix)
    };
    let parent = file.parent().unwrap_or(file);
    let innermost = |roots: &[&PathBuf]| -> Option<PathBuf> {
        roots
            .iter()
            .filter(|root| file.starts_with(root))
            .max_by_key(|r| r.as_os_str().len())
            .map(|r| (*r).clone())
    };
    if access == Access::Read {
        let roots: Vec<&PathBuf> = policy
            .dirs
            .iter()
            .chain(&caps.read_dirs)
            .chain(&caps.write_dirs)
            .collect();
        return innermost(&roots).ok_or_else(|| {
            deny(
                format!("outside the granted directories ({})", listed(&roots)),
                super::suggest::dir(parent),
            )
        });
    }
    let grants: Vec<&PathBuf> = caps.write_dirs.iter().collect();
    let Some(root) = innermost(&grants) else {
        let readable = policy.dirs.iter().chain(&caps.read_dirs).any(|d| file.starts_with(d));
        let why = match readable {
            true => format!(
                "it lies in a directory granted for reading only, and writing needs one granted for writing (granted for writing: {})",
                listed(&grants)
            ),
            false => format!("outside the directories granted for writing ({})", listed(&grants)),
        };
        return Err(deny(why, super::suggest::write_dir(parent)));
    };
    let set = &policy.write_set;
    let protection =
        protected_target(file, &caps.write_dirs, &policy.state_dirs).or_else(|| set.protection_of(file).cloned());
    if let Some(protection) = protection {
        return Err(deny(
            format!(
                "{} is protected, {}, and stays read-only unless you grant it by name",
                protection.path().display(),
                protection.what()
            ),
            super::suggest::write_dir(protection.path()),
        ));
    }
    if !(set.dirs.iter().any(|d| file.starts_with(d)) || set.files.iter().any(|f| f == file)) {
        return Err(deny(
            format!(
                "{} holds protected paths ({}), so nothing is created, removed or renamed directly in it, by children or redirects; write into a directory below it",
                parent.display(),
                set.protected
                    .iter()
                    .filter(|p| p.path().starts_with(parent))
                    .map(|p| p.path().display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            super::suggest::write_dir(parent),
        ));
    }
    Ok(root)
}

/// Directories for a denial: "none" when there are none.
fn listed<P: AsRef<Path>>(dirs: &[P]) -> String {
    match dirs {
        [] => "none".to_string(),
        dirs => dirs
            .iter()
            .map(|d| d.as_ref().display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn with_granted(dirs: &[PathBuf]) -> String {
    match dirs {
        [] => granted_dirs(dirs),
        _ => format!("granted: {}", granted_dirs(dirs)),
    }
}
