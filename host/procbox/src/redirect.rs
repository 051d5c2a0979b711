//! Where a child's standard streams go: as a plugin asks ([`Redirect`]),
//! and as the gate resolved and allowed it ([`Target`]).

use std::path::PathBuf;

/// The three standard streams of one child.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redirects<T> {
    /// Standard input (fd 0).
    pub stdin: T,
    /// Standard output (fd 1).
    pub stdout: T,
    /// Standard error (fd 2).
    pub stderr: T,
}

/// Where one stream should go, as requested.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Redirect {
    /// A pipe to the plugin.
    Piped,
    /// The null device.
    #[default]
    Null,
    /// procbox's own stream.
    Inherit,
    /// A file, relative to the child's working directory.
    File {
        /// The path as the plugin wrote it.
        path: String,
        /// Append instead of truncating (output streams).
        append: bool,
    },
    /// stderr only: wherever stdout goes.
    Stdout,
    /// stdin only: another child's stdout pipe.
    ChildStdout,
}

/// Where one stream goes, after the gate allowed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A pipe to the plugin.
    Piped,
    /// The null device.
    Null,
    /// procbox's own stream.
    Inherit,
    /// A file: its canonical directory joined with its name (which is not a
    /// symlink, if it exists).
    File {
        /// The resolved path.
        path: PathBuf,
        /// The granted directory it lies in: the spawn opens it beneath
        /// this, never by name from `/`.
        root: PathBuf,
        /// Append instead of truncating (output streams).
        append: bool,
    },
    /// stderr only: wherever stdout goes.
    SameAsStdout,
    /// stdin only: another child's stdout pipe.
    ChildStdout,
}

/// One of a child's three standard streams, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard input (fd 0).
    Stdin,
    /// Standard output (fd 1).
    Stdout,
    /// Standard error (fd 2).
    Stderr,
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Stdin => "stdin",
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}
