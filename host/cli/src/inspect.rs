//! `procbox inspect`: what a plugin imports and exports, whether it is a
//! procbox plugin, and what its manifest requests.

use std::path::Path;

use procbox::policy::document::Kind;
use procbox::Runtime;

use super::failure::{Failure, EXIT_PROCBOX_FAILED};
use super::grants::read_document;
use super::output::emit;

/// Prints the description of `plugin` (and of `manifest`, if any).
///
/// # Errors
/// If the file is not a component, or the manifest cannot be read (both
/// procbox failures here, exit status 125), or stdout cannot be written.
pub fn inspect(runtime: &Runtime, plugin: &Path, manifest: Option<&Path>) -> Result<(), Failure> {
    let description = runtime.describe_file(plugin)?;
    let mut out = String::new();
    outln!(out, "plugin: {} ({} bytes)", plugin.display(), description.size);
    match &description.fits {
        Ok(()) => outln!(out, "world: procbox:host/plugin@0.1.0 (runs with `procbox run`)"),
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
        Some(path) => {
            let doc = read_document(path, Kind::Manifest).map_err(|f| f.with_status(EXIT_PROCBOX_FAILED))?;
            outln!(out, "manifest: {}", path.display());
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
