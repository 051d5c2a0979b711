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

/// How many directory entries [`protected_in`] looks at below one grant
/// before it gives up.
pub const SCAN_LIMIT: usize = 200_000;

/// The protected paths below `grant` (canonical) that a write grant must
/// keep read-only: every repository's metadata and start-up file that
/// exists, at any depth (a walk that does not follow symlinks and does not
/// enter what it found), with the targets of those that are symlinks or
/// `.git` files ([`WriteSet::of`] adds other hard links); directories
/// it cannot list; and, whether they exist or not, procbox's state
/// directories (`state`, [`state_dirs`]) and the start-up files of each
/// home directory (`homes`) inside the grant, so that none can be created
/// there either.
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
    for home in homes {
        for file in STARTUP_FILES.iter().map(|f| home.join(f)) {
            // A dotfile manager's symlink: its target is what runs.
            let target = std::fs::symlink_metadata(&file)
                .is_ok_and(|m| m.file_type().is_symlink())
                .then(|| file.canonicalize().ok())
                .flatten();
            found.extend(target.filter(|t| t.starts_with(grant)).map(Protection::Startup));
            if home.starts_with(grant) {
                found.push(Protection::Startup(file));
            }
        }
    }
    let mut walk = Walk::new(grant);
    while let Some(dir) = walk.next_dir() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(_) => {
                found.push(Protection::Unlisted(dir));
                continue;
            }
        };
        for entry in entries {
            let Ok(entry) = entry else {
                found.push(Protection::Unlisted(dir.clone()));
                break;
            };
            walk.count(grant)?;
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                found.push(Protection::Unlisted(path));
                continue;
            };
            if let Some(protection) = protection_of(&path, entry.file_name() == GIT) {
                found.extend(other_names(&protection, kind));
                found.push(protection);
            } else if found.iter().any(|p| p.path() == path) {
                // A state directory: protected whole, not entered.
            } else if kind.is_dir() {
                walk.push(path);
            }
        }
    }
    found.sort_by(|a, b| a.path().cmp(b.path()));
    found.dedup();
    Ok(found)
}

/// A protected path's other names that a write could reach: a symlink's
/// target, a `.git` file's `gitdir:`.
fn other_names(protection: &Protection, kind: std::fs::FileType) -> Vec<Protection> {
    let path = protection.path();
    let mut names = Vec::new();
    if kind.is_symlink() {
        names.extend(path.canonicalize().ok().map(|target| protection.at(target)));
    }
    if kind.is_file() && path.file_name().is_some_and(|n| n == GIT) {
        names.extend(gitdir_of(path).map(Protection::Git));
    }
    names
}

/// Other names, below `grant`, of the protected regular files in `found`
/// that have more than one hard link: writing any name writes the file.
fn hard_links(grant: &Path, found: &[Protection]) -> Result<Vec<Protection>, String> {
    use std::os::unix::fs::MetadataExt;
    let linked: Vec<((u64, u64), Protection)> = found
        .iter()
        .flat_map(|p| files_of(p.path()).into_iter().map(move |file| p.at(file)))
        .filter_map(|p| {
            let meta = std::fs::symlink_metadata(p.path()).ok()?;
            (meta.is_file() && meta.nlink() > 1).then_some(((meta.dev(), meta.ino()), p))
        })
        .collect();
    if linked.is_empty() {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    let mut walk = Walk::new(grant);
    while let Some(dir) = walk.next_dir() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            walk.count(grant)?;
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                walk.push(entry.path());
            } else if let Some((_, protection)) = linked
                .iter()
                .find(|(id, p)| *id == (meta.dev(), meta.ino()) && p.path() != entry.path())
            {
                names.push(protection.at(entry.path()));
            }
        }
    }
    Ok(names)
}

/// How many files of one protected directory [`files_of`] looks at.
const FILES_OF_LIMIT: usize = 4096;

/// The files that make up a protected path: itself if it is a file; for a
/// directory, the files in it and in its subdirectories, except a
/// repository's `objects/` (content-addressed: git checks what it reads,
/// and `git clone --local` hard-links them by design), at most
/// [`FILES_OF_LIMIT`].
fn files_of(path: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&current) else {
            continue;
        };
        if meta.is_file() {
            files.push(current);
        } else if meta.is_dir() && current.file_name().is_none_or(|n| n != "objects") {
            let Ok(entries) = std::fs::read_dir(&current) else {
                continue;
            };
            pending.extend(entries.flatten().map(|e| e.path()));
        }
        if files.len() + pending.len() > FILES_OF_LIMIT {
            break;
        }
    }
    files
}

/// A bounded walk of the directories below a grant.
struct Walk {
    pending: Vec<PathBuf>,
    seen: usize,
}

impl Walk {
    fn new(grant: &Path) -> Walk {
        Walk {
            pending: vec![grant.to_path_buf()],
            seen: 0,
        }
    }

    fn next_dir(&mut self) -> Option<PathBuf> {
        self.pending.pop()
    }

    fn push(&mut self, dir: PathBuf) {
        self.pending.push(dir);
    }

    /// Counts one entry; past [`SCAN_LIMIT`], the error for `grant`.
    fn count(&mut self, grant: &Path) -> Result<(), String> {
        self.seen += 1;
        if self.seen > SCAN_LIMIT {
            return Err(format!(
                "{} holds more than {SCAN_LIMIT} files and directories, too many to find the protected paths inside it (.git, shell start-up files); grant narrower directories",
                grant.display()
            ));
        }
        Ok(())
    }
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
    /// The protection found when the run started that covers `path`, if
    /// any: by any of its names (a symlink's target, another hard link).
    pub fn protection_of(&self, path: &Path) -> Option<&Protection> {
        self.protected.iter().find(|p| path.starts_with(p.path()))
    }

    /// Splits `grants` (canonical directories) around the protected paths
    /// in them ([`protected_in`], with `state` and `homes`).
    ///
    /// # Errors
    /// [`protected_in`]'s: a grant too large to search.
    pub fn of(grants: &[PathBuf], state: &[(PathBuf, &'static str)], homes: &[PathBuf]) -> Result<WriteSet, String> {
        let mut found = Vec::new();
        for grant in grants {
            found.extend(protected_in(grant, state, homes)?);
        }
        // Other names of a protected file, in any write grant: of what was
        // found in any grant, and of the homes' start-up files wherever
        // they are (`~/.bashrc` hard-linked into a granted `~/dotfiles`).
        let mut named = found.clone();
        for home in homes {
            named.extend(STARTUP_FILES.iter().map(|f| Protection::Startup(home.join(f))));
        }
        for grant in grants {
            found.extend(hard_links(grant, &named)?);
        }
        // A protection the user named (a grant that is it, or lies in it)
        // is theirs to give.
        found.retain(|p| !grants.iter().any(|g| g.starts_with(p.path())));
        found.sort_by(|a, b| a.path().cmp(b.path()));
        found.dedup();
        let mut set = WriteSet::default();
        for grant in grants {
            let inside: Vec<&Path> = found
                .iter()
                .map(Protection::path)
                .filter(|p| p.starts_with(grant))
                .collect();
            match inside.is_empty() {
                true => set.dirs.push(grant.clone()),
                false => set.split(grant, &inside),
            }
        }
        set.protected = found;
        for list in [&mut set.dirs, &mut set.files, &mut set.read_only] {
            list.sort();
            list.dedup();
        }
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
            ("/home/u/.config/fish/config.fish", &home, Some("/home/u/.config/fish")),
            // ssh's keys, git's configuration, bare repositories' names.
            ("/home/u/.ssh/authorized_keys", &home, Some("/home/u/.ssh")),
            ("/home/u/.gitconfig", &home, Some("/home/u/.gitconfig")),
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
