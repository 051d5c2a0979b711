//! A plugin's manifest: where it is found (embedded in the plugin, given
//! with `--manifest`, or `NAME.manifest.toml` beside `NAME.wasm`), putting
//! it into the plugin (`procbox embed-manifest`), and what it asks for as
//! grant flags (`inspect --as-flags`, `run --grant-requested`).

use std::path::Path;

use procbox::policy::document::{self, Document, Kind};
use procbox::policy::embedded::{self, EmbeddedError};
use procbox::policy::manifest::FindError;

use super::failure::Failure;
use super::grants::read_document;

pub use procbox::policy::manifest::Found as Manifest;

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
    inside: Option<Result<Option<String>, EmbeddedError>>,
    given: Option<&Path>,
) -> Result<Option<Manifest>, Failure> {
    procbox::policy::manifest::find(plugin, inside, given).map_err(|e| failure(e, plugin))
}

/// The manifest in the file `path` (`explain --manifest FILE`).
///
/// # Errors
/// It cannot be read or parsed.
pub fn from_file(path: &Path) -> Result<Manifest, Failure> {
    procbox::policy::manifest::from_file(path).map_err(|e| failure(e, path))
}

/// The error as the CLI reports it: a usage error with the fix, except a
/// malformed plugin, which is procbox's to report.
fn failure(error: FindError, plugin: &Path) -> Failure {
    let hint = match &error {
        FindError::Read { .. } => "check the path given to --manifest".to_string(),
        FindError::Parse { embedded: true, .. } => {
            "embed a manifest that `procbox inspect --manifest FILE` accepts".to_string()
        }
        FindError::Parse { embedded: false, .. } => {
            "a manifest takes allow-run, allow-env, [[run]] and [plugin]; see docs/reference.md, section \"Manifests\""
                .to_string()
        }
        FindError::Differs { file, .. } => format!(
            "embed the file again (procbox embed-manifest {} {}) or remove it",
            plugin.display(),
            file.display()
        ),
        FindError::Embedded { .. } => return Failure::procbox(anyhow::Error::new(error)),
    };
    Failure::usage_msg(error.to_string()).with_hint(hint)
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
