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

/// Shell start-up files, by their path below the directory that holds them.
pub const STARTUP_FILES: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zprofile",
    ".zshenv",
    ".zlogin",
    ".envrc",
    ".config/fish/config.fish",
];

/// The name that makes a path part of a repository's metadata.
pub const GIT: &str = ".git";

/// Why a path is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// A repository's `.git`: the directory or file that holds it.
    Git(PathBuf),
    /// A shell start-up file.
    Startup(PathBuf),
    /// A directory of procbox's own state.
    State(PathBuf, &'static str),
}

impl Protection {
    /// The protected path itself (`repo/.git`, `~/.bashrc`, the cache
    /// directory): naming it in a write grant makes it writable.
    pub fn path(&self) -> &Path {
        match self {
            Protection::Git(path) | Protection::Startup(path) | Protection::State(path, _) => path,
        }
    }

    /// What it is, for messages.
    pub fn what(&self) -> String {
        match self {
            Protection::Git(_) => "a repository's .git (its config and hooks run commands later)".into(),
            Protection::Startup(_) => "a shell start-up file (your next shell runs it)".into(),
            Protection::State(_, what) => format!("{what} (a later procbox run trusts it)"),
        }
    }
}

impl std::fmt::Display for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path().display(), self.what())
    }
}

/// procbox's own state directories, as canonical as their existing part
/// allows, with what each holds.
pub fn state_dirs() -> Vec<(PathBuf, &'static str)> {
    [
        (crate::cache::Cache::default_dir(), "procbox's compilation cache"),
        (
            crate::grant_store::GrantStore::default_dir().and_then(|grants| grants.parent().map(Path::to_path_buf)),
            "procbox's configuration and remembered grants",
        ),
    ]
    .into_iter()
    .filter_map(|(place, what)| Some((canonical_prefix(&place?), what)))
    .collect()
}

/// Whether writing `target` (canonical) is refused although it lies in one
/// of `write_dirs` (canonical): `None` when some write grant that holds it
/// holds no protected path between itself and `target`; else the
/// protection that stands in the way. `state` is [`state_dirs`].
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
        if name == GIT {
            return Some(Protection::Git(path));
        }
    }
    STARTUP_FILES
        .iter()
        .find(|file| relative.ends_with(file))
        .map(|_| Protection::Startup(target.to_path_buf()))
}

/// How many directory entries [`protected_in`] looks at below one grant
/// before it gives up.
pub const SCAN_LIMIT: usize = 200_000;

/// The protected paths below `grant` (canonical) that a write grant must
/// keep read-only: every `.git` and start-up file that exists, at any depth
/// (a walk that does not follow symlinks and does not enter what it
/// found); and, whether they exist or not, procbox's state directories
/// (`state`, [`state_dirs`]) and the start-up files of each home directory
/// (`homes`) inside the grant, so that none can be created there either.
///
/// # Errors
/// When `grant` holds more than [`SCAN_LIMIT`] entries: the caller cannot
/// know what it protects, and must refuse rather than guess.
pub fn protected_in(
    grant: &Path,
    state: &[(PathBuf, &'static str)],
    homes: &[PathBuf],
) -> Result<Vec<Protection>, String> {
    let mut found: Vec<Protection> = state
        .iter()
        .filter(|(dir, _)| dir.starts_with(grant) && dir != grant)
        .map(|(dir, what)| Protection::State(dir.clone(), what))
        .collect();
    for home in homes.iter().filter(|h| h.starts_with(grant)) {
        found.extend(STARTUP_FILES.iter().map(|f| Protection::Startup(home.join(f))));
    }
    let mut pending = vec![grant.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = pending.pop() {
        for file in STARTUP_FILES.iter().map(|f| dir.join(f)) {
            if std::fs::symlink_metadata(&file).is_ok() {
                found.push(Protection::Startup(file));
            }
        }
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            seen += 1;
            if seen > SCAN_LIMIT {
                return Err(format!(
                    "{} holds more than {SCAN_LIMIT} files and directories, too many to find the protected paths inside it (.git, shell start-up files); grant narrower directories",
                    grant.display()
                ));
            }
            let path = entry.path();
            if entry.file_name() == GIT {
                found.push(Protection::Git(path));
            } else if found.iter().any(|p| p.path() == path) {
                // A state directory: protected whole, not entered.
            } else if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
            }
        }
    }
    found.sort_by(|a, b| a.path().cmp(b.path()));
    found.dedup();
    Ok(found)
}

/// The write grants as the kernel and the plugin's own file access enforce
/// them: a grant that holds no protected path is written beneath as it is;
/// one that does is **split**: it and each directory on the way to a
/// protected path stay read-only (nothing created, removed or renamed in
/// them, so a protected path cannot be renamed away and planted anew), and
/// every other entry in them is writable (a directory beneath, a file as
/// it is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSet {
    /// Directories written beneath.
    pub dirs: Vec<PathBuf>,
    /// Existing files that may be written, not created or removed.
    pub files: Vec<PathBuf>,
    /// Split directories: readable, not writable themselves.
    pub read_only: Vec<PathBuf>,
    /// The protected paths that stay read-only.
    pub protected: Vec<Protection>,
}

impl WriteSet {
    /// Splits `grants` (canonical directories) around the protected paths
    /// in them ([`protected_in`], with `state` and `homes`).
    ///
    /// # Errors
    /// [`protected_in`]'s: a grant too large to search.
    pub fn of(grants: &[PathBuf], state: &[(PathBuf, &'static str)], homes: &[PathBuf]) -> Result<WriteSet, String> {
        let mut set = WriteSet::default();
        for grant in grants {
            let protected: Vec<Protection> = protected_in(grant, state, homes)?
                .into_iter()
                .filter(|p| protected_target(p.path(), grants, state).is_some())
                .collect();
            if protected.is_empty() {
                set.dirs.push(grant.clone());
                continue;
            }
            let paths: Vec<&Path> = protected.iter().map(Protection::path).collect();
            set.split(grant, &paths);
            set.protected.extend(protected);
        }
        for list in [&mut set.dirs, &mut set.files, &mut set.read_only] {
            list.sort();
            list.dedup();
        }
        set.protected.sort_by(|a, b| a.path().cmp(b.path()));
        set.protected.dedup();
        Ok(set)
    }

    /// `dir` read-only, its entries writable except the `protected` paths
    /// and the directories on the way to them, which are split in turn.
    fn split(&mut self, dir: &Path, protected: &[&Path]) {
        self.read_only.push(dir.to_path_buf());
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if protected.contains(&path.as_path()) {
                continue;
            }
            if protected.iter().any(|p| p.starts_with(&path)) {
                self.split(&path, protected);
            } else if kind.is_dir() {
                self.dirs.push(path);
            } else if kind.is_file() {
                self.files.push(path);
            }
            // Symlinks, FIFOs, sockets and devices stay read-only: writing
            // through a symlink needs a grant of its target anyway.
        }
    }
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
mod tests {
    use super::*;

    fn p(path: &str) -> PathBuf {
        PathBuf::from(path)
    }

    #[test]
    fn a_write_target_is_protected_by_the_first_protected_path_below_its_grant() {
        let state = vec![(p("/home/u/.cache/procbox"), "cache")];
        let home = [p("/home/u")];
        let repo = [p("/home/u/repo")];
        let cases: &[(&str, &[PathBuf], Option<&str>)] = &[
            // An ordinary file in a granted directory.
            ("/home/u/repo/out.txt", &repo, None),
            // The repository's config, its hooks, anything in .git.
            ("/home/u/repo/.git/config", &repo, Some("/home/u/repo/.git")),
            ("/home/u/repo/.git/hooks/pre-commit", &repo, Some("/home/u/repo/.git")),
            ("/home/u/repo/.git/objects/ab/cd", &repo, Some("/home/u/repo/.git")),
            // A nested repository, a worktree's or a submodule's .git file.
            (
                "/home/u/repo/vendor/lib/.git/config",
                &repo,
                Some("/home/u/repo/vendor/lib/.git"),
            ),
            ("/home/u/repo/wt/.git", &repo, Some("/home/u/repo/wt/.git")),
            // Shell start-up files, at any depth.
            ("/home/u/.bashrc", &home, Some("/home/u/.bashrc")),
            ("/home/u/repo/.envrc", &repo, Some("/home/u/repo/.envrc")),
            (
                "/home/u/.config/fish/config.fish",
                &home,
                Some("/home/u/.config/fish/config.fish"),
            ),
            // procbox's own state inside the grant.
            ("/home/u/.cache/procbox/x.cwasm", &home, Some("/home/u/.cache/procbox")),
        ];
        for (target, grants, expected) in cases {
            let found = protected_target(Path::new(target), grants, &state);
            assert_eq!(
                found.as_ref().map(|f| f.path().to_path_buf()),
                expected.map(PathBuf::from),
                "{target} under {grants:?}"
            );
        }
    }

    #[test]
    fn naming_the_protected_path_itself_makes_it_writable() {
        let state = vec![(p("/home/u/.cache/procbox"), "cache")];
        // The user granted .git itself, or a directory inside it.
        let named = [p("/home/u/repo"), p("/home/u/repo/.git")];
        assert_eq!(
            protected_target(Path::new("/home/u/repo/.git/config"), &named, &state),
            None
        );
        let hooks = [p("/home/u/repo/.git/hooks")];
        assert_eq!(
            protected_target(Path::new("/home/u/repo/.git/hooks/x"), &hooks, &state),
            None
        );
        // The cache directory granted as it is.
        let cache = [p("/home/u/.cache/procbox")];
        assert_eq!(
            protected_target(Path::new("/home/u/.cache/procbox/x"), &cache, &state),
            None
        );
        // A grant of a sibling does not help.
        let sibling = [p("/home/u/repo"), p("/home/u/repo/src")];
        assert!(protected_target(Path::new("/home/u/repo/.git/config"), &sibling, &state).is_some());
    }

    #[test]
    fn a_grant_holding_protected_paths_is_split_around_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for d in [".git/hooks", "src", "vendor/lib/.git", "vendor/other"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("README"), "").unwrap();
        let plain = tempfile::tempdir().unwrap();
        let plain = plain.path().canonicalize().unwrap();
        let set = WriteSet::of(&[root.clone(), plain.clone()], &[], &[]).unwrap();
        let rel = |paths: &[PathBuf]| -> Vec<PathBuf> {
            let mut rel: Vec<PathBuf> = paths
                .iter()
                .map(|p| {
                    p.strip_prefix(&root)
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|_| p.clone())
                })
                .collect();
            rel.sort();
            rel
        };
        let mut dirs = vec![plain.clone(), p("src"), p("vendor/other")];
        dirs.sort();
        assert_eq!(rel(&set.dirs), dirs);
        assert_eq!(rel(&set.files), [p("README")]);
        assert_eq!(rel(&set.read_only), [p(""), p("vendor"), p("vendor/lib")]);
        let protected: Vec<PathBuf> = set.protected.iter().map(|p| p.path().to_path_buf()).collect();
        assert_eq!(rel(&protected), [p(".git"), p("vendor/lib/.git")]);
        // Granting .git by name makes it writable, and only it.
        let named = WriteSet::of(&[root.clone(), root.join(".git")], &[], &[]).unwrap();
        assert!(named.dirs.contains(&root.join(".git")), "{named:?}");
        assert!(named.read_only.contains(&root.join("vendor/lib")), "{named:?}");
    }

    #[test]
    fn a_home_and_the_state_directories_are_protected_before_they_exist() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().canonicalize().unwrap();
        let home = top.join("home/u");
        std::fs::create_dir_all(home.join(".config/other")).unwrap();
        std::fs::create_dir_all(home.join("work")).unwrap();
        std::fs::write(home.join(".bashrc"), "").unwrap();
        let state = vec![(home.join(".config/procbox"), "procbox's configuration")];
        let set = WriteSet::of(std::slice::from_ref(&top), &state, std::slice::from_ref(&home)).unwrap();
        // Nothing is created directly in the home (no .bash_profile planted
        // before .profile), nor in .config (no procbox state planted); the
        // rest is written as granted.
        for read_only in [&top, &top.join("home"), &home, &home.join(".config")] {
            assert!(set.read_only.contains(read_only), "{} in {set:?}", read_only.display());
        }
        assert!(set.dirs.contains(&home.join("work")) && set.dirs.contains(&home.join(".config/other")));
        for target in [
            ".bash_profile",
            ".config/procbox/grants/x.toml",
            ".config/fish/config.fish",
        ] {
            let target = home.join(target);
            let writable = set.dirs.iter().any(|d| target.starts_with(d)) || set.files.contains(&target);
            assert!(!writable, "{} is writable: {set:?}", target.display());
        }
    }

    #[test]
    fn existing_protected_paths_are_found_at_any_depth_without_following_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join(".git/hooks")).unwrap();
        std::fs::create_dir_all(root.join("a/b/nested/.git")).unwrap();
        std::fs::create_dir_all(root.join("wt")).unwrap();
        std::fs::write(root.join("wt/.git"), "gitdir: /elsewhere\n").unwrap();
        std::fs::write(root.join("a/.envrc"), "").unwrap();
        std::fs::write(root.join("plain"), "").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outside.path().join(".git")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();
        let found: Vec<PathBuf> = protected_in(&root, &[], &[])
            .unwrap()
            .iter()
            .map(|p| p.path().strip_prefix(&root).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            found,
            [p(".git"), p("a/.envrc"), p("a/b/nested/.git"), p("wt/.git")],
            "the symlinked directory must not be entered"
        );
    }
}
