//! Grants remembered per plugin: what the user chose "always" for at the
//! permission prompt, or wrote with `procbox grants edit`, kept under the
//! user's config directory ([`GrantStore::default_dir`]).
//!
//! **Bound to the plugin's bytes.** An entry is `DIR/<blake3>.toml`, where
//! `<blake3>` is the hash of the plugin's bytes. A plugin gets an entry's
//! grants only when its bytes hash to that key: its name and path are kept
//! for people and never consulted for identity, so a plugin cannot inherit
//! another's grants by taking its name. When the plugin at a path changes
//! (an upgrade, a rebuild), [`GrantStore::lookup`] finds the entry of the
//! earlier version at that path ([`Lookup::Changed`]) but does not use it:
//! the caller must have the user confirm, and [`GrantStore::carry_over`]
//! then moves the grants to the new hash. The hash is a
//! [`crate::PluginFile`]'s digest: an unchanged plugin's is taken from the
//! compile cache's record of its stat key, without reading it; any change
//! to its bytes changes the key, and it is read and hashed again.
//!
//! **Private.** An entry grants authority, so it is trusted only as the
//! compilation cache's entries are (see `private.rs`): the directory must
//! be this user's and writable by nobody else, and an entry a private
//! regular file whose `[remembered]` table names its own key. An entry that
//! fails is not used, and the reason says why.
//!
//! **Format.** An entry is a grants file (the keys of
//! [`crate::policy::document`]; directories as absolute paths) with a
//! `[remembered]` table that says for which plugin:
//!
//! ```toml
//! allow-run = ["/usr/bin/git log **"]
//!
//! [remembered]
//! plugin = "chores.wasm"                 # its file name, for people
//! path = "/home/me/bin/chores.wasm"      # where it ran: how a new version is recognised
//! blake3 = "9f…"                         # the key
//! requested = ["--allow-run='git log **'"]  # what its manifest asked for then
//! ```
//!
//! **Only rules.** A run takes from an entry only what narrows or names
//! exactly what it grants (rules, `allow-env`, `dir`, `allow-read`,
//! `strict-programs`, limits no higher than their defaults): keys that
//! would weaken confinement or widen what the plugin and its children may
//! write, reach or execute are refused, each named ([`Entry::usable`]). A
//! planted entry can add rules, never take protection away.
//!
//! Changes are made under a lock (`DIR/.lock`, `flock`) so that two runs
//! remembering at once both keep their rule, keep the user's comments and
//! layout (`toml_edit`), and replace the file by rename.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use toml_edit::{value, Array, DocumentMut, Item, Table};

use crate::policy::document::{self, Document, Kind};
use crate::policy::knobs::{Bytes, Span};
use crate::policy::{LimitSettings, DEFAULT_MAX_CHILDREN, DEFAULT_PLUGIN_HANDLES, DEFAULT_PLUGIN_MEMORY};
use crate::private;

/// The text a new entry starts with.
const HEADER: &str = "\
# Grants procbox remembers for one plugin (`procbox grants`). The key is the
# plugin's content hash: another plugin, or a changed version of this one,
# does not get them unless you confirm. The keys are a grants file's
# (docs/reference.md, \"The grants file\"); write directories as absolute paths.
";

/// Where remembered grants are kept.
#[derive(Debug, Clone)]
pub struct GrantStore {
    dir: PathBuf,
}

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

impl Entry {
    /// What a run may take from it ([`Usable::grants`]) and the keys no
    /// run takes from it ([`Usable::refused`]).
    ///
    /// # Errors
    /// Where (file:line) and why its text does not parse.
    pub fn usable(&self) -> Result<Usable, String> {
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

/// What the store holds for a plugin.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Nothing.
    Nothing,
    /// Grants for exactly these bytes.
    Granted(Entry),
    /// Grants for an earlier version at the same path, which need the
    /// user's confirmation.
    Changed {
        /// The earlier version's entry.
        previous: Entry,
    },
}

/// Why the store, or one of its entries, cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(String);

impl StoreError {
    fn at(path: &Path, why: impl std::fmt::Display) -> StoreError {
        StoreError(format!("{}: {why}", path.display()))
    }
}

impl GrantStore {
    /// A store in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> GrantStore {
        GrantStore { dir: dir.into() }
    }

    /// The default directory: `$PROCBOX_CONFIG_DIR/grants`, else
    /// `$XDG_CONFIG_HOME/procbox/grants`, else `$HOME/.config/procbox/grants`.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        // As XDG says, a relative XDG_CONFIG_HOME (or HOME) is ignored: it
        // would put the grants wherever procbox happens to start.
        let absolute = |name| var(name).filter(|d: &PathBuf| d.is_absolute());
        var("PROCBOX_CONFIG_DIR")
            .or_else(|| absolute("XDG_CONFIG_HOME").map(|d| d.join("procbox")))
            .or_else(|| absolute("HOME").map(|d| d.join(".config/procbox")))
            .map(|d| d.join("grants"))
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of the entry keyed by `blake3`.
    fn file_of(&self, blake3: &str) -> PathBuf {
        self.dir.join(format!("{blake3}.toml"))
    }

    /// Fails unless the directory is private (it need not exist).
    fn check_dir(&self) -> Result<bool, StoreError> {
        match std::fs::symlink_metadata(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::at(&self.dir, e)),
            Ok(meta) if !meta.is_dir() => Err(StoreError::at(&self.dir, "it is not a directory")),
            Ok(meta) => match private::not_private(&meta) {
                Some(why) => Err(StoreError(format!(
                    "the grants directory {} is not private: {why}",
                    self.dir.display()
                ))),
                None => Ok(true),
            },
        }
    }

    /// The entry keyed by `blake3`, if there is one.
    ///
    /// # Errors
    /// The directory or the entry is not private, or the entry is
    /// malformed or names another key.
    pub fn get(&self, blake3: &str) -> Result<Option<Entry>, StoreError> {
        if !is_key(blake3) || !self.check_dir()? {
            return Ok(None);
        }
        read_entry(&self.file_of(blake3), blake3)
    }

    /// Every usable entry, and why each other file that looks like an
    /// entry cannot be used.
    ///
    /// # Errors
    /// The directory is not private or cannot be read.
    pub fn entries(&self) -> Result<(Vec<Entry>, Vec<StoreError>), StoreError> {
        let mut found = (Vec::new(), Vec::new());
        if !self.check_dir()? {
            return Ok(found);
        }
        let listing = std::fs::read_dir(&self.dir).map_err(|e| StoreError::at(&self.dir, e))?;
        for item in listing {
            let item = item.map_err(|e| StoreError::at(&self.dir, e))?;
            let name = item.file_name();
            let Some(key) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".toml"))
                .filter(|k| is_key(k))
            else {
                continue;
            };
            match read_entry(&item.path(), key) {
                Ok(Some(entry)) => found.0.push(entry),
                Ok(None) => {}
                Err(e) => found.1.push(e),
            }
        }
        found
            .0
            .sort_by(|a, b| (&a.about.plugin, &a.about.blake3).cmp(&(&b.about.plugin, &b.about.blake3)));
        Ok(found)
    }

    /// What the store holds for the plugin whose bytes hash to `blake3`,
    /// loaded from `path`: the canonical path of a file that only this user
    /// could have put there, or `None` (a pipe, a file someone else could
    /// replace), which never links to an earlier version.
    ///
    /// # Errors
    /// As [`get`](Self::get) and [`entries`](Self::entries).
    pub fn lookup(&self, blake3: &str, path: Option<&Path>) -> Result<Lookup, StoreError> {
        if let Some(entry) = self.get(blake3)? {
            return Ok(Lookup::Granted(entry));
        }
        let Some(path) = path else {
            return Ok(Lookup::Nothing);
        };
        let (entries, _) = self.entries()?;
        let previous = entries
            .into_iter()
            .filter(|e| e.about.path == path && e.about.blake3 != blake3)
            .max_by_key(|e| e.modified);
        Ok(previous.map_or(Lookup::Nothing, |previous| Lookup::Changed { previous }))
    }

    /// Adds the allow rule `rule` (as for `--allow-run`) to the entry of
    /// `about`, creating it if need be.
    ///
    /// # Errors
    /// The store is not private, or cannot be written.
    pub fn remember(&self, about: &Remembered, rule: &str) -> Result<Entry, StoreError> {
        self.change(&about.blake3, |current| {
            let mut doc = parse_mut(current.map_or("", |e| e.text.as_str()))?;
            set_about(&mut doc, about);
            let rules = doc
                .as_table_mut()
                .entry("allow-run")
                .or_insert(value(Array::new()))
                .as_array_mut()
                .ok_or_else(|| "allow-run is not a list".to_string())?;
            if !rules.iter().any(|r| r.as_str() == Some(rule)) {
                rules.push(rule);
            }
            let header = if current.is_none() { HEADER } else { "" };
            Ok(Some(format!("{header}{doc}")))
        })
        .and_then(written)
    }

    /// Moves `previous`'s grants to the plugin `about` (its new version),
    /// as the user confirmed.
    ///
    /// # Errors
    /// As [`remember`](Self::remember).
    pub fn carry_over(&self, previous: &Entry, about: &Remembered) -> Result<Entry, StoreError> {
        // Under the lock throughout: what moves is the earlier entry as it
        // is now (a revoke while the user read the question holds).
        let _lock = self.lock()?;
        let current = read_entry(&previous.file, &previous.about.blake3)?
            .ok_or_else(|| StoreError::at(&previous.file, "it was removed meanwhile"))?;
        let entry = self.change_locked(&about.blake3, |_| {
            let mut doc = parse_mut(&current.text)?;
            set_about(&mut doc, about);
            Ok(Some(doc.to_string()))
        })?;
        std::fs::remove_file(&current.file).map_err(|e| StoreError::at(&current.file, e))?;
        written(entry)
    }

    /// Forgets `rule` (an `allow-run` value exactly as the entry lists it)
    /// of `entry`, or the whole entry; an entry left with no grants is
    /// removed. Returns what is left.
    ///
    /// # Errors
    /// The entry does not list `rule` (the error lists what it does), or
    /// the store cannot be written.
    pub fn revoke(&self, entry: &Entry, rule: Option<&str>) -> Result<Option<Entry>, StoreError> {
        self.change(&entry.about.blake3, |current| {
            let (Some(current), Some(rule)) = (current, rule) else {
                return Ok(None);
            };
            let mut doc = parse_mut(&current.text)?;
            let rules = doc.get_mut("allow-run").and_then(Item::as_array_mut);
            let Some(rules) = rules.filter(|rules| rules.iter().any(|r| r.as_str() == Some(rule))) else {
                return Err(format!(
                    "remembers no allow-run rule '{rule}' (it has: {})",
                    listed_rules(current).join(", ")
                ));
            };
            rules.retain(|r| r.as_str() != Some(rule));
            let text = doc.to_string();
            let left = document::parse(&text, &current.file, Kind::Remembered)?;
            Ok((left != Document::default()).then_some(text))
        })
    }

    /// Replaces `entry`'s text with `text` (the user's edit), once it
    /// parses, keeps the entry's key and names directories absolutely.
    ///
    /// # Errors
    /// Why the text cannot be an entry (nothing is changed then), or the
    /// store cannot be written.
    pub fn replace(&self, entry: &Entry, text: &str) -> Result<Entry, StoreError> {
        check_edit(&entry.file, text, &entry.about.blake3).map_err(StoreError)?;
        self.change(&entry.about.blake3, |current| {
            // The edit started from `entry`: a change made meanwhile (a rule
            // remembered or revoked by another run) must not be undone.
            if current.map(|c| c.text.as_str()) != Some(entry.text.as_str()) && entry.file.exists() {
                return Err("it changed while you edited it; edit it again".into());
            }
            Ok(Some(text.to_string()))
        })
        .and_then(written)
    }

    /// The text of a draft made by [`draft`](Self::draft), read as safely
    /// as an entry (a private regular file, not a link or a FIFO).
    ///
    /// # Errors
    /// It is not private, not a regular file, too large or unreadable.
    pub fn read_draft(&self, draft: &Path) -> Result<String, StoreError> {
        let (file, meta) = private::open_file(draft)
            .map_err(|why| StoreError::at(draft, why))?
            .ok_or_else(|| StoreError::at(draft, "it is gone"))?;
        if meta.len() > MAX_ENTRY {
            return Err(StoreError::at(draft, format!("it is over {MAX_ENTRY} bytes")));
        }
        read_text(file, draft)
    }

    /// A new entry for `about` with no grants yet (not written), for the
    /// user to edit.
    pub fn blank(&self, about: &Remembered) -> Entry {
        let mut doc = DocumentMut::new();
        doc.as_table_mut().insert("allow-run", value(Array::new()));
        set_about(&mut doc, about);
        Entry {
            file: self.file_of(&about.blake3),
            about: about.clone(),
            text: format!("{HEADER}{doc}"),
            modified: SystemTime::now(),
        }
    }

    /// Writes `entry`'s text to a private draft file beside it, for the
    /// user's editor, and returns its path. [`replace`](Self::replace)
    /// keeps the edit; the draft is the caller's to remove.
    ///
    /// # Errors
    /// The store is not private, or cannot be written.
    pub fn draft(&self, entry: &Entry) -> Result<PathBuf, StoreError> {
        private::ensure_dir(&self.dir, "the grants directory").map_err(|e| StoreError(e.to_string()))?;
        let draft = self.dir.join(format!("{}.toml.draft", entry.about.blake3));
        private::replace(&draft, &[entry.text.as_bytes()]).map_err(|e| StoreError::at(&draft, e))?;
        Ok(draft)
    }

    /// Under the store's lock, hands the current entry keyed by `blake3`
    /// to `edit`, and writes what it returns (`None`: removes the entry).
    fn change(
        &self,
        blake3: &str,
        edit: impl FnOnce(Option<&Entry>) -> Result<Option<String>, String>,
    ) -> Result<Option<Entry>, StoreError> {
        let _lock = self.lock()?;
        self.change_locked(blake3, edit)
    }

    /// [`change`](Self::change), with the lock already held.
    fn change_locked(
        &self,
        blake3: &str,
        edit: impl FnOnce(Option<&Entry>) -> Result<Option<String>, String>,
    ) -> Result<Option<Entry>, StoreError> {
        if !is_key(blake3) {
            return Err(StoreError(format!("{blake3:?} is not a BLAKE3 hash")));
        }
        let file = self.file_of(blake3);
        let current = read_entry(&file, blake3)?;
        match edit(current.as_ref()).map_err(|why| StoreError::at(&file, why))? {
            Some(text) => {
                check_edit(&file, &text, blake3).map_err(StoreError)?;
                private::replace(&file, &[text.as_bytes()]).map_err(|e| StoreError::at(&file, e))?;
                read_entry(&file, blake3)
            }
            None => match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::at(&file, e)),
                _ => Ok(None),
            },
        }
    }

    /// The store's lock (the directory made if need be), held until the
    /// file is dropped.
    fn lock(&self) -> Result<std::fs::File, StoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        private::ensure_dir(&self.dir, "the grants directory").map_err(|e| StoreError(e.to_string()))?;
        let path = self.dir.join(".lock");
        // Not a link, and never blocking on a FIFO planted in its place.
        let lock = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| StoreError::at(&path, e))?;
        if !lock.metadata().is_ok_and(|m| m.is_file()) {
            return Err(StoreError::at(&path, "it is not a regular file"));
        }
        // Blocks until it is ours.
        if let Err(e) = rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive) {
            return Err(StoreError::at(&path, std::io::Error::from(e)));
        }
        Ok(lock)
    }
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

/// Whether `key` is a BLAKE3 hash in lowercase hex.
fn is_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The longest entry (or draft) read.
const MAX_ENTRY: u64 = 1 << 20;

/// The entry of a successful write, or why it vanished at once.
fn written(entry: Option<Entry>) -> Result<Entry, StoreError> {
    entry.ok_or_else(|| StoreError("the entry vanished as it was written".into()))
}

/// At most [`MAX_ENTRY`] bytes of `file` as text.
fn read_text(file: std::fs::File, path: &Path) -> Result<String, StoreError> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_ENTRY + 1), &mut text)
        .map_err(|e| StoreError::at(path, e))?;
    if text.len() as u64 > MAX_ENTRY {
        return Err(StoreError::at(path, format!("it is over {MAX_ENTRY} bytes")));
    }
    Ok(text)
}

/// The entry in `file`, which must be keyed by `blake3`.
fn read_entry(file: &Path, blake3: &str) -> Result<Option<Entry>, StoreError> {
    let Some((handle, meta)) = private::open_file(file).map_err(|why| StoreError::at(file, why))? else {
        return Ok(None);
    };
    let text = read_text(handle, file)?;
    let about = about_of(file, &text).map_err(StoreError)?;
    if about.blake3 != blake3 {
        return Err(StoreError::at(
            file,
            "its [remembered] blake3 is not the hash in its name",
        ));
    }
    Ok(Some(Entry {
        file: file.to_path_buf(),
        about,
        text,
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    }))
}

/// The `[remembered]` table of an entry's `text`.
fn about_of(file: &Path, text: &str) -> Result<Remembered, String> {
    #[derive(Deserialize)]
    struct Meta {
        remembered: Option<Remembered>,
    }
    let meta: Meta = toml::from_str(text).map_err(|e| format!("{}: {}", file.display(), e.message()))?;
    meta.remembered
        .ok_or_else(|| format!("{}: it has no [remembered] table", file.display()))
}

/// Checks that `text` can be the entry keyed by `blake3` in `file`.
fn check_edit(file: &Path, text: &str, blake3: &str) -> Result<(), String> {
    document::parse(text, file, Kind::Remembered)?;
    let about = about_of(file, text)?;
    if about.blake3 != blake3 {
        return Err(format!(
            "{}: [remembered] blake3 is the key of this entry and cannot change",
            file.display()
        ));
    }
    let doc = parse_mut(text).map_err(|e| format!("{}: {e}", file.display()))?;
    for key in ["dir", "allow-read", "allow-write"] {
        let dirs = doc.get(key).and_then(Item::as_array).into_iter().flat_map(|a| a.iter());
        if let Some(relative) = dirs.filter_map(|d| d.as_str()).find(|d| !Path::new(d).is_absolute()) {
            return Err(format!(
                "{}: {key} = \"{relative}\" is relative; write directories as absolute paths here",
                file.display()
            ));
        }
    }
    Ok(())
}

fn parse_mut(text: &str) -> Result<DocumentMut, String> {
    text.parse::<DocumentMut>().map_err(|e| e.message().to_string())
}

/// Writes `about` as the `[remembered]` table of `doc`.
fn set_about(doc: &mut DocumentMut, about: &Remembered) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn about(path: &str, bytes: &[u8], requested: &[&str]) -> Remembered {
        Remembered {
            plugin: Path::new(path).file_name().unwrap().to_string_lossy().into(),
            path: path.into(),
            blake3: blake3::hash(bytes).to_hex().to_string(),
            requested: requested.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn store() -> (tempfile::TempDir, GrantStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = GrantStore::new(dir.path().join("grants"));
        (dir, store)
    }

    fn granted(store: &GrantStore, about: &Remembered) -> Vec<String> {
        match store.lookup(&about.blake3, Some(&about.path)).unwrap() {
            Lookup::Granted(entry) => entry
                .usable()
                .unwrap()
                .grants
                .allow_run
                .into_iter()
                .map(|r| r.written)
                .collect(),
            other => panic!("expected grants, got {other:?}"),
        }
    }

    fn usable(text: &str) -> (Document, Usable) {
        let doc = document::parse(&format!("{text}\n"), Path::new("/g/e.toml"), Kind::Remembered).unwrap();
        (doc.clone(), Usable::of(doc))
    }

    #[test]
    fn an_entry_adds_rules_and_limits_but_never_weakens_a_run() {
        // An entry's text, and the key a run refuses from it (None: used).
        let cases: &[(&str, Option<&str>)] = &[
            ("allow-run = [\"git log **\"]", None),
            ("[[run]]\nprogram = \"printf\"\nargs = [\"a b\"]", None),
            ("deny-run = [\"git push **\"]", None),
            ("[[run]]\nprogram = \"rm\"\ndeny = true", None),
            ("allow-env = [\"LANG=C\"]", None),
            ("dir = [\"/srv\"]", None),
            ("allow-read = [\"/srv\"]", None),
            ("strict-programs = true", None),
            ("allow-net = false", None),
            ("allow-inherit = false", None),
            ("allow-write = [\"/home/me\"]", Some("allow-write")),
            ("allow-net = true", Some("allow-net")),
            ("allow-inherit = true", Some("allow-inherit")),
            ("confine = \"off\"", Some("confine")),
            ("confine = \"best-effort\"", Some("confine")),
            ("contain = \"off\"", Some("contain")),
            ("allow-child-net = [\"all\"]", Some("allow-child-net")),
            ("allow-helper = [\"/usr/bin\"]", Some("allow-helper")),
            // Limits with a default: at most that.
            ("[limits]\nmax-children = 64", None),
            ("[limits]\nmax-children = 65", Some("max-children")),
            ("[limits]\nmax-handles = 10", None),
            ("[limits]\nmax-handles = 10001", Some("max-handles")),
            ("[limits]\nmax-plugin-memory = \"512MiB\"", None),
            ("[limits]\nmax-plugin-memory = \"1GiB\"", Some("max-plugin-memory")),
            // rlimits: at most procbox's own hard limit (RLIMIT_NOFILE's
            // cannot pass the kernel's nr_open, below 2^31).
            ("[limits]\nrlimit-nofile = 16", None),
            ("[limits]\nrlimit-nofile = 1099511627776", Some("rlimit-nofile")),
            ("[limits]\nrlimit-cpu = 1", None),
            ("[limits]\nrlimit-as = \"1MiB\"", None),
            ("[limits]\nrlimit-fsize = \"1MiB\"", None),
            ("[limits]\nrlimit-nproc = 1", None),
            // No limit by default (or off): any value narrows.
            ("[limits]\nmax-spawns = 100000000", None),
            ("[limits]\nmax-runtime = \"100h\"", None),
            ("[limits]\nmax-output = \"16GiB\"", None),
            ("[limits]\nmax-processes = 100000", None),
            ("[limits]\nmax-tree-memory = \"64GiB\"", None),
            ("[limits]\nmax-plugin-time = \"100h\"", None),
            ("[limits]\ndie-with-procbox = true", None),
            ("[limits]\ndie-with-procbox = false", None),
        ];
        for (text, refused) in cases {
            let (doc, usable) = usable(text);
            let keys: Vec<&str> = usable.refused.iter().map(|r| r.key).collect();
            match refused {
                Some(key) => {
                    assert_eq!(keys, [*key], "{text}");
                    assert_eq!(usable.grants, Document::default(), "{text}: nothing of it is used");
                }
                None => {
                    assert!(keys.is_empty(), "{text}: {keys:?}");
                    assert_eq!(usable.grants, doc, "{text}: used as it is");
                }
            }
        }
    }

    #[test]
    fn the_rest_of_an_entry_is_used_and_each_refused_key_says_what_it_was() {
        let (_, usable) = usable(
            "allow-run = [\"/usr/bin/echo hi\"]\nconfine = \"off\"\nallow-write = [\"/home/me\", \"/srv\"]\n[limits]\nmax-children = 1000\nmax-runtime = \"1m\"",
        );
        let written: Vec<&str> = usable.refused.iter().map(|r| r.written.as_str()).collect();
        assert_eq!(
            written,
            [
                "confine = \"off\"",
                "allow-write = [\"/home/me\", \"/srv\"]",
                "max-children = 1000"
            ]
        );
        assert!(usable.refused[2].why.contains("its default 64"), "{:?}", usable.refused);
        let grants = usable.grants;
        assert_eq!(grants.allow_run[0].written, "/usr/bin/echo hi");
        assert!(grants.confine.is_none() && grants.write_dirs.is_empty());
        assert_eq!(limits_written(&grants.limits), [("max-runtime", "1m".to_string())]);
    }

    #[test]
    fn every_limit_is_written_by_its_knob_name_as_its_flag_reads_it() {
        use crate::policy::knobs::ValueKind;
        use crate::policy::KNOBS;
        let mut all = LimitSettings::default();
        for knob in KNOBS {
            let value = match knob.kind {
                ValueKind::Count => "3",
                ValueKind::Bytes => "3MiB",
                ValueKind::Duration => "90s",
                ValueKind::Switch => "true",
            };
            all.set(knob.name, value).unwrap();
        }
        let written = limits_written(&all);
        let names: Vec<&str> = written.iter().map(|(name, _)| *name).collect();
        let knobs: Vec<&str> = KNOBS.iter().map(|k| k.name).collect();
        assert_eq!(names, knobs);
        let mut again = LimitSettings::default();
        for (name, value) in &written {
            again.set(name, value).unwrap();
        }
        assert_eq!(again, all, "{written:?}");
        assert!(written.contains(&("max-runtime", "1m 30s".to_string())), "{written:?}");
    }

    #[test]
    fn rules_are_remembered_once_each_and_only_for_the_same_bytes() {
        let (_dir, store) = store();
        let plugin = about("/p/chores.wasm", b"v1", &[]);
        store.remember(&plugin, "git log **").unwrap();
        store.remember(&plugin, "wc -l *").unwrap();
        store.remember(&plugin, "git log **").unwrap();
        assert_eq!(granted(&store, &plugin), ["git log **", "wc -l *"]);
        // Another plugin that takes the same name elsewhere gets nothing.
        let impostor = about("/elsewhere/chores.wasm", b"evil", &[]);
        assert!(matches!(
            store.lookup(&impostor.blake3, Some(&impostor.path)).unwrap(),
            Lookup::Nothing
        ));
    }

    #[test]
    fn runs_remembering_at_once_keep_every_rule() {
        let (_dir, store) = store();
        let plugin = about("/p/chores.wasm", b"v1", &[]);
        std::thread::scope(|threads| {
            for t in 0..8 {
                let (store, plugin) = (&store, &plugin);
                threads.spawn(move || {
                    for n in 0..250 {
                        store.remember(plugin, &format!("echo {t}-{n}")).unwrap();
                    }
                });
            }
        });
        assert_eq!(granted(&store, &plugin).len(), 2000);
    }

    #[test]
    fn a_changed_plugin_at_the_same_path_needs_carrying_over() {
        let (_dir, store) = store();
        let old = about("/p/chores.wasm", b"v1", &["--allow-run=git"]);
        store.remember(&old, "git log **").unwrap();
        let new = about("/p/chores.wasm", b"v2", &["--allow-run=git", "--allow-run=curl"]);
        let Lookup::Changed { previous } = store.lookup(&new.blake3, Some(&new.path)).unwrap() else {
            panic!("the earlier version's entry");
        };
        assert_eq!(previous.about, old);
        store.carry_over(&previous, &new).unwrap();
        assert_eq!(granted(&store, &new), ["git log **"]);
        assert!(store.get(&old.blake3).unwrap().is_none(), "moved, not copied");
        assert_eq!(store.get(&new.blake3).unwrap().unwrap().about.requested, new.requested);
    }

    #[test]
    fn a_fifo_in_place_of_the_lock_is_refused_not_waited_on() {
        let (_dir, store) = store();
        let plugin = about("/p/a.wasm", b"a", &[]);
        store.remember(&plugin, "echo").unwrap();
        let lock = store.dir().join(".lock");
        std::fs::remove_file(&lock).unwrap();
        let mode = rustix::fs::Mode::from_raw_mode(0o600);
        rustix::fs::mknodat(rustix::fs::CWD, &lock, rustix::fs::FileType::Fifo, mode, 0).unwrap();
        // Opening it for writing fails at once (no reader: ENXIO), where a
        // blocking open would wait for a reader forever.
        let err = store.remember(&plugin, "cat").unwrap_err();
        assert!(err.to_string().contains(".lock"), "{err}");
    }

    #[test]
    fn carrying_over_grants_revoked_meanwhile_carries_nothing() {
        let (_dir, store) = store();
        let old = about("/p/a.wasm", b"v1", &[]);
        let previous = store.remember(&old, "echo").unwrap();
        store.revoke(&previous, None).unwrap();
        let new = about("/p/a.wasm", b"v2", &[]);
        assert!(store.carry_over(&previous, &new).is_err());
        assert!(store.get(&new.blake3).unwrap().is_none());
    }

    #[test]
    fn revoking_the_last_rule_removes_the_entry_and_an_unknown_rule_is_named() {
        let (_dir, store) = store();
        let plugin = about("/p/a.wasm", b"a", &[]);
        let entry = store.remember(&plugin, "echo hi").unwrap();
        let err = store.revoke(&entry, Some("echo")).unwrap_err();
        assert!(err.to_string().contains("it has: echo hi"), "{err}");
        assert!(store.revoke(&entry, Some("echo hi")).unwrap().is_none());
        assert!(store.get(&plugin.blake3).unwrap().is_none());
    }

    #[test]
    fn an_edit_keeps_comments_and_must_keep_the_key_and_absolute_directories() {
        let (_dir, store) = store();
        let plugin = about("/p/a.wasm", b"a", &[]);
        let entry = store.remember(&plugin, "echo").unwrap();
        let edited = entry
            .text
            .replace("allow-run", "# mine\nallow-env = [\"HOME\"]\nallow-run");
        let entry = store.replace(&entry, &edited).unwrap();
        let entry = store.remember(&plugin, "cat").unwrap_or(entry);
        assert!(entry.text.contains("# mine"), "{}", entry.text);
        let rekeyed = entry.text.replace(&plugin.blake3, &"0".repeat(64));
        assert!(store.replace(&entry, &rekeyed).is_err());
        let relative = format!("dir = [\"src\"]\n{}", entry.text);
        let err = store.replace(&entry, &relative).unwrap_err();
        assert!(err.to_string().contains("absolute"), "{err}");
        assert_eq!(
            store.get(&plugin.blake3).unwrap().unwrap().text,
            entry.text,
            "nothing lost"
        );
    }

    #[test]
    fn entries_others_could_have_written_are_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, store) = store();
        let plugin = about("/p/a.wasm", b"a", &[]);
        let entry = store.remember(&plugin, "echo").unwrap();
        std::fs::set_permissions(&entry.file, std::fs::Permissions::from_mode(0o622)).unwrap();
        let err = store.get(&plugin.blake3).unwrap_err();
        assert!(err.to_string().contains("others may write"), "{err}");
        std::fs::set_permissions(&entry.file, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(store.dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(store
            .get(&plugin.blake3)
            .unwrap_err()
            .to_string()
            .contains("not private"));
        std::fs::set_permissions(store.dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
        // An entry copied under another plugin's key grants that plugin nothing.
        let other = about("/p/b.wasm", b"b", &[]);
        std::fs::copy(&entry.file, store.file_of(&other.blake3)).unwrap();
        assert!(store.get(&other.blake3).is_err());
        // A link in an entry's place is not followed.
        let target = store.dir().join("elsewhere");
        std::fs::rename(&entry.file, &target).unwrap();
        std::os::unix::fs::symlink(&target, &entry.file).unwrap();
        assert!(store
            .get(&plugin.blake3)
            .unwrap_err()
            .to_string()
            .contains("symbolic link"));
    }
}
