//! Protected paths: what stays read-only inside a directory the plugin and
//! its children may write, because something outside procbox runs or trusts
//! it later:
//! - every `.git` (a directory, or a worktree's or submodule's `.git` file),
//!   at any depth: its `config` and hooks run commands at the user's next
//!   `git status`, and a `.git` file can point git at another directory;
//! - shell start-up files ([`STARTUP_FILES`]), which the user's next shell
//!   or `direnv` runs;
//! - procbox's own state ([`state_dirs`]): the compilation cache holds
//!   machine code a later run executes, the grant store grants a later run.
//!
//! A protected path becomes writable only when the user names it: a write
//! grant that *is* the protected path or lies inside it (`--allow-write
//! repo/.git`). A grant of a directory that merely contains it never does.
//!
//! The rule is one function, [`protected_target`], which the gate applies
//! to redirects (any depth, by path components); [`protected_in`] lists
//! the protected paths below a grant, and [`WriteSet`] splits the write
//! grants around them, for the kernel and for the plugin's own files.

use std::path::{Component, Path, PathBuf};

mod scan;
mod write_set;

use scan::hard_links;
pub use scan::{protected_in, TooLarge, SCAN_LIMIT};
pub use write_set::WriteSet;

/// Files and directories that a shell, git or ssh reads later, by their
/// path below the directory that holds them (a home, or any directory for
/// `.envrc`): shell start-up files, git's and ssh's configuration. A
/// directory here is protected whole.
pub const STARTUP_FILES: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".bash_aliases",
    ".bashrc.d",
    ".profile",
    ".zshrc",
    ".zprofile",
    ".zshenv",
    ".zlogin",
    ".zlogout",
    ".envrc",
    ".config/fish",
    ".gitconfig",
    ".config/git",
    ".ssh",
    ".config/systemd",
    ".config/autostart",
];

/// The name that makes a path part of a repository's metadata.
pub const GIT: &str = ".git";

/// Why a path is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// A repository's metadata: a `.git` directory or file, a bare
    /// repository, or what a `.git` file's `gitdir:` names.
    Git(PathBuf),
    /// A start-up file (or directory) of a shell, git or ssh.
    Startup(PathBuf),
    /// A directory of procbox's own state.
    State(PathBuf, &'static str),
    /// A directory procbox cannot list, so it cannot know what is inside:
    /// kept read-only whole (fail closed).
    Unlisted(PathBuf),
}

impl Protection {
    /// The protected path itself (`repo/.git`, `~/.bashrc`, the cache
    /// directory): naming it in a write grant makes it writable.
    pub fn path(&self) -> &Path {
        match self {
            Protection::Git(path)
            | Protection::Startup(path)
            | Protection::State(path, _)
            | Protection::Unlisted(path) => path,
        }
    }

    /// What it is, for messages.
    pub fn what(&self) -> String {
        match self {
            Protection::Git(_) => "a repository's metadata (its config and hooks run commands later)".into(),
            Protection::Startup(_) => "a start-up file that a shell, git or ssh reads later".into(),
            Protection::State(_, what) => format!("{what} (a later procbox run trusts it)"),
            Protection::Unlisted(_) => "a directory procbox cannot list, so it cannot know what it holds".into(),
        }
    }

    /// The same protection for another path (a symlink's target, another
    /// hard link).
    fn at(&self, path: PathBuf) -> Protection {
        match self {
            Protection::Git(_) => Protection::Git(path),
            Protection::Startup(_) => Protection::Startup(path),
            Protection::State(_, what) => Protection::State(path, what),
            Protection::Unlisted(_) => Protection::Unlisted(path),
        }
    }
}

impl std::fmt::Display for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path().display(), self.what())
    }
}

/// procbox's own state directories, with what each holds: every place a
/// run could use, not only this run's (a run with `PROCBOX_CONFIG_DIR` set
/// must not write what a later run without it trusts): the variables,
/// XDG's, `$HOME`'s and the account home's defaults; each as given (made
/// absolute, so a relative `PROCBOX_CONFIG_DIR` is still found) and as
/// canonical as its existing part allows, since a symlink on the way could
/// be replaced and its target written.
pub fn state_dirs() -> Vec<(PathBuf, &'static str)> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut homes: Vec<PathBuf> = var("HOME").into_iter().collect();
    homes.extend(super::home::account_home());
    let mut places: Vec<(PathBuf, &'static str)> = Vec::new();
    let config = "procbox's configuration and remembered grants";
    let cache = "procbox's compilation cache";
    places.extend(var("PROCBOX_CONFIG_DIR").map(|d| (d, config)));
    places.extend(var("XDG_CONFIG_HOME").map(|d| (d.join("procbox"), config)));
    places.extend(var("PROCBOX_CACHE_DIR").map(|d| (d, cache)));
    places.extend(var("XDG_CACHE_HOME").map(|d| (d.join("procbox"), cache)));
    for home in &homes {
        places.push((home.join(".config/procbox"), config));
        places.push((home.join(".cache/procbox"), cache));
    }
    let mut dirs = Vec::new();
    for (place, what) in places {
        let Ok(place) = std::path::absolute(place) else {
            continue;
        };
        for path in [canonical_prefix(&place), place] {
            if !dirs.iter().any(|(d, _)| d == &path) {
                dirs.push((path, what));
            }
        }
    }
    dirs
}

/// Whether a write grant given as `given` (absolute) and resolved to
/// `canonical` reaches a protected path through a symlink: then the user
/// did not name it, and must, as it resolves (a plugin may have planted the
/// symlink in an earlier run: `src/out -> ../.git`).
pub fn reached_through_symlink(
    given: &Path,
    canonical: &Path,
    state: &[(PathBuf, &'static str)],
) -> Option<Protection> {
    if given == canonical {
        return None;
    }
    protection_below(Path::new("/"), canonical, state)
}

/// Whether writing `target` (canonical) is refused although it lies in one
/// of `write_dirs` (canonical): `None` when some write grant that holds it
/// holds no protected path between itself and `target`; else the
/// protection that stands in the way. `state` is [`state_dirs`]. This
/// judges by names and contents now, so it also covers what was created
/// since the run started; [`WriteSet::protected`] adds what was found then
/// by other names (symlink targets, hard links).
pub fn protected_target(
    target: &Path,
    write_dirs: &[PathBuf],
    state: &[(PathBuf, &'static str)],
) -> Option<Protection> {
    let mut found = None;
    for grant in write_dirs.iter().filter(|g| target.starts_with(g)) {
        match protection_below(grant, target, state) {
            None => return None,
            Some(protection) => found = found.or(Some(protection)),
        }
    }
    found
}

/// The first protected path on the way from `grant` down to `target`
/// (inclusive), if any.
fn protection_below(grant: &Path, target: &Path, state: &[(PathBuf, &'static str)]) -> Option<Protection> {
    if let Some((dir, what)) = state
        .iter()
        .find(|(dir, _)| dir.starts_with(grant) && dir != grant && target.starts_with(dir))
    {
        return Some(Protection::State(dir.clone(), what));
    }
    let relative = target.strip_prefix(grant).ok()?;
    let mut path = grant.to_path_buf();
    for component in relative.components() {
        let Component::Normal(name) = component else { continue };
        path.push(name);
        if let Some(protection) = protection_of(&path, name == GIT) {
            return Some(protection);
        }
    }
    None
}

/// Whether `path` itself is protected by its name (`named_git`: its name
/// is `.git`) or, for a directory, by its contents (a bare repository).
fn protection_of(path: &Path, named_git: bool) -> Option<Protection> {
    if named_git || is_git_dir(path) {
        return Some(Protection::Git(path.to_path_buf()));
    }
    STARTUP_FILES
        .iter()
        .any(|file| path.ends_with(file))
        .then(|| Protection::Startup(path.to_path_buf()))
}

/// Whether `dir` is a repository's metadata whatever its name: git's own
/// test (`HEAD`, `objects/`, `refs/`), so bare repositories count.
fn is_git_dir(dir: &Path) -> bool {
    dir.join("HEAD").is_file() && dir.join("objects").is_dir() && dir.join("refs").is_dir()
}

/// The directory a worktree's or submodule's `.git` file points to
/// (`gitdir: PATH`, relative to the file's directory), if it says so.
fn gitdir_of(file: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = String::new();
    std::fs::File::open(file)
        .ok()?
        .take(4096)
        .read_to_string(&mut head)
        .ok()?;
    let target = head.lines().next()?.strip_prefix("gitdir:")?.trim();
    file.parent()?.join(target).canonicalize().ok()
}
/// `path` with its longest existing ancestor canonicalised.
pub(crate) fn canonical_prefix(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return rest.iter().rev().fold(canonical, |p, part| p.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests;
