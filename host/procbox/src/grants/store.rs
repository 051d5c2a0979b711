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

use toml_edit::{value, Array, DocumentMut, Item};

use crate::policy::document::{self, Document, Kind};
use crate::runtime::private;

use super::entry::*;

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

impl From<EntryError> for StoreError {
    fn from(err: EntryError) -> StoreError {
        StoreError(err.to_string())
    }
}

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
                .ok_or(EntryError::NotAList)?;
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
                return Err(EntryError::NoSuchRule {
                    rule: rule.to_string(),
                    listed: listed_rules(current),
                });
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
        check_edit(&entry.file, text, &entry.about.blake3)?;
        self.change(&entry.about.blake3, |current| {
            // The edit started from `entry`: a change made meanwhile (a rule
            // remembered or revoked by another run) must not be undone.
            if current.map(|c| c.text.as_str()) != Some(entry.text.as_str()) && entry.file.exists() {
                return Err(EntryError::ChangedMeanwhile);
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
        edit: impl FnOnce(Option<&Entry>) -> Result<Option<String>, EntryError>,
    ) -> Result<Option<Entry>, StoreError> {
        let _lock = self.lock()?;
        self.change_locked(blake3, edit)
    }

    /// [`change`](Self::change), with the lock already held.
    fn change_locked(
        &self,
        blake3: &str,
        edit: impl FnOnce(Option<&Entry>) -> Result<Option<String>, EntryError>,
    ) -> Result<Option<Entry>, StoreError> {
        if !is_key(blake3) {
            return Err(StoreError(format!("{blake3:?} is not a BLAKE3 hash")));
        }
        let file = self.file_of(blake3);
        let current = read_entry(&file, blake3)?;
        match edit(current.as_ref()).map_err(|why| StoreError::at(&file, why))? {
            Some(text) => {
                check_edit(&file, &text, blake3)?;
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
    let about = about_of(file, &text)?;
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

#[cfg(test)]
mod tests;
