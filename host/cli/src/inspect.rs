//! `procbox inspect`: what a plugin imports and exports, whether it is a
//! procbox plugin, and what its manifest requests.

use std::path::Path;

use procbox::policy::embedded;
use procbox::Runtime;

use super::failure::Failure;
use super::manifest::{self, Manifest};
use super::output::emit;

/// `procbox inspect --as-flags`: what the manifest requests, as the flags
/// that grant it, one per line; exit status 0, or 2 without a manifest.
///
/// # Errors
/// No manifest, or stdout cannot be written.
pub fn as_flags(plugin: &Path, manifest: Option<&Manifest>) -> Result<u8, Failure> {
    let Some(manifest) = manifest else {
        return Err(Failure::usage_msg(format!(
            "{} has no manifest (none embedded, none beside it)",
            plugin.display()
        ))
        .with_hint("give it with --manifest FILE"));
    };
    let mut out = String::new();
    for flag in manifest::as_flags(&manifest.doc) {
        outln!(out, "{flag}");
    }
    emit(&out)?;
    Ok(0)
}

/// Prints the description of `plugin` (and of `manifest`, if any).
///
/// # Errors
/// If the file is not a component, or the manifest cannot be read (both
/// procbox failures here, exit status 125), or stdout cannot be written.
pub fn inspect(runtime: &Runtime, plugin: &Path, manifest: Option<&Manifest>) -> Result<(), Failure> {
    let description = runtime.describe_file(plugin)?;
    let mut out = String::new();
    outln!(out, "plugin: {} ({} bytes)", plugin.display(), description.size);
    match &description.fits {
        Ok(()) => {
            let version = description
                .imports
                .iter()
                .find_map(|i| i.strip_prefix("procbox:host/process@"))
                .unwrap_or("0.2.1 (no processes imported)");
            outln!(
                out,
                "world: procbox:host/plugin@{version} (runs with `procbox run`; this procbox serves 0.1.0, 0.2.0 and 0.2.1)"
            )
        }
        Err(reason) => outln!(out, "world: not a procbox plugin: {reason}"),
    }
    outln!(out, "imports:");
    for import in &description.imports {
        outln!(out, "  {import}");
    }
    outln!(out, "exports:");
    for export in &description.exports {
        outln!(out, "  {export}");
    }
    match manifest {
        None => outln!(out, "manifest: none (the plugin runs with whatever you grant)"),
        Some(manifest) => {
            let doc = &manifest.doc;
            match manifest.embedded {
                true => outln!(out, "manifest: embedded in the plugin (section {})", embedded::SECTION),
                false => outln!(out, "manifest: {}", manifest.origin.display()),
            }
            if let Some(info) = &doc.plugin {
                for (key, value) in [
                    ("name", &info.name),
                    ("version", &info.version),
                    ("description", &info.description),
                ] {
                    if let Some(value) = value {
                        outln!(out, "  {key}: {value}");
                    }
                }
            }
            for rule in &doc.allow_run {
                let args = match &rule.parts {
                    Some((_, Some(args))) => format!(" {args:?}"),
                    _ => String::new(),
                };
                outln!(out, "  requests run: {}{args} ({})", rule.written, rule.source);
            }
            for (rule, source) in &doc.env {
                outln!(out, "  requests env: {rule} ({source})");
            }
        }
    }
    outln!(
        out,
        "children: confined by the kernel: they get the filesystem authority granted to the plugin and nothing more, and execute only their granted program (`procbox explain` prints the sets; `procbox doctor` what this kernel enforces)"
    );
    emit(&out)
}
