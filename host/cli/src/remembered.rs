//! Grants remembered per plugin (`procbox::grants`) on the command
//! line: adding them to a run, asking again when the plugin changed, and
//! `procbox grants list | show | revoke | edit | confirm`.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use procbox::grants::broker::PluginIdentity;
use procbox::grants::{self, listed_rules, Entry, GrantStore, Lookup, Refused, Remembered, StoreError};
use procbox::policy::document::{Document, RunSpec};
use procbox::policy::knobs::ValueKind;
use procbox::policy::KNOBS;

use super::failure::Failure;
use super::manifest::{self, Manifest};
use super::output;
use super::prompt::{self, shown};

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

/// The store at the default place, if there is a config directory.
pub fn store() -> Option<GrantStore> {
    GrantStore::default_dir().map(GrantStore::new)
}

/// A plugin as the store knows it.
pub struct Plugin {
    /// Its content hash, name, path and manifest requests.
    pub about: Remembered,
    /// Its canonical path if only this user (or root) could have put that
    /// file there, else `None`: only such a path links a changed version to
    /// the grants of the earlier one (`/dev/fd/63` or a file others may
    /// replace says nothing about what the plugin is).
    pub link: Option<PathBuf>,
    /// Whether it has a manifest (which limits what it may ask for).
    pub has_manifest: bool,
}

/// How the store knows the plugin at `plugin` whose bytes hash to
/// `blake3`: that hash, where it is, and what its manifest asks for.
pub fn about(plugin: &Path, blake3: &str, manifest: Option<&Manifest>) -> Plugin {
    let canonical = std::fs::canonicalize(plugin).ok();
    let path = canonical.clone().unwrap_or_else(|| plugin.to_path_buf());
    Plugin {
        about: Remembered {
            plugin: path
                .file_name()
                .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()),
            blake3: blake3.to_string(),
            requested: manifest.map(|m| manifest::as_flags(&m.doc)).unwrap_or_default(),
            path,
        },
        link: canonical.filter(|path| only_mine(path)),
        has_manifest: manifest.is_some(),
    }
}

/// Whether the file at the canonical `path` is a regular file of this user
/// in directories that only this user or root can change (or sticky ones,
/// where others cannot replace what is not theirs).
fn only_mine(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    let file_is_mine = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.uid() == me);
    file_is_mine
        && path.ancestors().skip(1).all(|dir| {
            std::fs::metadata(dir)
                .is_ok_and(|m| (m.uid() == me || m.uid() == 0) && (m.mode() & 0o022 == 0 || m.mode() & 0o1000 != 0))
        })
}

/// The grants remembered for `plugin`, to add to its run; when the plugin
/// changed since, only after the user confirms on the terminal (`ask`).
/// Says on stderr every rule and key that is used, and each key that is
/// not (one that would weaken the run: see `procbox::grants::Usable`)
/// and why.
pub fn for_run(store: &GrantStore, plugin: &Plugin, ask: bool) -> Option<Document> {
    let about = &plugin.about;
    let entry = match store.lookup(&about.blake3, plugin.link.as_deref()) {
        Ok(Lookup::Nothing) => return None,
        Ok(Lookup::Granted(entry)) => entry,
        Ok(Lookup::Changed { previous }) => confirm_on_run(store, previous, plugin, ask)?,
        Err(e) => {
            output::warning(format_args!("not using remembered grants: {e}"));
            return None;
        }
    };
    match entry.usable() {
        Ok(usable) => {
            warn_refused(&entry, &usable.refused);
            output::stderr_line(&format!(
                "procbox: using grants you remembered for {}: {} (procbox grants show {})",
                shown(&about.plugin),
                shown(&summary(&usable.grants)),
                entry.about.short_hash()
            ));
            Some(usable.grants)
        }
        Err(e) => {
            output::warning(format_args!(
                "not using remembered grants: {e} (procbox grants edit {})",
                entry.about.short_hash()
            ));
            None
        }
    }
}

/// A changed plugin's earlier grants: carried over if the user says so on
/// the terminal, else not used, with a line that says how to confirm.
fn confirm_on_run(store: &GrantStore, previous: Entry, plugin: &Plugin, ask: bool) -> Option<Entry> {
    let about = &plugin.about;
    if !ask {
        output::warning(format_args!(
            "{} changed since you remembered grants for it (blake3 {} is now {}): they are not used until you confirm them, on a terminal or with `procbox grants confirm {}`",
            shown(&about.plugin),
            previous.about.short_hash(),
            about.short_hash(),
            shown(&about.path.display().to_string())
        ));
        return None;
    }
    let rules = listed_rules(&previous);
    let extra = newly_requested(&previous.about, plugin);
    match prompt::confirm_changed(&previous.about, about, &rules, extra.as_deref()) {
        Ok(true) => store
            .carry_over(&previous, about)
            .map_err(|e| output::warning(format_args!("cannot keep the remembered grants: {e}")))
            .ok(),
        Ok(false) => None,
        Err(e) => {
            output::warning(format_args!(
                "the prompt could not be shown or answered ({e}): remembered grants not used"
            ));
            None
        }
    }
}

/// What `new`'s manifest requests that `old`'s did not; `None` if `new`
/// has no manifest (nothing limits what it may ask for).
fn newly_requested(old: &Remembered, new: &Plugin) -> Option<Vec<String>> {
    new.has_manifest.then(|| {
        new.about
            .requested
            .iter()
            .filter(|r| !old.requested.contains(r))
            .cloned()
            .collect()
    })
}

/// Why a refused key is not used, and where it belongs.
const REFUSED_HINT: &str =
    "a remembered entry only adds rules; such keys belong in a grants file you pass explicitly, with --grants FILE";

/// One warning for each key of `entry` that no run takes from it.
fn warn_refused(entry: &Entry, refused: &[Refused]) {
    for key in refused {
        output::warning(format_args!(
            "{}: not using {}: {REFUSED_HINT}",
            shown(&entry.file.display().to_string()),
            shown(&key.to_string())
        ));
    }
}

/// Every rule and key `doc` grants, as flags where the grant has one (a
/// rule no flag can say exactly, as a grants file writes it).
fn summary(doc: &Document) -> String {
    // Every field by name: a new key is listed, never left out.
    let Document {
        allow_run,
        deny_run,
        env,
        dirs,
        read_dirs,
        write_dirs,
        network,
        allow_inherit,
        strict_programs,
        confine,
        contain,
        child_net,
        helpers,
        limits,
        plugin: _, // says who the plugin is; grants nothing
    } = doc;
    let mut parts = manifest::as_flags(&Document {
        allow_run: allow_run.clone(),
        ..Document::default()
    });
    parts.extend(deny_run.iter().map(deny_flag));
    parts.extend(manifest::as_flags(&Document {
        env: env.clone(),
        ..Document::default()
    }));
    for (flag, dirs) in [
        ("--dir", dirs),
        ("--allow-read", read_dirs),
        ("--allow-write", write_dirs),
    ] {
        parts.extend(dirs.iter().map(|d| flag_with(flag, &d.display().to_string())));
    }
    for (flag, on) in [
        ("--allow-net", network),
        ("--allow-inherit", allow_inherit),
        ("--strict-programs", strict_programs),
    ] {
        if *on {
            parts.push(flag.to_string());
        }
    }
    parts.extend(confine.map(|mode| format!("--confine={mode}")));
    parts.extend(contain.map(|mode| format!("--contain={mode}")));
    for (flag, grants) in [("--allow-child-net", child_net), ("--allow-helper", helpers)] {
        parts.extend(grants.iter().map(|(grant, _)| flag_with(flag, grant)));
    }
    for (name, value) in grants::limits_written(limits) {
        let switch = KNOBS.iter().any(|k| k.name == name && k.kind == ValueKind::Switch);
        parts.push(match (switch, value.as_str()) {
            (true, "true") => format!("--{name}"),
            (true, _) => format!("[limits] {name} = {value}"),
            (false, _) => flag_with(&format!("--{name}"), &value),
        });
    }
    if parts.is_empty() {
        "nothing".into()
    } else {
        parts.join(" ")
    }
}

/// A deny rule as `--deny-run`, or as a grants file writes it when no flag
/// can say it exactly.
fn deny_flag(rule: &RunSpec) -> String {
    match &rule.parts {
        None => flag_with("--deny-run", &rule.written),
        Some((program, Some(args)))
            if args.is_empty() || args.iter().any(|a| a.is_empty() || a.contains(char::is_whitespace)) =>
        {
            format!("[[run]] program = {program:?} args = {args:?} deny = true")
        }
        Some((program, Some(args))) => flag_with("--deny-run", &format!("{program} {}", args.join(" "))),
        Some((program, None)) => flag_with("--deny-run", program),
    }
}

/// `FLAG=VALUE`, the value quoted for a POSIX shell when it needs to be
/// (as `manifest::as_flags` writes them).
fn flag_with(flag: &str, value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    match !value.is_empty() && value.chars().all(plain) {
        true => format!("{flag}={value}"),
        false => format!("{flag}='{}'", value.replace('\'', r"'\''")),
    }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use procbox::policy::document::{self, Kind};

    use super::*;

    #[test]
    fn the_summary_lists_every_rule_and_key_it_is_given() {
        let text = r#"
allow-run = ["/usr/bin/git log **"]
deny-run = ["/usr/bin/git push **"]
allow-env = ["LANG=C"]
dir = ["/srv/repo"]
allow-read = ["/srv/docs"]
allow-write = ["/srv/out"]
allow-net = true
allow-inherit = true
strict-programs = true
confine = "off"
contain = "require"
allow-child-net = ["443"]
allow-helper = ["git=/usr/lib/git-core"]

[[run]]
program = "printf"
args = ["%s", "a b"]

[[run]]
program = "rm"
args = ["-rf", "/"]
deny = true

[limits]
max-children = 4
max-runtime = "1m 30s"
max-output = "16MiB"
die-with-procbox = true
"#;
        let doc = document::parse(text, Path::new("/g/e.toml"), Kind::Remembered).unwrap();
        assert_eq!(
            summary(&doc),
            "--allow-run='/usr/bin/git log **' \
             # needs a grants file: [[run]] program = \"printf\" args = [\"%s\", \"a b\"] \
             --deny-run='/usr/bin/git push **' --deny-run='rm -rf /' --allow-env=LANG=C \
             --dir=/srv/repo --allow-read=/srv/docs --allow-write=/srv/out \
             --allow-net --allow-inherit --strict-programs --confine=off --contain=require \
             --allow-child-net=443 --allow-helper=git=/usr/lib/git-core \
             --max-children=4 --max-runtime='1m 30s' --max-output=16MiB --die-with-procbox"
        );
        assert_eq!(summary(&Document::default()), "nothing");
    }
}
