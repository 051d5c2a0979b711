//! Turning a program name into the one file that would run.
//!
//! Both the policy (when it is built) and every spawn request resolve
//! programs here, so a grant and a request for the same binary always meet
//! at the same canonical path. Rules:
//! - a bare name (no `/`) is looked up in the *host's* search path, captured
//!   when the policy was built; the plugin's environment never takes part;
//! - a name with a `/` is a path, relative to the child's working directory;
//! - the result is canonical: symlinks are resolved, so a link is judged by
//!   the binary it points to;
//! - it must be a regular file with an execute bit.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why a program name does not resolve. A spawn request's error carries it
/// as `SpawnError::NotFound` or `SpawnError::InvalidInput` (the gate's), a
/// grant's as `PolicyError::Unresolved` (the policy's); the
/// messages are the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// An empty name, or one with a NUL byte.
    #[error("invalid input: {0}")]
    Malformed(Malformed),
    /// No executable regular file answers to the name.
    #[error("not found: {program}: {looked}")]
    NotFound {
        /// The name as written.
        program: String,
        /// Where an executable file was looked for.
        looked: Looked,
    },
}

/// A program name that cannot name a program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// The name is empty.
    #[error("the program name is empty")]
    Empty,
    /// The name has a NUL byte, which would cut the path short in `exec`.
    #[error("the program name {0:?} contains a NUL byte")]
    Nul(String),
}

/// Where an executable file was looked for, and none was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Looked {
    /// A name with a `/`: at this path (joined to the working directory).
    #[error("no executable file at {}", .0.display())]
    At(PathBuf),
    /// A bare name: in each of these directories, the host's search path.
    #[error("no such program on the host's PATH ({})", path_list(.0))]
    OnPath(Vec<PathBuf>),
}

/// `dirs` as `PATH` writes them.
fn path_list(dirs: &[PathBuf]) -> String {
    let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    dirs.join(":")
}

/// The directories searched for bare program names, in order.
///
/// Only absolute directories count: an empty or relative `PATH` entry
/// (such as `.`) would make the answer depend on the working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPath {
    dirs: Vec<PathBuf>,
}

impl SearchPath {
    /// The search path of this process (`PATH`), or the conventional
    /// `/usr/local/bin:/usr/bin:/bin` when `PATH` is unset.
    pub fn from_env() -> Self {
        match std::env::var_os("PATH") {
            Some(path) => Self::parse(&path),
            None => Self::parse(OsStr::new("/usr/local/bin:/usr/bin:/bin")),
        }
    }

    /// Parses a `PATH`-style list, keeping only absolute directories.
    pub fn parse(path: &OsStr) -> Self {
        let dirs = std::env::split_paths(path).filter(|dir| dir.is_absolute()).collect();
        SearchPath { dirs }
    }

    /// The directories, in search order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
}

/// Resolves `program` to the canonical path of the file that would run.
///
/// # Errors
/// [`ResolveError::Malformed`] for an empty name or one with a NUL byte;
/// [`ResolveError::NotFound`] when no executable file matches.
pub fn resolve_program(program: &str, cwd: &Path, search: &SearchPath) -> Result<PathBuf, ResolveError> {
    if program.is_empty() {
        return Err(ResolveError::Malformed(Malformed::Empty));
    }
    if program.contains('\0') {
        return Err(ResolveError::Malformed(Malformed::Nul(program.to_string())));
    }
    let missing = |looked| ResolveError::NotFound {
        program: program.to_string(),
        looked,
    };
    if program.contains('/') {
        let candidate = cwd.join(program);
        return canonical_executable(&candidate).ok_or_else(|| missing(Looked::At(candidate)));
    }
    search
        .dirs
        .iter()
        .find_map(|dir| canonical_executable(&dir.join(program)))
        .ok_or_else(|| missing(Looked::OnPath(search.dirs.clone())))
}

/// The canonical path of `path` if it is an executable regular file.
fn canonical_executable(path: &Path) -> Option<PathBuf> {
    let canonical = path.canonicalize().ok()?;
    let meta = canonical.metadata().ok()?;
    (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system() -> SearchPath {
        SearchPath::parse(OsStr::new("/usr/bin:/bin"))
    }

    #[test]
    fn bare_names_resolve_through_the_search_path_to_canonical_files() {
        let sh = resolve_program("sh", Path::new("/"), &system()).unwrap();
        assert!(sh.is_absolute());
        assert_eq!(sh, sh.canonicalize().unwrap(), "symlinks are resolved");
    }

    #[test]
    fn relative_search_path_entries_are_ignored() {
        let search = SearchPath::parse(OsStr::new(".:bin::/usr/bin"));
        assert_eq!(search.dirs(), &[PathBuf::from("/usr/bin")]);
    }

    #[test]
    fn a_path_is_taken_relative_to_the_working_directory() {
        let cat = resolve_program("./cat", Path::new("/usr/bin"), &SearchPath::parse(OsStr::new("")));
        assert_eq!(cat.unwrap(), Path::new("/usr/bin/cat").canonicalize().unwrap());
    }

    #[test]
    fn missing_and_malformed_programs_are_distinct_errors() {
        let cases = [
            // a name found nowhere on the search path
            ("no-such-program-procbox", "not found"),
            // a path to nothing
            ("/no/such/file", "not found"),
            // a directory is not a program
            ("/usr", "not found"),
            // a file without an execute bit
            ("/etc/passwd", "not found"),
            // nothing at all
            ("", "invalid input"),
            // a NUL byte would truncate the path in exec
            ("ca\0t", "invalid input"),
        ];
        for (program, kind) in cases {
            let err = resolve_program(program, Path::new("/"), &system()).unwrap_err();
            assert!(err.to_string().starts_with(kind), "{program:?}: {err}");
        }
    }
}
