//! What the person running a plugin granted: plain data, frozen by
//! [`PolicyBuilder::build`]. Deciding a request against it is the gate's job
//! ([`crate::gate`]).

use std::path::{Path, PathBuf};

use crate::resolve::{resolve_program, SearchPath};

/// A program the policy allows, as written and as resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramGrant {
    /// The program as the user wrote it, e.g. `git`.
    pub written: String,
    /// The canonical file it resolved to when the policy was built.
    pub path: PathBuf,
}

/// Size limits on one spawn request. The defaults stay below the kernel's
/// own limits, so an oversized request is a clear error rather than `E2BIG`
/// from `exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// The most bytes one argument or `NAME=value` pair may have.
    pub max_string_bytes: usize,
    /// The most bytes all arguments and variables may have together.
    pub max_total_bytes: usize,
    /// The most arguments plus variables.
    pub max_items: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            // Linux refuses any single string over MAX_ARG_STRLEN (128 KiB).
            max_string_bytes: 128 * 1024,
            // ARG_MAX is usually 2 MiB including the stack's own needs.
            max_total_bytes: 1024 * 1024,
            max_items: 32 * 1024,
        }
    }
}

/// A frozen policy. Build one with [`PolicyBuilder`].
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) programs: Vec<ProgramGrant>,
    pub(crate) dirs: Vec<PathBuf>,
    pub(crate) start_dir: PathBuf,
    pub(crate) search_path: SearchPath,
    pub(crate) request_limits: RequestLimits,
}

impl Policy {
    /// The programs this policy allows.
    pub fn programs(&self) -> &[ProgramGrant] {
        &self.programs
    }

    /// The directories a child may run in (canonical).
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The default working directory of a child (canonical).
    pub fn start_dir(&self) -> &Path {
        &self.start_dir
    }
}

/// A policy that was written wrongly: the message names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A granted program cannot be resolved.
    #[error("--allow-run {written}: {reason}")]
    Program { written: String, reason: String },
    /// A granted directory cannot be used.
    #[error("directory {path}: {reason}")]
    Dir { path: PathBuf, reason: String },
}

/// Collects grants and freezes them into a [`Policy`].
///
/// Defaults, all of them deny-by-default:
/// - **programs:** none. Nothing can be spawned until [`allow_run`](Self::allow_run).
/// - **working directory:** the directory procbox was started in
///   ([`start_dir`](Self::start_dir) changes it); a child may run in it and
///   below it, nowhere else unless [`allow_dir`](Self::allow_dir) adds a root.
/// - **search path:** this process's `PATH` at build time, absolute entries
///   only ([`search_path`](Self::search_path) replaces it).
/// - **request size:** [`RequestLimits::default`].
#[derive(Debug, Clone, Default)]
pub struct PolicyBuilder {
    run: Vec<String>,
    dirs: Vec<PathBuf>,
    start_dir: Option<PathBuf>,
    search_path: Option<SearchPath>,
    request_limits: RequestLimits,
}

impl PolicyBuilder {
    /// A builder that grants nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows `program` with any arguments. A bare name is resolved through
    /// the search path when the policy is built; the grant is the file it
    /// resolves to, after symlinks.
    pub fn allow_run(mut self, program: impl Into<String>) -> Self {
        self.run.push(program.into());
        self
    }

    /// Adds a directory (and everything below it) where children may run.
    pub fn allow_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dirs.push(dir.into());
        self
    }

    /// Sets the default working directory of children (default: the
    /// current directory). It is always a granted directory.
    pub fn start_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.start_dir = Some(dir.into());
        self
    }

    /// Replaces the directories searched for bare program names.
    pub fn search_path(mut self, search: SearchPath) -> Self {
        self.search_path = Some(search);
        self
    }

    /// Replaces the size limits on one request.
    pub fn request_limits(mut self, limits: RequestLimits) -> Self {
        self.request_limits = limits;
        self
    }

    /// Resolves every grant and freezes the policy.
    ///
    /// # Errors
    /// [`PolicyError`] when a granted program or directory does not exist.
    pub fn build(self) -> Result<Policy, PolicyError> {
        let search_path = self.search_path.unwrap_or_else(SearchPath::from_env);
        let start_dir = match self.start_dir {
            Some(dir) => dir,
            None => std::env::current_dir().map_err(|e| PolicyError::Dir {
                path: PathBuf::from("."),
                reason: e.to_string(),
            })?,
        };
        let start_dir = canonical_dir(&start_dir)?;
        let mut dirs = vec![start_dir.clone()];
        for dir in &self.dirs {
            dirs.push(canonical_dir(dir)?);
        }
        let programs = self
            .run
            .into_iter()
            .map(|written| {
                let path = resolve_program(&written, &start_dir, &search_path).map_err(|e| PolicyError::Program {
                    written: written.clone(),
                    reason: e.to_string(),
                })?;
                Ok(ProgramGrant { written, path })
            })
            .collect::<Result<_, PolicyError>>()?;
        Ok(Policy {
            programs,
            dirs,
            start_dir,
            search_path,
            request_limits: self.request_limits,
        })
    }
}

fn canonical_dir(dir: &Path) -> Result<PathBuf, PolicyError> {
    let error = |reason: String| PolicyError::Dir {
        path: dir.to_path_buf(),
        reason,
    };
    let canonical = dir.canonicalize().map_err(|e| error(e.to_string()))?;
    if !canonical.is_dir() {
        return Err(error("not a directory".into()));
    }
    Ok(canonical)
}
