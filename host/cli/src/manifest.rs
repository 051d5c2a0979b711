//! A plugin's manifest: where it is found (embedded in the plugin, given
//! with `--manifest`, or `NAME.manifest.toml` beside `NAME.wasm`), putting
//! it into the plugin (`procbox embed-manifest`), and what it asks for as
//! grant flags (`inspect --as-flags`, `run --grant-requested`).

use std::path::{Path, PathBuf};

use procbox::policy::document::{self, Document, Kind};
use procbox::policy::embedded;

use super::failure::Failure;
use super::grants::read_document;

/// A plugin's manifest and where it came from.
#[derive(Debug)]
pub struct Manifest {
    /// The file, or `PLUGIN#procbox-manifest` when embedded (for messages).
    pub origin: PathBuf,
    /// Whether it came from inside the plugin.
    pub embedded: bool,
    /// The parsed manifest.
    pub doc: Document,
}

/// The manifest of `plugin`: the one it embeds, or the file `given`, or
/// `PLUGIN.manifest.toml` beside it. When the plugin embeds one and a file
/// is found too, they must say the same.
///
/// # Errors
/// The plugin cannot be read, its sections are malformed, a manifest does
/// not parse, or the embedded manifest and the file differ.
pub fn find(plugin: &Path, given: Option<&Path>) -> Result<Option<Manifest>, Failure> {
    let inside = std::fs::read(plugin).ok().map(|bytes| embedded::read(&bytes));
    find_in(plugin, inside, given)
}

/// [`find`], with what the plugin embeds already read: its manifest's
/// text or why its sections are malformed (`embedded::read`), or `None`
/// when it is unreadable, which loading it reports.
///
/// # Errors
/// As [`find`].
pub fn find_in(
    plugin: &Path,
    inside: Option<Result<Option<String>, String>>,
    given: Option<&Path>,
) -> Result<Option<Manifest>, Failure> {
    let file = given.map(Path::to_path_buf).or_else(|| {
        let beside = plugin.with_extension("manifest.toml");
        beside.is_file().then_some(beside)
    });
    let inside = match inside {
        Some(read) => embedded_text(plugin, read)?,
        None => None,
    };
    let Some(text) = inside else {
        return file
            .map(|path| {
                Ok(Manifest {
                    doc: read_document(&path, Kind::Manifest)?,
                    origin: path,
                    embedded: false,
                })
            })
            .transpose();
    };
    if let Some(path) = &file {
        let on_disk = std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(anyhow::Error::new(e).context(format!("cannot read {}", path.display()))))?;
        if on_disk.trim_end() != text.trim_end() {
            return Err(Failure::usage_msg(format!(
                "{} embeds a manifest that differs from {}: procbox will not guess which one holds",
                plugin.display(),
                path.display()
            ))
            .with_hint(format!(
                "embed the file again (procbox embed-manifest {} {}) or remove it",
                plugin.display(),
                path.display()
            )));
        }
    }
    let origin = PathBuf::from(format!("{}#{}", plugin.display(), embedded::SECTION));
    let doc = document::parse(&text, &origin, Kind::Manifest).map_err(|message| {
        Failure::usage_msg(message).with_hint("embed a manifest that `procbox inspect --manifest FILE` accepts")
    })?;
    Ok(Some(Manifest {
        origin,
        embedded: true,
        doc,
    }))
}

/// The manifest text `plugin` embeds, if any. A file that is not a
/// component, or whose sections are malformed, has none: loading it says
/// what is wrong with it. Two manifest sections are an error here.
fn embedded_text(plugin: &Path, read: Result<Option<String>, String>) -> Result<Option<String>, Failure> {
    match read {
        Ok(text) => Ok(text),
        Err(why) if why.contains(embedded::SECTION) => Err(Failure::procbox(anyhow::anyhow!(
            "cannot read the manifest embedded in {}: {why}",
            plugin.display()
        ))),
        Err(_) => Ok(None),
    }
}

/// The manifest in the file `path` (`explain --manifest FILE`).
///
/// # Errors
/// It cannot be read or parsed.
pub fn from_file(path: &Path) -> Result<Manifest, Failure> {
    Ok(Manifest {
        doc: read_document(path, Kind::Manifest)?,
        origin: path.to_path_buf(),
        embedded: false,
    })
}

/// `procbox embed-manifest PLUGIN MANIFEST [--output OUT]`: checks the
/// manifest, then writes the plugin with it embedded (replacing any it had)
/// to OUT, or over PLUGIN.
///
/// # Errors
/// The manifest does not parse, the plugin is not a component, or a file
/// cannot be read or written.
pub fn embed(plugin: &Path, manifest: &Path, output: Option<&Path>) -> Result<String, Failure> {
    read_document(manifest, Kind::Manifest)?;
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| Failure::usage(anyhow::Error::new(e).context(format!("cannot read {}", manifest.display()))))?;
    let bytes = std::fs::read(plugin)
        .map_err(|e| Failure::usage(anyhow::Error::new(e).context(format!("cannot read {}", plugin.display()))))?;
    let embedded = embedded::embed(&bytes, &text)
        .map_err(|why| Failure::usage_msg(format!("cannot embed a manifest in {}: {why}", plugin.display())))?;
    let output = output.unwrap_or(plugin);
    // Written beside and renamed: a reader never sees half a plugin.
    let partial = output.with_extension("wasm.partial");
    std::fs::write(&partial, &embedded)
        .and_then(|()| std::fs::rename(&partial, output))
        .map_err(|e| Failure::procbox(anyhow::Error::new(e).context(format!("cannot write {}", output.display()))))?;
    Ok(format!(
        "embedded {} in {} ({} bytes)\n",
        manifest.display(),
        output.display(),
        embedded.len()
    ))
}

/// What `doc` requests, as `procbox run` flags, one per line. A `[[run]]`
/// rule that a flag cannot say exactly (no arguments at all, an empty or
/// spaced argument, a sha256 pin) is shown as a grants-file entry instead:
/// a flag must never grant more than the manifest requests.
pub fn as_flags(doc: &Document) -> Vec<String> {
    let mut flags = Vec::new();
    for rule in &doc.allow_run {
        let args = rule.parts.as_ref().and_then(|(_, args)| args.clone());
        let inexpressible = rule.sha256.is_some()
            || args.as_ref().is_some_and(|args| {
                args.is_empty() || args.iter().any(|a| a.is_empty() || a.contains(char::is_whitespace))
            });
        if inexpressible {
            flags.push(format!(
                "# needs a grants file: [[run]] program = {:?} args = {:?}{}",
                rule.written,
                args.unwrap_or_default(),
                if rule.sha256.is_some() { " sha256 = …" } else { "" }
            ));
        } else {
            flags.push(format!("--allow-run={}", shell_word(&flag_rule(rule))));
        }
    }
    for (rule, _) in &doc.env {
        flags.push(format!("--allow-env={}", shell_word(rule)));
    }
    flags
}

/// The one-word form of a rule (a `[[run]]` rule's program and arguments).
fn flag_rule(rule: &document::RunSpec) -> String {
    match &rule.parts {
        Some((program, Some(args))) if !args.is_empty() => format!("{program} {}", args.join(" ")),
        Some((program, _)) => program.clone(),
        None => rule.written.clone(),
    }
}

/// `word` quoted for a POSIX shell when it needs to be.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    match !word.is_empty() && word.chars().all(plain) {
        true => word.to_string(),
        false => format!("'{}'", word.replace('\'', r"'\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_become_flags_a_shell_reads_back_as_written() {
        let text = r#"
allow-run = ["git log **", "wc"]
allow-env = ["LANG=C*"]
[[run]]
program = "printf"
args = ["%s\n", "hello world"]
[[run]]
program = "cut"
args = ["-d,", "-f1"]
[[run]]
program = "true"
args = []
"#;
        let doc = document::parse(text, Path::new("m.toml"), Kind::Manifest).unwrap();
        assert_eq!(
            as_flags(&doc),
            vec![
                "--allow-run='git log **'",
                "--allow-run=wc",
                "# needs a grants file: [[run]] program = \"printf\" args = [\"%s\\n\", \"hello world\"]",
                "--allow-run='cut -d, -f1'",
                "# needs a grants file: [[run]] program = \"true\" args = []",
                "--allow-env='LANG=C*'",
            ]
        );
    }
}
