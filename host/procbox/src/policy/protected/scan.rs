//! [`protected_in`]: the walk below a write grant that finds its protected
//! paths (with their other names: symlink targets, `.git` files' targets and
//! hard links), within [`SCAN_LIMIT`] entries.

use super::*;

/// A write grant too large to search for the protected paths inside it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} holds more than {SCAN_LIMIT} files and directories, too many to find the protected paths inside it \
     (.git, shell start-up files); grant narrower directories",
    .grant.display()
)]
pub struct TooLarge {
    /// The grant.
    pub grant: PathBuf,
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
) -> Result<Vec<Protection>, TooLarge> {
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
pub(super) fn hard_links(grant: &Path, found: &[Protection]) -> Result<Vec<Protection>, TooLarge> {
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
    fn count(&mut self, grant: &Path) -> Result<(), TooLarge> {
        self.seen += 1;
        if self.seen > SCAN_LIMIT {
            return Err(TooLarge {
                grant: grant.to_path_buf(),
            });
        }
        Ok(())
    }
}
