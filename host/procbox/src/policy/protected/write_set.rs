//! [`WriteSet`]: the write grants split around the protected paths, as the
//! kernel and the plugin's own file access enforce them.

use super::*;

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
    pub fn of(grants: &[PathBuf], state: &[(PathBuf, &'static str)], homes: &[PathBuf]) -> Result<WriteSet, TooLarge> {
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
