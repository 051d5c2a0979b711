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
mod command;

pub use command::{command, GrantsCommand};

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
    let me = rustix::process::geteuid().as_raw();
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

#[cfg(test)]
mod tests;
