//! `procbox inspect`: what a plugin imports and exports, whether it is a
//! procbox plugin, and what its manifest requests.

use std::path::Path;

use procbox::policy::document::{self, Kind};
use procbox::Runtime;

/// Prints the description of `plugin` (and of `manifest`, if any).
///
/// # Errors
/// If the file is not a component, or the manifest cannot be read.
pub fn inspect(runtime: &Runtime, plugin: &Path, manifest: Option<&Path>) -> anyhow::Result<()> {
    let description = runtime.describe_file(plugin)?;
    println!("plugin: {} ({} bytes)", plugin.display(), description.size);
    match &description.fits {
        Ok(()) => println!("world: procbox:host/plugin@0.1.0 (runs with `procbox run`)"),
        Err(reason) => println!("world: not a procbox plugin: {reason}"),
    }
    println!("imports:");
    for import in &description.imports {
        println!("  {import}");
    }
    println!("exports:");
    for export in &description.exports {
        println!("  {export}");
    }
    match manifest {
        None => println!("manifest: none (the plugin runs with whatever you grant)"),
        Some(path) => {
            let doc = document::read(path, Kind::Manifest).map_err(anyhow::Error::msg)?;
            println!("manifest: {}", path.display());
            if let Some(info) = &doc.plugin {
                for (key, value) in [
                    ("name", &info.name),
                    ("version", &info.version),
                    ("description", &info.description),
                ] {
                    if let Some(value) = value {
                        println!("  {key}: {value}");
                    }
                }
            }
            for rule in &doc.allow_run {
                let args = match &rule.parts {
                    Some((_, Some(args))) => format!(" {args:?}"),
                    _ => String::new(),
                };
                println!("  requests run: {}{args} ({})", rule.written, rule.source);
            }
            for (rule, source) in &doc.env {
                println!("  requests env: {rule} ({source})");
            }
        }
    }
    Ok(())
}
