//! The plugins a worker serves: read from worker.toml once, hashed and
//! compiled when the worker starts, each with its one policy for every run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use procbox::policy::document::Document;
use procbox::policy::worker_file::{self, WorkerPlugin};
use procbox::{Plugin, PluginFile, Policy, PolicyBuilder, Runtime};

use crate::contract::Failure;

/// One plugin, ready to run.
pub struct Served {
    /// Its `[plugins.NAME]`.
    pub name: String,
    /// Its file, as worker.toml names it (resolved).
    pub path: PathBuf,
    /// The BLAKE3 of the bytes that were compiled, hex.
    pub blake3: String,
    /// The compiled plugin.
    pub plugin: Plugin,
    /// What worker.toml grants it.
    pub policy: Arc<Policy>,
    file: PluginFile,
}

/// Every plugin of a worker.toml, by name.
pub struct Catalog {
    /// worker.toml itself, for messages.
    pub config: PathBuf,
    plugins: BTreeMap<String, Served>,
}

impl Catalog {
    /// Reads `config`, then hashes, compiles and grants each plugin it
    /// names. Any error stops the worker before it polls: an operator's
    /// mistake must not become a stream of failed activities.
    pub fn load(runtime: &Runtime, config: &Path) -> anyhow::Result<Catalog> {
        // Absolute, so that messages name the file wherever they are read.
        let config = &std::fs::canonicalize(config).unwrap_or_else(|_| config.to_path_buf());
        let entries = worker_file::read(config).map_err(anyhow::Error::msg)?;
        refuse_writes_over_the_worker(config, &entries)?;
        let mut plugins = BTreeMap::new();
        for entry in entries {
            let served = serve(runtime, entry)?;
            tracing::info!(
                "serving {} ({}, blake3 {})",
                served.name,
                served.path.display(),
                served.blake3
            );
            plugins.insert(served.name.clone(), served);
        }
        Ok(Catalog {
            config: config.to_path_buf(),
            plugins,
        })
    }

    /// The plugin a request names, if its file is still the one the worker
    /// loaded and its bytes are the ones the request pins.
    pub fn get(&self, name: &str, pinned: Option<&str>) -> Result<&Served, Failure> {
        let served = self.plugins.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.plugins.keys().map(String::as_str).collect();
            Failure::UnknownPlugin(format!(
                "this worker serves no plugin {name:?} (it serves {}): add [plugins.{name}] to {} on every worker of the task queue",
                known.join(", "),
                self.config.display()
            ))
        })?;
        if let Some(pinned) = pinned {
            if !pinned.eq_ignore_ascii_case(&served.blake3) {
                return Err(Failure::NotStarted(format!(
                    "plugin {name} on this worker has blake3 {}, not the {pinned} the request pins: workers sharing a task queue must serve the same files",
                    served.blake3
                )));
            }
        }
        if !served.file.still_at(&served.path) {
            return Err(Failure::NotStarted(format!(
                "plugin {name}'s file {} changed after the worker started; the worker runs only the bytes it hashed at start: restart it to serve the new file",
                served.path.display()
            )));
        }
        Ok(served)
    }

    /// How many plugins it serves.
    pub fn len(&self) -> usize {
        self.plugins.len()
    }
}

fn serve(runtime: &Runtime, entry: WorkerPlugin) -> anyhow::Result<Served> {
    let WorkerPlugin { name, path, grants } = entry;
    let context = || format!("[plugins.{name}]");
    let mut file = runtime.open_plugin(&path).with_context(context)?;
    let blake3 = file.blake3_hex();
    let manifest = manifest(&file, &path).with_context(context)?;
    let (plugin, _) = runtime.load_plugin(&mut file).with_context(context)?;
    // Only its stat key is needed from now on (`still_at`).
    file.release_bytes();
    let mut policy = PolicyBuilder::new().grants_document(grants);
    if let Some((origin, requests)) = manifest {
        policy = policy.manifest_document(origin, requests);
    }
    let policy = policy
        .build()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(context)?;
    Ok(Served {
        name,
        path,
        blake3,
        plugin,
        policy: Arc::new(policy),
        file,
    })
}

/// The plugin's manifest, as `procbox run` finds it: embedded in the plugin,
/// else `PLUGIN.manifest.toml` beside it (both: they must agree). A request
/// must then be granted by worker.toml *and* requested by the plugin.
fn manifest(file: &PluginFile, path: &Path) -> anyhow::Result<Option<(PathBuf, Document)>> {
    let found = procbox::policy::manifest::find(path, Some(file.embedded_manifest()), None)?;
    Ok(found.map(|found| (found.origin, found.doc)))
}

/// Refuses a table whose write grants hold worker.toml or any plugin file:
/// a plugin that could rewrite them would widen the grants (or replace the
/// code) of every run after the worker's next restart. Checked on the
/// real paths, so a symlink neither hides nor invents a conflict.
fn refuse_writes_over_the_worker(config: &Path, entries: &[WorkerPlugin]) -> anyhow::Result<()> {
    let real = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut state = vec![real(config)];
    state.extend(entries.iter().map(|entry| real(&entry.path)));
    for entry in entries {
        for dir in &entry.grants.write_dirs {
            let dir = real(dir);
            if let Some(held) = state.iter().find(|path| path.starts_with(&dir)) {
                anyhow::bail!(
                    "[plugins.{}] may write {}, which holds {}: the plugin could rewrite the worker's configuration or plugins and widen later runs; grant a directory that holds neither",
                    entry.name,
                    dir.display(),
                    held.display()
                );
            }
        }
    }
    Ok(())
}
