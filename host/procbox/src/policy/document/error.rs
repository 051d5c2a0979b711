//! Why a grants file, a manifest or one of their values cannot be read.

use std::path::{Path, PathBuf};

use crate::policy::Source;

/// A grants file or manifest that cannot be read or parsed. Each message
/// starts with the file (and line, where known).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The file cannot be read.
    #[error("{}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It is not TOML, or not of the document's shape (an unknown key, a
    /// value of the wrong type).
    #[error("{}: {message}{}", at(.path, *.line), renamed_hint(.message))]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The line, from 1, where the TOML parser knows it.
        line: Option<usize>,
        /// The TOML parser's message.
        message: String,
    },
    /// A `path` key outside a worker's `worker.toml`.
    #[error("{}:{line}: `path` names a plugin only in a worker's worker.toml", .path.display())]
    MisplacedPath {
        /// The file.
        path: PathBuf,
        /// The key's line.
        line: usize,
    },
    /// A `[remembered]` table outside the grant store.
    #[error("{}: [remembered] belongs only in procbox's grant store (see `procbox grants`)", .path.display())]
    MisplacedRemembered {
        /// The file.
        path: PathBuf,
    },
    /// A `[[run]]` table's `sha256` that is not a digest.
    #[error("{at}: sha256 {hex:?} is not 64 hexadecimal digits")]
    Sha256 {
        /// The table.
        at: Source,
        /// The value as written.
        hex: String,
    },
    /// A top-level key whose value does not parse.
    #[error("{}: {key}: {why}", .path.display())]
    Value {
        /// The file.
        path: PathBuf,
        /// The key.
        key: &'static str,
        /// Why its value does not parse.
        why: ValueError,
    },
    /// A manifest with a key only the user's grants may hold.
    #[error(
        "{}: a manifest lists what the plugin requests (allow-run, allow-env, [[run]], [plugin]); {what} belong in the user's grants",
        .path.display()
    )]
    GrantsOnly {
        /// The file.
        path: PathBuf,
        /// The key or keys, quoted, e.g. `` `allow-net` ``.
        what: &'static str,
    },
}

/// A written value (a size, a duration, a mode, a count) that does not
/// parse; the message quotes it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// Not a duration.
    #[error("{text:?} is not a duration like 30s or 500ms: {why}")]
    Duration {
        /// The value as written.
        text: String,
        /// Why not.
        why: humantime::DurationError,
    },
    /// Not a size.
    #[error("{text:?} is not a size like 65536, 64KiB or 16MiB")]
    Size {
        /// The value as written.
        text: String,
    },
    /// Not a mode of [`crate::Strictness`].
    #[error("unknown mode {text:?}: use require, best-effort or off")]
    Mode {
        /// The value as written.
        text: String,
    },
    /// Not a count.
    #[error("{0}")]
    Count(#[from] std::num::ParseIntError),
    /// Not `true` or `false`.
    #[error("{0}")]
    Switch(#[from] std::str::ParseBoolError),
    /// No limit of that name ([`crate::KNOBS`]).
    #[error("there is no limit named {name:?}")]
    UnknownLimit {
        /// The name as written.
        name: String,
    },
}

/// `PATH:LINE`, or `PATH` when the line is not known.
fn at(path: &Path, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{}:{line}", path.display()),
        None => path.display().to_string(),
    }
}

/// Keys of `[limits]` before every knob had one name, and that name.
const RENAMED: &[(&str, &str)] = &[
    ("plugin-memory", "max-plugin-memory"),
    ("plugin-handles", "max-handles"),
    ("plugin-time", "max-plugin-time"),
    ("cpu-seconds", "rlimit-cpu"),
    ("address-space", "rlimit-as"),
    ("open-files", "rlimit-nofile"),
    ("file-size", "rlimit-fsize"),
    ("processes", "rlimit-nproc"),
];

/// For an unknown key that was renamed: which name to write instead.
fn renamed_hint(message: &str) -> String {
    RENAMED
        .iter()
        .find(|(old, _)| message.contains(&format!("unknown field `{old}`")))
        .map(|(old, new)| format!(" (`{old}` is now `{new}`, the same name as its flag --{new})"))
        .unwrap_or_default()
}
