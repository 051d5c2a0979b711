//! Where a plugin's manifest is found: embedded in the plugin (see
//! [`super::embedded`]), or in a file: the one given, else
//! `PLUGIN.manifest.toml` beside `PLUGIN.wasm`. When the plugin embeds one
//! and a file is found too, they must say the same: procbox will not guess
//! which one holds. `procbox run` and `procbox worker` find it alike.

use std::path::{Path, PathBuf};

use super::document::{self, Document, DocumentError, Kind};
use super::embedded::{self, EmbeddedError};

/// A plugin's manifest and where it came from.
#[derive(Debug)]
pub struct Found {
    /// The file, or `PLUGIN#procbox-manifest` when embedded (for messages).
    pub origin: PathBuf,
    /// Whether it came from inside the plugin.
    pub embedded: bool,
    /// The parsed manifest.
    pub doc: Document,
}

/// Why a plugin's manifest could not be found.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    /// The manifest file exists (or was given) but cannot be read.
    #[error("cannot read the manifest {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The manifest does not parse; the message names where.
    #[error("{message}")]
    Parse {
        /// What is wrong, starting with the file (and line).
        message: DocumentError,
        /// Whether it is the manifest embedded in the plugin.
        embedded: bool,
    },
    /// The plugin's manifest section is malformed, or there are two.
    #[error("cannot read the manifest embedded in {}: {why}", plugin.display())]
    Embedded {
        /// The plugin.
        plugin: PathBuf,
        /// What is wrong with the section.
        why: EmbeddedError,
    },
    /// The plugin embeds a manifest and the file beside (or given) differs.
    #[error("{} embeds a manifest that differs from {}: procbox will not guess which one holds", plugin.display(), file.display())]
    Differs {
        /// The plugin.
        plugin: PathBuf,
        /// The manifest file.
        file: PathBuf,
    },
}

/// The manifest file procbox looks for beside `plugin`.
pub fn beside(plugin: &Path) -> PathBuf {
    plugin.with_extension("manifest.toml")
}

/// The manifest of `plugin`: the one it embeds, else the file `given`, else
/// the file [`beside`] it, if any. `inside` is what
/// [`embedded::read`] said of the plugin's bytes, or `None` when they could
/// not be read. A file that is not a component embeds nothing here:
/// loading it says what is wrong with it.
///
/// # Errors
/// A manifest cannot be read or parsed, the plugin's manifest section is
/// malformed, or the embedded manifest and the file differ.
pub fn find(
    plugin: &Path,
    inside: Option<Result<Option<String>, EmbeddedError>>,
    given: Option<&Path>,
) -> Result<Option<Found>, FindError> {
    let file = given.map(Path::to_path_buf).or_else(|| {
        let beside = beside(plugin);
        beside.is_file().then_some(beside)
    });
    let text = match inside {
        Some(Ok(text)) => text,
        Some(Err(why)) if why.is_about_the_manifest() => {
            return Err(FindError::Embedded {
                plugin: plugin.to_path_buf(),
                why,
            })
        }
        Some(Err(_)) | None => None,
    };
    let Some(text) = text else {
        return file.map(|path| from_file(&path)).transpose();
    };
    if let Some(path) = &file {
        if read(path)?.trim_end() != text.trim_end() {
            return Err(FindError::Differs {
                plugin: plugin.to_path_buf(),
                file: path.clone(),
            });
        }
    }
    let origin = PathBuf::from(format!("{}#{}", plugin.display(), embedded::SECTION));
    let doc = document::parse(&text, &origin, Kind::Manifest).map_err(|message| FindError::Parse {
        message,
        embedded: true,
    })?;
    Ok(Some(Found {
        origin,
        embedded: true,
        doc,
    }))
}

/// The manifest in the file `path`.
///
/// # Errors
/// It cannot be read or parsed.
pub fn from_file(path: &Path) -> Result<Found, FindError> {
    let doc = document::parse(&read(path)?, path, Kind::Manifest).map_err(|message| FindError::Parse {
        message,
        embedded: false,
    })?;
    Ok(Found {
        origin: path.to_path_buf(),
        embedded: false,
        doc,
    })
}

fn read(path: &Path) -> Result<String, FindError> {
    std::fs::read_to_string(path).map_err(|source| FindError::Read {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "allow-run = [\"echo\"]\n";

    /// A plugin path in a fresh directory, with `beside` written next to it.
    fn plugin_with(beside_text: Option<&str>) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("tool.wasm");
        if let Some(text) = beside_text {
            std::fs::write(beside(&plugin), text).unwrap();
        }
        (dir, plugin)
    }

    #[test]
    fn the_embedded_manifest_wins_when_the_file_beside_says_the_same() {
        let (_dir, plugin) = plugin_with(Some(MANIFEST));
        let found = find(&plugin, Some(Ok(Some(MANIFEST.into()))), None).unwrap().unwrap();
        assert!(found.embedded);
        assert!(found.origin.to_string_lossy().ends_with("tool.wasm#procbox-manifest"));
    }

    #[test]
    fn an_embedded_manifest_and_a_different_file_are_refused() {
        let (_dir, plugin) = plugin_with(Some("allow-run = [\"cat\"]\n"));
        let error = find(&plugin, Some(Ok(Some(MANIFEST.into()))), None).unwrap_err();
        assert!(matches!(error, FindError::Differs { .. }), "{error}");
    }

    #[test]
    fn without_an_embedded_one_the_file_beside_is_the_manifest_and_none_is_none() {
        let (_dir, plugin) = plugin_with(Some(MANIFEST));
        let found = find(&plugin, Some(Ok(None)), None).unwrap().unwrap();
        assert!(!found.embedded);
        assert_eq!(found.origin, beside(&plugin));
        let (_dir, plugin) = plugin_with(None);
        assert!(find(&plugin, None, None).unwrap().is_none());
    }

    #[test]
    fn a_malformed_section_is_named_and_a_file_that_is_no_component_embeds_nothing() {
        let (_dir, plugin) = plugin_with(None);
        assert!(matches!(
            find(&plugin, Some(Err(EmbeddedError::Two)), None),
            Err(FindError::Embedded { .. })
        ));
        assert!(find(&plugin, Some(Err(EmbeddedError::NotAComponent)), None)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_given_file_that_does_not_parse_says_where() {
        let (dir, plugin) = plugin_with(None);
        let given = dir.path().join("m.toml");
        std::fs::write(&given, "allow-run = 3\n").unwrap();
        match find(&plugin, Some(Ok(None)), Some(&given)) {
            Err(FindError::Parse {
                message,
                embedded: false,
            }) => assert!(message.to_string().contains("m.toml"), "{message}"),
            other => panic!("{other:?}"),
        }
    }
}
