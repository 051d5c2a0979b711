//! One plugin's remembered grants as the store holds them (`Entry`, with
//! the `[remembered]` table that names the plugin), and what a run may take
//! from one (`Usable`): the rules, never what would weaken the run.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use toml_edit::{value, Array, DocumentMut, Item, Table};

use crate::policy::document::{self, Document, DocumentError, Kind};
use crate::policy::knobs::{Bytes, Span};
use crate::policy::{LimitSettings, DEFAULT_MAX_CHILDREN, DEFAULT_PLUGIN_HANDLES, DEFAULT_PLUGIN_MEMORY};

/// Which plugin an entry is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Remembered {
    /// The plugin's file name when it was last granted, for people.
    pub plugin: String,
    /// The canonical path it ran from: how a changed version is recognised.
    pub path: PathBuf,
    /// The BLAKE3 hash of its bytes, in hex: the key.
    pub blake3: String,
    /// What its manifest requested (as `procbox run` flags) when the grants
    /// were made or last confirmed.
    #[serde(default)]
    pub requested: Vec<String>,
}

impl Remembered {
    /// The first 12 hex digits of the hash, as `procbox grants` shows it.
    pub fn short_hash(&self) -> &str {
        self.blake3.get(..12).unwrap_or(&self.blake3)
    }
}

/// One plugin's remembered grants.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its file.
    pub file: PathBuf,
    /// Which plugin.
    pub about: Remembered,
    /// The file's text.
    pub text: String,
    /// When it last changed.
    pub modified: SystemTime,
}

/// Why an entry's text cannot be used, or an edit of it cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// It does not parse as a grants file.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// It is not TOML: the parser's message.
    #[error("{message}")]
    Syntax {
        /// What the TOML parser says.
        message: String,
    },
    /// What is wrong, in the file `file`.
    #[error("{}: {why}", .file.display())]
    In {
        /// The entry's file.
        file: PathBuf,
        /// What is wrong.
        why: Box<EntryError>,
    },
    /// It says for no plugin.
    #[error("it has no [remembered] table")]
    NoRemembered,
    /// An edit changed its key.
    #[error("[remembered] blake3 is the key of this entry and cannot change")]
    KeyChanged,
    /// A directory that is not absolute.
    #[error("{key} = \"{relative}\" is relative; write directories as absolute paths here")]
    Relative {
        /// The key, e.g. `dir`.
        key: &'static str,
        /// The directory as written.
        relative: String,
    },
    /// Its `allow-run` is not a list.
    #[error("allow-run is not a list")]
    NotAList,
    /// A rule to forget that it does not list.
    #[error("remembers no allow-run rule '{rule}' (it has: {})", .listed.join(", "))]
    NoSuchRule {
        /// The rule.
        rule: String,
        /// The rules it lists.
        listed: Vec<String>,
    },
    /// It changed while the user edited it.
    #[error("it changed while you edited it; edit it again")]
    ChangedMeanwhile,
}

impl EntryError {
    /// `why`, in the file `file`.
    pub(super) fn in_file(file: &Path, why: EntryError) -> EntryError {
        EntryError::In {
            file: file.to_path_buf(),
            why: Box::new(why),
        }
    }
}

impl Entry {
    /// What a run may take from it ([`Usable::grants`]) and the keys no
    /// run takes from it ([`Usable::refused`]).
    ///
    /// # Errors
    /// Where (file:line) and why its text does not parse.
    pub fn usable(&self) -> Result<Usable, DocumentError> {
        document::parse(&self.text, &self.file, Kind::Remembered).map(Usable::of)
    }
}

/// An entry's grants, split into what a run may add and what it may not.
///
/// **An entry only adds rules.** It is written by the prompt's "always"
/// (allow rules) or by the user's edit, but a file can be planted too, and
/// a run reads it without being asked. So a run takes from it only what
/// narrows or names exactly what is granted: allow and deny rules,
/// `allow-env`, `dir`, `allow-read`, `strict-programs`, and limits no
/// higher than their defaults. Keys that weaken confinement or
/// containment, or widen what the plugin or its children may write, reach
/// or execute (`confine`, `contain`, `allow-write`, `allow-net`,
/// `allow-inherit`, `allow-child-net`, `allow-helper`, a limit raised above
/// its default) are refused: they belong in a grants file the user passes
/// explicitly.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usable {
    /// What a run adds: the entry without the refused keys.
    pub grants: Document,
    /// Each key left out: `confine` and `contain` first, then the grants
    /// that widen, then limits.
    pub refused: Vec<Refused>,
}

/// A key of an entry that no run takes from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The key as a grants file names it (`confine`, `allow-write`, or a
    /// `[limits]` key such as `max-children`).
    pub key: &'static str,
    /// The key and its value, as TOML: `confine = "off"`.
    pub written: String,
    /// What it would do to a run.
    pub why: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` ({})", self.written, self.why)
    }
}

impl Usable {
    /// Splits `doc`, an entry's grants, into what a run may add and what
    /// it may not (see [`Usable`]).
    pub fn of(mut doc: Document) -> Usable {
        let mut refused = Vec::new();
        let mut refuse = |key: &'static str, value: String, why: &str| {
            refused.push(Refused {
                key,
                written: format!("{key} = {value}"),
                why: why.to_string(),
            })
        };
        if let Some(mode) = doc.confine.take() {
            refuse(
                "confine",
                format!("\"{mode}\""),
                "it would change how the kernel confines children",
            );
        }
        if let Some(mode) = doc.contain.take() {
            refuse(
                "contain",
                format!("\"{mode}\""),
                "it would change how children are contained",
            );
        }
        if !doc.write_dirs.is_empty() {
            let dirs = std::mem::take(&mut doc.write_dirs);
            refuse(
                "allow-write",
                toml_list(dirs.iter().map(|d| d.display().to_string())),
                "the plugin and every child could write there",
            );
        }
        if std::mem::take(&mut doc.network) {
            refuse("allow-net", "true".into(), "the plugin could open sockets");
        }
        if std::mem::take(&mut doc.allow_inherit) {
            refuse(
                "allow-inherit",
                "true".into(),
                "children could use procbox's own terminal and streams",
            );
        }
        if !doc.child_net.is_empty() {
            let grants = std::mem::take(&mut doc.child_net);
            refuse(
                "allow-child-net",
                toml_list(grants.into_iter().map(|(g, _)| g)),
                "children could use the network",
            );
        }
        if !doc.helpers.is_empty() {
            let helpers = std::mem::take(&mut doc.helpers);
            refuse(
                "allow-helper",
                toml_list(helpers.into_iter().map(|(h, _)| h)),
                "children could execute more programs",
            );
        }
        refuse_raised_limits(&mut doc.limits, &mut refused);
        Usable { grants: doc, refused }
    }
}

/// Leaves out of `limits` each one raised above its default, into
/// `refused`. A limit whose default is no limit (or off) only narrows.
fn refuse_raised_limits(limits: &mut LimitSettings, refused: &mut Vec<Refused>) {
    // Every knob, by name: a new one does not compile until it is decided.
    let LimitSettings {
        max_children,
        max_handles,
        max_plugin_memory,
        rlimit_cpu,
        rlimit_as,
        rlimit_nofile,
        rlimit_fsize,
        rlimit_nproc,
        // No limit by default: any value narrows.
        max_spawns: _,
        max_runtime: _,
        max_output: _,
        max_processes: _,
        max_tree_memory: _,
        max_plugin_time: _,
        // Off by default: `true` asks for more, `false` is the default.
        die_with_procbox: _,
    } = limits;
    let mut over = |key: &'static str, value: Option<u64>, ceiling: Ceiling| -> bool {
        let Some(value) = value.filter(|v| *v > ceiling.value) else {
            return false;
        };
        let written = match ceiling.bytes {
            true => format!("\"{}\"", bytes_written(value)),
            false => value.to_string(),
        };
        refused.push(Refused {
            key,
            written: format!("{key} = {written}"),
            why: format!("it raises the limit above {}", ceiling.what),
        });
        true
    };
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    if over(
        "max-children",
        max_children.map(count),
        Ceiling::default_count(count(DEFAULT_MAX_CHILDREN)),
    ) {
        *max_children = None;
    }
    if over(
        "max-handles",
        max_handles.map(count),
        Ceiling::default_count(count(DEFAULT_PLUGIN_HANDLES)),
    ) {
        *max_handles = None;
    }
    if over(
        "max-plugin-memory",
        max_plugin_memory.map(|b| b.0),
        Ceiling::default_bytes(DEFAULT_PLUGIN_MEMORY),
    ) {
        *max_plugin_memory = None;
    }
    // A child's rlimits default to procbox's own: it may raise a soft limit
    // up to the hard one itself, so only a hard limit is a default to keep.
    use rustix::process::Resource;
    let counts: [(&'static str, &mut Option<u64>, _); 3] = [
        ("rlimit-cpu", rlimit_cpu, Resource::Cpu),
        ("rlimit-nofile", rlimit_nofile, Resource::Nofile),
        ("rlimit-nproc", rlimit_nproc, Resource::Nproc),
    ];
    for (key, slot, resource) in counts {
        if over(key, *slot, Ceiling::hard_limit(resource, false)) {
            *slot = None;
        }
    }
    let sizes: [(&'static str, &mut Option<Bytes>, _); 2] = [
        ("rlimit-as", rlimit_as, Resource::As),
        ("rlimit-fsize", rlimit_fsize, Resource::Fsize),
    ];
    for (key, slot, resource) in sizes {
        if over(key, slot.map(|b| b.0), Ceiling::hard_limit(resource, true)) {
            *slot = None;
        }
    }
}

/// The most a limit in an entry may be.
struct Ceiling {
    value: u64,
    /// Whether it counts bytes (how it is written).
    bytes: bool,
    /// What it is, for people: "its default 64".
    what: String,
}

impl Ceiling {
    fn default_count(value: u64) -> Ceiling {
        Ceiling {
            value,
            bytes: false,
            what: format!("its default {value}"),
        }
    }

    fn default_bytes(value: u64) -> Ceiling {
        Ceiling {
            value,
            bytes: true,
            what: format!("its default {}", bytes_written(value)),
        }
    }

    /// procbox's own hard limit of `resource` (none if unlimited).
    fn hard_limit(resource: rustix::process::Resource, bytes: bool) -> Ceiling {
        let value = rustix::process::getrlimit(resource).maximum.unwrap_or(u64::MAX);
        let shown = if bytes { bytes_written(value) } else { value.to_string() };
        Ceiling {
            value,
            bytes,
            what: format!("procbox's own hard limit {shown}"),
        }
    }
}

/// The limits `limits` sets, each as its key and its value as a flag
/// takes it (`max-runtime`, `30s`), in the order of [`crate::policy::KNOBS`].
pub fn limits_written(limits: &LimitSettings) -> Vec<(&'static str, String)> {
    let LimitSettings {
        max_children,
        max_spawns,
        max_runtime,
        max_output,
        rlimit_cpu,
        rlimit_as,
        rlimit_nofile,
        rlimit_fsize,
        rlimit_nproc,
        die_with_procbox,
        max_processes,
        max_tree_memory,
        max_plugin_memory,
        max_plugin_time,
        max_handles,
    } = limits;
    let count = |n: &Option<u64>| n.map(|n| n.to_string());
    let size = |b: &Option<Bytes>| b.map(|b| bytes_written(b.0));
    let span = |s: &Option<Span>| s.map(|s| humantime::format_duration(s.0).to_string());
    [
        ("max-children", max_children.map(|n| n.to_string())),
        ("max-spawns", count(max_spawns)),
        ("max-runtime", span(max_runtime)),
        ("max-output", size(max_output)),
        ("rlimit-cpu", count(rlimit_cpu)),
        ("rlimit-as", size(rlimit_as)),
        ("rlimit-nofile", count(rlimit_nofile)),
        ("rlimit-fsize", size(rlimit_fsize)),
        ("rlimit-nproc", count(rlimit_nproc)),
        ("die-with-procbox", die_with_procbox.map(|on| on.to_string())),
        ("max-processes", count(max_processes)),
        ("max-tree-memory", size(max_tree_memory)),
        ("max-plugin-memory", size(max_plugin_memory)),
        ("max-plugin-time", span(max_plugin_time)),
        ("max-handles", max_handles.map(|n| n.to_string())),
    ]
    .into_iter()
    .filter_map(|(key, value)| Some((key, value?)))
    .collect()
}

/// A byte count as a flag takes it: with the largest binary unit that
/// divides it (`512MiB`), else plain.
fn bytes_written(bytes: u64) -> String {
    let units = [(30, "GiB"), (20, "MiB"), (10, "KiB")];
    match units
        .iter()
        .find(|(shift, _)| bytes != 0 && bytes.is_multiple_of(1u64 << shift))
    {
        Some((shift, unit)) => format!("{}{unit}", bytes >> shift),
        None => bytes.to_string(),
    }
}

/// `items` as a TOML list of strings.
fn toml_list(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Array>().to_string()
}

/// The `allow-run` rules of `entry`, as it lists them.
pub fn listed_rules(entry: &Entry) -> Vec<String> {
    parse_mut(&entry.text)
        .ok()
        .and_then(|doc| {
            let rules = doc.get("allow-run")?.as_array()?;
            Some(rules.iter().filter_map(|r| r.as_str().map(str::to_string)).collect())
        })
        .unwrap_or_default()
}

/// The `[remembered]` table of an entry's `text`.
pub(super) fn about_of(file: &Path, text: &str) -> Result<Remembered, EntryError> {
    #[derive(Deserialize)]
    struct Meta {
        remembered: Option<Remembered>,
    }
    let meta: Meta = toml::from_str(text).map_err(|e| {
        let message = e.message().to_string();
        EntryError::in_file(file, EntryError::Syntax { message })
    })?;
    meta.remembered
        .ok_or_else(|| EntryError::in_file(file, EntryError::NoRemembered))
}

/// Checks that `text` can be the entry keyed by `blake3` in `file`.
pub(super) fn check_edit(file: &Path, text: &str, blake3: &str) -> Result<(), EntryError> {
    document::parse(text, file, Kind::Remembered)?;
    let about = about_of(file, text)?;
    if about.blake3 != blake3 {
        return Err(EntryError::in_file(file, EntryError::KeyChanged));
    }
    let doc = parse_mut(text).map_err(|e| EntryError::in_file(file, e))?;
    for key in ["dir", "allow-read", "allow-write"] {
        let dirs = doc.get(key).and_then(Item::as_array).into_iter().flat_map(|a| a.iter());
        if let Some(relative) = dirs.filter_map(|d| d.as_str()).find(|d| !Path::new(d).is_absolute()) {
            let relative = relative.to_string();
            return Err(EntryError::in_file(file, EntryError::Relative { key, relative }));
        }
    }
    Ok(())
}

pub(super) fn parse_mut(text: &str) -> Result<DocumentMut, EntryError> {
    text.parse::<DocumentMut>().map_err(|e| EntryError::Syntax {
        message: e.message().to_string(),
    })
}

/// Writes `about` as the `[remembered]` table of `doc`.
pub(super) fn set_about(doc: &mut DocumentMut, about: &Remembered) {
    let mut table = Table::new();
    table.insert("plugin", value(&about.plugin));
    table.insert("path", value(about.path.to_string_lossy().as_ref()));
    table.insert("blake3", value(&about.blake3));
    table.insert(
        "requested",
        value(about.requested.iter().map(String::as_str).collect::<Array>()),
    );
    doc.as_table_mut().insert("remembered", Item::Table(table));
}
