//! A worker's `worker.toml`: the plugins one `procbox worker` serves, each
//! granted what a grants file grants (the same keys, the one schema) by
//! the machine's operator. A workflow names a plugin and gives it
//! arguments and input; nothing it sends can widen these grants.
//!
//! ```toml
//! [plugins.hello]
//! path = "plugins/hello.wasm"   # relative to worker.toml's directory
//! allow-run = ["echo"]
//!
//! [plugins.hello.limits]
//! max-plugin-time = "10m"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::document::{self, Document, DocumentError, Kind, Raw};

/// A worker's `worker.toml` that cannot be read, or does not name its
/// plugins well. Each message starts with the file (and line, where known).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerFileError {
    /// It cannot be read, is not TOML, or a plugin's table is not a grants
    /// file's.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// It names no plugin.
    #[error("{}: no [plugins.NAME] table: a worker serves only the plugins its worker.toml names", .path.display())]
    NoPlugins {
        /// The file.
        path: PathBuf,
    },
    /// A plugin's name is not a word.
    #[error("{}: [plugins.{name:?}]: a plugin's name is letters, digits, '-', '_' and '.'", .path.display())]
    BadName {
        /// The file.
        path: PathBuf,
        /// The name.
        name: String,
    },
    /// A plugin's table has no `path`.
    #[error("{}: [plugins.{name}] has no `path` (the plugin's .wasm file)", .path.display())]
    NoPath {
        /// The file.
        path: PathBuf,
        /// The plugin.
        name: String,
    },
    /// A plugin's `path` is empty.
    #[error("{}:{line}: [plugins.{name}]: `path` is empty", .path.display())]
    EmptyPath {
        /// The file.
        path: PathBuf,
        /// The key's line.
        line: usize,
        /// The plugin.
        name: String,
    },
    /// A plugin's table grants `allow-inherit`.
    #[error(
        "{}: [plugins.{name}]: allow-inherit is refused in worker.toml: the worker's own stdin, stdout and stderr are not a plugin's to hand to its children",
        .path.display()
    )]
    Inherit {
        /// The file.
        path: PathBuf,
        /// The plugin.
        name: String,
    },
}

/// One `[plugins.NAME]` table.
#[derive(Debug, Clone)]
pub struct WorkerPlugin {
    /// The name a workflow uses (`{"plugin": "NAME"}`).
    pub name: String,
    /// The plugin file, resolved against worker.toml's directory.
    pub path: PathBuf,
    /// Its grants, with sources that name worker.toml's lines.
    pub grants: Document,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkerFile {
    #[serde(default)]
    plugins: BTreeMap<String, Raw>,
}

/// Reads and parses `path`.
///
/// # Errors
/// [`WorkerFileError`], which starts with the file name (and line, where
/// known).
pub fn read(path: &Path) -> Result<Vec<WorkerPlugin>, WorkerFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| DocumentError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses the worker file `text`; `path` names it in errors and sources and
/// anchors its relative paths.
///
/// # Errors
/// [`WorkerFileError`], which starts with the file name (and line, where
/// known).
pub fn parse(text: &str, path: &Path) -> Result<Vec<WorkerPlugin>, WorkerFileError> {
    let raw: RawWorkerFile = document::deserialize(text, path)?;
    if raw.plugins.is_empty() {
        return Err(WorkerFileError::NoPlugins {
            path: path.to_path_buf(),
        });
    }
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    raw.plugins
        .into_iter()
        .map(|(name, mut table)| {
            check_name(&name, path)?;
            let Some(file) = table.path.take() else {
                return Err(WorkerFileError::NoPath {
                    path: path.to_path_buf(),
                    name,
                });
            };
            let line = document::line_of(text, file.span().start);
            let grants = document::from_raw(table, text, path, Kind::WorkerPlugin)?;
            if grants.allow_inherit {
                return Err(WorkerFileError::Inherit {
                    path: path.to_path_buf(),
                    name,
                });
            }
            let file = file.into_inner();
            if file.is_empty() {
                return Err(WorkerFileError::EmptyPath {
                    path: path.to_path_buf(),
                    line,
                    name,
                });
            }
            Ok(WorkerPlugin {
                name,
                path: base.join(file),
                grants,
            })
        })
        .collect()
}

/// A plugin's name is a word a workflow can write in JSON and a shell.
fn check_name(name: &str, path: &Path) -> Result<(), WorkerFileError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    match valid {
        true => Ok(()),
        false => Err(WorkerFileError::BadName {
            path: path.to_path_buf(),
            name: name.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/etc/procbox/worker.toml";

    fn parsed(text: &str) -> Result<Vec<WorkerPlugin>, WorkerFileError> {
        parse(text, Path::new(FILE))
    }

    #[test]
    fn each_table_is_a_plugin_with_its_grants_and_lines_of_the_file() {
        let plugins = parsed(
            "[plugins.hello]\npath = \"p/hello.wasm\"\nallow-run = [\"echo\"]\n\n[plugins.lint]\npath = \"/opt/lint.wasm\"\nallow-env = [\"LANG\"]\n[plugins.lint.limits]\nmax-children = 2\n",
        )
        .unwrap();
        assert_eq!(plugins.len(), 2);
        let (hello, lint) = (&plugins[0], &plugins[1]);
        assert_eq!(
            (hello.name.as_str(), hello.path.as_path()),
            ("hello", Path::new("/etc/procbox/p/hello.wasm"))
        );
        assert_eq!(hello.grants.allow_run[0].written, "echo");
        assert_eq!(hello.grants.allow_run[0].source.to_string(), format!("{FILE}:3"));
        assert_eq!(lint.path, Path::new("/opt/lint.wasm"));
        assert_eq!(lint.grants.env[0].1.to_string(), format!("{FILE}:7"));
        assert!(!lint.grants.limits.is_empty());
    }

    #[test]
    fn what_a_worker_file_cannot_say_is_one_line_naming_it() {
        let cases = [
            ("", "no [plugins.NAME] table"),
            ("[plugins.a]\nallow-run = [\"echo\"]\n", "[plugins.a] has no `path`"),
            (
                "[plugins.a]\npath = \"\"\n",
                "worker.toml:2: [plugins.a]: `path` is empty",
            ),
            (
                "[plugins.a]\npath = \"a.wasm\"\nallow-inherit = true\n",
                "allow-inherit is refused",
            ),
            ("[plugins.\"a b\"]\npath = \"a.wasm\"\n", "a plugin's name is letters"),
            (
                "[plugins.a]\npath = \"a.wasm\"\nallow-all = true\n",
                "worker.toml:3: unknown field `allow-all`",
            ),
            (
                "[plugins.a]\npath = \"a.wasm\"\n[plugins.a.remembered]\n",
                "[remembered] belongs only",
            ),
            ("[worker]\nqueue = \"q\"\n", "unknown field `worker`"),
        ];
        for (text, expected) in cases {
            let err = parsed(text)
                .err()
                .unwrap_or_else(|| panic!("{text:?} was accepted"))
                .to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(!err.contains('\n'), "{text:?}: not one line: {err}");
        }
    }

    #[test]
    fn a_grants_file_with_a_path_is_refused() {
        let err = document::parse("path = \"a.wasm\"\n", Path::new("/g.toml"), Kind::Grants)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "/g.toml:1: `path` names a plugin only in a worker's worker.toml");
    }
}
