//! `procbox grants list | show | revoke | edit | confirm`: the remembered
//! grants, read, revoked, edited and confirmed by the person who granted them.

use super::*;

/// What `procbox grants` does.
#[derive(Subcommand)]
pub enum GrantsCommand {
    /// Every plugin with remembered grants, and what they allow.
    List,
    /// What is remembered for PLUGIN, as stored.
    Show {
        /// The plugin's file, the start of its hash, or its name as `list`
        /// shows it.
        plugin: String,
    },
    /// Forget RULE (an allow-run rule as `show` lists it), or everything,
    /// remembered for PLUGIN.
    Revoke {
        /// As for `show`.
        plugin: String,
        /// The rule; without it, everything remembered for PLUGIN.
        rule: Option<String>,
    },
    /// Edit what is remembered for PLUGIN in $VISUAL or $EDITOR (else vi);
    /// it is kept only if it is a valid grants file. A plugin file with
    /// nothing remembered yet starts empty.
    Edit {
        /// As for `show`.
        plugin: String,
    },
    /// Keep the grants of an earlier version of the plugin file PLUGIN for
    /// its current bytes, and say what its manifest now asks for beyond
    /// the old one.
    Confirm {
        /// The plugin's file.
        plugin: PathBuf,
    },
}

/// Runs `procbox grants COMMAND`.
///
/// # Errors
/// No config directory, an unknown or ambiguous plugin, a store that is
/// not private, or an edit that is not a valid grants file.
pub fn command(command: GrantsCommand) -> Result<u8, Failure> {
    let store = store().ok_or_else(|| {
        Failure::usage_msg("there is no config directory: none of PROCBOX_CONFIG_DIR, XDG_CONFIG_HOME and HOME is set")
            .with_hint("set PROCBOX_CONFIG_DIR to a directory of your own")
    })?;
    match command {
        GrantsCommand::List => list(&store),
        GrantsCommand::Show { plugin } => {
            let entry = select(&store, &plugin)?;
            let refused = entry.usable().map(|usable| usable.refused).unwrap_or_default();
            let notes: String = match refused.is_empty() {
                true => String::new(),
                false => std::iter::once(format!("# not used by any run ({REFUSED_HINT}):\n"))
                    .chain(refused.iter().map(|key| format!("#   {}\n", shown(&key.to_string()))))
                    .collect(),
            };
            output::emit(&format!("# {}\n{notes}{}", entry.file.display(), entry.text))?;
            Ok(0)
        }
        GrantsCommand::Revoke { plugin, rule } => revoke(&store, &plugin, rule.as_deref()),
        GrantsCommand::Edit { plugin } => edit(&store, &plugin),
        GrantsCommand::Confirm { plugin } => confirm(&store, &plugin),
    }
}

fn list(store: &GrantStore) -> Result<u8, Failure> {
    let (entries, unusable) = store.entries().map_err(store_failure)?;
    for problem in unusable {
        output::warning(format_args!("not used: {problem}"));
    }
    let mut out = String::new();
    if entries.is_empty() {
        outln!(out, "no grants are remembered (in {})", store.dir().display());
    }
    for entry in &entries {
        let (grants, refused) = entry.usable().map_or_else(
            |e| (format!("unusable: {e}"), Vec::new()),
            |usable| (summary(&usable.grants), usable.refused),
        );
        outln!(
            out,
            "{}  blake3 {}  {}\n  {}",
            shown(&entry.about.plugin),
            entry.about.short_hash(),
            shown(&entry.about.path.display().to_string()),
            shown(&grants)
        );
        if !refused.is_empty() {
            let refused: Vec<String> = refused.iter().map(Refused::to_string).collect();
            outln!(out, "  not used: {}", shown(&refused.join(", ")));
        }
    }
    output::emit(&out)?;
    Ok(0)
}

fn revoke(store: &GrantStore, plugin: &str, rule: Option<&str>) -> Result<u8, Failure> {
    let entry = select(store, plugin)?;
    let left = store.revoke(&entry, rule).map_err(|e| {
        Failure::usage_msg(e).with_hint(format!(
            "procbox grants show {} lists what is remembered",
            entry.about.short_hash()
        ))
    })?;
    let what = rule.map_or_else(|| "everything remembered".to_string(), |r| format!("'{r}'"));
    let after = match left {
        Some(_) => "",
        None => " (nothing is remembered for it now)",
    };
    output::emit(&format!("revoked {what} for {}{after}\n", entry.about.plugin))?;
    Ok(0)
}

fn edit(store: &GrantStore, plugin: &str) -> Result<u8, Failure> {
    let entry = match select(store, plugin) {
        Ok(entry) => entry,
        Err(failure) => match plugin_file(store, plugin)? {
            Some((found, Lookup::Nothing)) => store.blank(&found.about),
            _ => return Err(failure),
        },
    };
    let draft = store.draft(&entry).map_err(store_failure)?;
    let keep_draft = |failure: Failure| {
        failure.with_hint(format!(
            "nothing was changed; your edit is in {} (copy what you need from it)",
            draft.display()
        ))
    };
    run_editor(&draft).map_err(keep_draft)?;
    let text = store
        .read_draft(&draft)
        .map_err(|e| keep_draft(Failure::usage_msg(e)))?;
    if text == entry.text && entry.file.exists() {
        let _ = std::fs::remove_file(&draft);
        output::emit("nothing changed\n")?;
        return Ok(0);
    }
    let saved = store
        .replace(&entry, &text)
        .map_err(|e| keep_draft(Failure::usage_msg(e)))?;
    let _ = std::fs::remove_file(&draft);
    if let Ok(usable) = saved.usable() {
        warn_refused(&saved, &usable.refused);
    }
    output::emit(&format!("saved {}\n", saved.file.display()))?;
    Ok(0)
}

/// Runs `$VISUAL` or `$EDITOR` (through the shell, as git does, so that it
/// may carry arguments), else `vi`, on `file`.
fn run_editor(file: &Path) -> Result<(), Failure> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".into());
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("procbox-editor")
        .arg(file)
        .status()
        .map_err(|e| Failure::procbox(anyhow::Error::new(e).context(format!("cannot start the editor {editor}"))))?;
    match status.success() {
        true => Ok(()),
        false => Err(Failure::usage_msg(format!("the editor `{editor}` failed ({status})"))),
    }
}

fn confirm(store: &GrantStore, plugin: &Path) -> Result<u8, Failure> {
    let (found, lookup) = plugin_file(store, &plugin.display().to_string())?.ok_or_else(|| {
        Failure::usage_msg(format!("{}: no such plugin file", plugin.display()))
            .with_hint("give the path of the plugin as you run it")
    })?;
    let about = &found.about;
    match lookup {
        Lookup::Granted(_) => output::emit(&format!("{} is already confirmed\n", about.plugin))?,
        Lookup::Nothing => {
            return Err(Failure::usage_msg(format!(
                "nothing is remembered for {} or for an earlier version at {}",
                about.plugin,
                about.path.display()
            ))
            .with_hint("procbox grants list shows what is"))
        }
        Lookup::Changed { previous } => {
            let extra = match newly_requested(&previous.about, &found) {
                None => "it has no manifest: nothing limits what it may ask to run".to_string(),
                Some(extra) if extra.is_empty() => "its manifest asks for nothing new".to_string(),
                Some(extra) => format!("its manifest now also asks for: {}", extra.join(" ")),
            };
            store.carry_over(&previous, about).map_err(store_failure)?;
            output::emit(&format!(
                "the grants remembered for blake3 {} now hold for {} (blake3 {}): {}\n{}\n",
                previous.about.short_hash(),
                shown(&about.plugin),
                about.short_hash(),
                shown(&listed_rules(&previous).join(", ")),
                shown(&extra)
            ))?;
        }
    }
    Ok(0)
}

/// The plugin file `given` and what the store holds for it, or `None` if
/// `given` is not a file.
fn plugin_file(store: &GrantStore, given: &str) -> Result<Option<(Plugin, Lookup)>, Failure> {
    let path = Path::new(given);
    if path.is_dir() {
        return Err(
            Failure::usage_msg(format!("{given} is a directory, not a plugin file")).with_hint(
                "give the plugin's .wasm file, the start of its hash, or its name as `procbox grants list` shows it",
            ),
        );
    }
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(|source| procbox::LoadError::Read {
        name: given.to_string(),
        source,
    })?;
    // A malformed manifest does not hide what is remembered for the plugin.
    let manifest = manifest::find_in(path, Some(procbox::policy::embedded::read(&bytes)), None)
        .ok()
        .flatten();
    let found = about(path, &PluginIdentity::of(given, &bytes).blake3, manifest.as_ref());
    let lookup = store
        .lookup(&found.about.blake3, found.link.as_deref())
        .map_err(store_failure)?;
    Ok(Some((found, lookup)))
}

/// The entry `given` names: a plugin file (by its hash), the start of a
/// hash (6 digits or more), or a name as `list` shows it.
fn select(store: &GrantStore, given: &str) -> Result<Entry, Failure> {
    if let Some((found, lookup)) = plugin_file(store, given)? {
        let about = found.about;
        return match lookup {
            Lookup::Granted(entry) => Ok(entry),
            Lookup::Changed { previous } => Err(Failure::usage_msg(format!(
                "{given} changed since you remembered grants for it; they are kept under its earlier hash {}",
                previous.about.short_hash()
            ))
            .with_hint(format!(
                "procbox grants confirm {given} keeps them for this version; procbox grants revoke {} forgets them",
                previous.about.short_hash()
            ))),
            Lookup::Nothing => Err(Failure::usage_msg(format!(
                "nothing is remembered for {given} (blake3 {})",
                about.short_hash()
            ))
            .with_hint("procbox grants list shows what is")),
        };
    }
    let (entries, _) = store.entries().map_err(store_failure)?;
    let hex = !given.is_empty() && given.bytes().all(|b| b.is_ascii_hexdigit());
    if hex && given.len() < 6 {
        return Err(Failure::usage_msg(format!("{given} is too short to name a hash"))
            .with_hint("give at least 6 hex digits of its hash (procbox grants list shows them)"));
    }
    let by_hash = hex;
    let mut matching: Vec<Entry> = entries
        .into_iter()
        .filter(|e| e.about.plugin == given || (by_hash && e.about.blake3.starts_with(&given.to_ascii_lowercase())))
        .collect();
    match matching.len() {
        1 => Ok(matching.remove(0)),
        0 => Err(
            Failure::usage_msg(format!("no remembered grants for a plugin named or hashed {given}"))
                .with_hint("procbox grants list shows what is remembered"),
        ),
        _ => Err(Failure::usage_msg(format!(
            "{given} names {} plugins: {}",
            matching.len(),
            matching
                .iter()
                .map(|e| format!("{} ({})", e.about.short_hash(), e.about.path.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("give the start of its hash instead")),
    }
}

fn store_failure(e: StoreError) -> Failure {
    Failure::procbox(anyhow::Error::new(e)).with_hint("the grants directory must be yours and writable only by you")
}
