//! The compilation cache: a plugin is compiled once, then loaded from disk.
//!
//! An entry's name is the BLAKE3 hash of a fingerprint of the engine
//! (wasmtime's compatibility hash, which covers its version and every
//! setting that affects code) and procbox's version, together with the
//! plugin's own BLAKE3 digest (its identity, [`crate::PluginFile`]), so a
//! changed plugin or a different procbox never meets an old entry, and an
//! unchanged plugin finds its entry from the digest recorded for its stat
//! key, without being read (`known.rs`).
//!
//! An entry is the serialized component exactly as wasmtime wrote it, then
//! the BLAKE3 hash of those bytes, then `MAGIC`. Loading checks the magic
//! and the hash before wasmtime sees the file, and wasmtime checks its own
//! header and engine compatibility too: a corrupt, truncated or foreign
//! entry is detected, reported in the log and rebuilt, never trusted
//! blindly. The hash is checked in full once per version of the file: a
//! record beside it (`NAME.cwasm.verified`) keeps the entry's stat key
//! (device, inode, size, mtime and ctime) from when it was checked, and
//! while the entry keeps that key only the trailer is read (any write moves
//! the ctime, a file renamed into place is another inode; see `known.rs`
//! for the rule that keeps a write in the same clock tick from hiding).
//! What this gives up is noticing bits that rot on disk without a write.
//! The check goes at the end so that the artifact starts the file
//! and wasmtime can map it straight from disk (`deserialize_file`) rather
//! than copy it (600 vs 280 µs for the bench plugin). Entries are written to
//! a temporary file and renamed into place, so readers never see half an
//! entry, and a file that is mapped is never changed in place.
//!
//! Loading an entry runs its machine code, so the cache must be private to
//! the user: an entry is used only if it is a regular file (not a link, a
//! FIFO or a device) owned by this user and writable by nobody else, in a
//! directory that is also this user's and writable by nobody else. The
//! directory is created with mode 0700 and entries with 0600. An entry is
//! opened once; its digest is checked (or its stat key) and wasmtime maps it
//! through that same
//! descriptor (`/proc/self/fd/N`), so a rename in between cannot swap in a
//! file that was never checked. A cache directory that fails these checks
//! (say `PROCBOX_CACHE_DIR` pointing at a directory someone else made in
//! `/tmp`) is not used at all: plugins are compiled every time, with a
//! warning.
//!
//! Warnings are values ([`CacheWarning`]): a cache made with
//! [`Cache::with_warnings`] hands each one to its caller (the `procbox`
//! command line prints it as one line on stderr); without, it goes to the
//! log (`tracing::warn!`).
//!
//! BLAKE3 rather than SHA-256: both are collision resistant, which the key
//! needs (a collision would run one plugin's code for another), but this
//! machine class has no SHA instructions, and software SHA-256 of a plugin
//! and its entry was 80 % of a cached load (about 6.5 of 8 ms, `perf`).
//! Even BLAKE3 of a 21 MB Python plugin and its 39 MB entry was most of a
//! cached run, hence the stat-key records.

use std::fs::File;
use std::hash::Hasher;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use wasmtime::component::Component;
use wasmtime::Engine;

use crate::runtime::known::{self, StatKey};
use crate::runtime::private;

/// The first bytes of every cache entry.
const MAGIC: &[u8; 16] = b"procbox-cache-3\n";
const DIGEST_LEN: usize = 32;

/// Why a cache entry cannot be used.
#[derive(Debug, thiserror::Error)]
enum CacheError {
    /// The entry is not a private regular file.
    #[error(transparent)]
    Untrusted(#[from] private::Untrusted),
    /// It has no trailer of ours.
    #[error("not a procbox cache entry")]
    NotOurs,
    /// Its contents are not what its digest says.
    #[error("its contents do not match their digest")]
    Mismatch,
    /// Reading it failed.
    #[error("{0}")]
    Read(#[from] std::io::Error),
    /// It is larger than this machine's memory can address.
    #[error("{0}")]
    TooLarge(#[from] std::num::TryFromIntError),
    /// wasmtime refused it.
    #[error("{0:#}")]
    Wasmtime(wasmtime::Error),
}

/// Where compiled plugins are kept.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    fingerprint: [u8; 32],
    report: Option<Report>,
}

/// Trouble with the cache. None of it is an error: the plugin is compiled
/// instead, and only time is lost. The message (`Display`) is one line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheWarning {
    /// The cache directory cannot be created, or is not private (someone
    /// else owns it or may write to it): it is not used at all, and every
    /// load compiles.
    DirUnusable {
        /// The cache directory.
        dir: PathBuf,
        /// Why, naming the directory.
        reason: String,
    },
    /// An entry that is corrupt, truncated, foreign, or not private; it is
    /// ignored, and the plugin compiled and stored again.
    EntryUnusable {
        /// The entry file.
        entry: PathBuf,
        /// Why.
        reason: String,
    },
    /// A compiled plugin could not be stored, so the next load compiles
    /// again.
    NotStored {
        /// The entry file that was to be written.
        entry: PathBuf,
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for CacheWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheWarning::DirUnusable { reason, .. } => write!(f, "not using the compilation cache: {reason}"),
            CacheWarning::EntryUnusable { entry, reason } => {
                write!(f, "cache entry {} is unusable ({reason}); recompiling", entry.display())
            }
            CacheWarning::NotStored { entry, reason } => {
                write!(f, "cannot store {} in the cache: {reason}", entry.display())
            }
        }
    }
}

/// Where a cache's warnings go instead of the log.
#[derive(Clone)]
struct Report(Arc<dyn Fn(&CacheWarning) + Send + Sync>);

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Report(..)")
    }
}

/// Where a component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Loaded from a valid cache entry.
    Cached,
    /// Compiled now (and stored, if the cache could be written).
    Compiled,
}

impl Cache {
    /// A cache in `dir` for components compiled by `engine`.
    pub fn new(dir: impl Into<PathBuf>, engine: &Engine) -> Cache {
        let mut hasher = DigestHasher(blake3::Hasher::new());
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
        hasher.0.update(env!("CARGO_PKG_VERSION").as_bytes());
        Cache {
            dir: dir.into(),
            fingerprint: hasher.0.finalize().into(),
            report: None,
        }
    }

    /// The same cache, handing each [`CacheWarning`] to `report` instead of
    /// logging it.
    pub fn with_warnings(self, report: impl Fn(&CacheWarning) + Send + Sync + 'static) -> Cache {
        Cache {
            report: Some(Report(Arc::new(report))),
            ..self
        }
    }

    /// Hands `warning` to the caller's report, or else to the log.
    fn warn(&self, warning: CacheWarning) {
        match &self.report {
            Some(Report(report)) => report(&warning),
            None => tracing::warn!("{warning}"),
        }
    }

    /// The default directory: `$PROCBOX_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/procbox`, else `$HOME/.cache/procbox`.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        // As XDG says, a relative XDG_CACHE_HOME (or HOME) is ignored; a
        // relative PROCBOX_CACHE_DIR is taken from where procbox starts,
        // made absolute so that the protected paths can find it.
        let absolute = |name| var(name).filter(|d: &PathBuf| d.is_absolute());
        var("PROCBOX_CACHE_DIR")
            .and_then(|d| std::path::absolute(d).ok())
            .or_else(|| absolute("XDG_CACHE_HOME").map(|d| d.join("procbox")))
            .or_else(|| absolute("HOME").map(|d| d.join(".cache/procbox")))
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry file for a plugin with these bytes.
    pub fn entry_path(&self, wasm: &[u8]) -> PathBuf {
        self.entry_for(&known::hash(wasm))
    }

    /// The entry file for a plugin whose bytes have the BLAKE3 `digest`
    /// (the plugin's identity, [`crate::PluginFile::digest`]), so that an
    /// entry is found without reading the plugin.
    pub fn entry_for(&self, digest: &blake3::Hash) -> PathBuf {
        let key = blake3::Hasher::new()
            .update(&self.fingerprint)
            .update(digest.as_bytes())
            .finalize();
        self.dir.join(format!("{}.cwasm", key.to_hex()))
    }

    /// The compiled component for `wasm`: from its entry if that is intact,
    /// else compiled by `compile` and stored.
    ///
    /// # Errors
    /// Whatever `compile` returns. Cache trouble is never an error: it is
    /// a [`CacheWarning`], and the plugin is compiled.
    pub fn load_or_compile<E>(
        &self,
        engine: &Engine,
        wasm: &[u8],
        compile: impl FnOnce() -> Result<Component, E>,
    ) -> Result<(Component, Origin), E> {
        self.load_or_compile_digest(engine, &known::hash(wasm), compile)
    }

    /// [`load_or_compile`](Self::load_or_compile) for the plugin whose
    /// bytes have the BLAKE3 `digest`; `compile` must compile those very
    /// bytes (as [`crate::PluginFile::bytes`] checks).
    ///
    /// # Errors
    /// Whatever `compile` returns.
    pub fn load_or_compile_digest<E>(
        &self,
        engine: &Engine,
        digest: &blake3::Hash,
        compile: impl FnOnce() -> Result<Component, E>,
    ) -> Result<(Component, Origin), E> {
        if let Err(e) = self.ensure_dir() {
            self.warn(CacheWarning::DirUnusable {
                dir: self.dir.clone(),
                reason: e.to_string(),
            });
            return Ok((compile()?, Origin::Compiled));
        }
        let entry = self.entry_for(digest);
        match read_entry(engine, &entry, SystemTime::now()) {
            Ok(Some(component)) => return Ok((component, Origin::Cached)),
            Ok(None) => {}
            Err(e) => self.warn(CacheWarning::EntryUnusable {
                entry: entry.clone(),
                reason: e.to_string(),
            }),
        }
        let component = compile()?;
        if let Err(e) = write_entry(&entry, &component) {
            self.warn(CacheWarning::NotStored {
                entry,
                reason: format!("{e:#}"),
            });
        }
        Ok((component, Origin::Compiled))
    }

    /// Creates the cache directory (mode 0700) if need be, and checks that
    /// it is private: a directory owned by this user that nobody else may
    /// write to.
    ///
    /// # Errors
    /// If it cannot be created, or is not private (the error says why).
    pub fn ensure_dir(&self) -> std::io::Result<()> {
        private::ensure_dir(&self.dir, "the cache directory")
    }
}

/// The component in `entry`, `None` if there is no entry, or why the entry
/// cannot be used. `now` is when checking it starts (see `known.rs`).
fn read_entry(engine: &Engine, entry: &Path, now: SystemTime) -> Result<Option<Component>, CacheError> {
    let Some((file, meta)) = private::open_file(entry)? else {
        return Ok(None);
    };
    let trailer = read_trailer(&file, meta.len())?;
    let key = StatKey::of(&meta);
    let record = verified_record(entry);
    // Checked in full once per version of the file: while its stat key
    // stays the one recorded, its bytes are those that were checked.
    if known::lookup(&record, &key) != Some(trailer) {
        let bytes = read_payload(&file, meta.len())?;
        if known::hash(&bytes) != trailer {
            return Err(CacheError::Mismatch);
        }
        if file.metadata().is_ok_and(|m| StatKey::of(&m) == key) {
            let _ = known::record(&record, &key, &trailer, now);
        }
    }
    map_entry(engine, &file, &trailer).map(Some)
}

/// The digest in `file`'s trailer (its last 48 bytes), or why it has none.
fn read_trailer(file: &File, len: u64) -> Result<blake3::Hash, CacheError> {
    let trailer_len = (DIGEST_LEN + MAGIC.len()) as u64;
    let at = len.checked_sub(trailer_len).ok_or(CacheError::NotOurs)?;
    let mut trailer = [0; DIGEST_LEN + MAGIC.len()];
    file.read_exact_at(&mut trailer, at)?;
    let (digest, magic) = trailer.split_at(DIGEST_LEN);
    if magic != MAGIC {
        return Err(CacheError::NotOurs);
    }
    let digest: [u8; DIGEST_LEN] = digest.try_into().map_err(|_| CacheError::NotOurs)?;
    Ok(blake3::Hash::from(digest))
}

/// What `file` holds before its trailer: the serialized component.
fn read_payload(file: &File, len: u64) -> Result<Vec<u8>, CacheError> {
    let payload_len = len.saturating_sub((DIGEST_LEN + MAGIC.len()) as u64);
    let mut bytes = vec![0; usize::try_from(payload_len)?];
    file.read_exact_at(&mut bytes, 0)?;
    Ok(bytes)
}

/// Where the record of `entry`'s last full check is kept.
fn verified_record(entry: &Path) -> PathBuf {
    let mut name = entry.as_os_str().to_owned();
    name.push(".verified");
    PathBuf::from(name)
}

/// The component in the checked entry `file`, mapped from disk.
fn map_entry(engine: &Engine, file: &File, digest: &blake3::Hash) -> Result<Component, CacheError> {
    // SAFETY: the file behind `file` holds byte for byte what
    // `Component::serialize` produced for this engine fingerprint: its
    // digest was checked in full, now or when it had the stat key it still
    // has (a private file, replaced only by rename, whose ctime moves with
    // any write; see `known.rs`). wasmtime finds its image through the ELF
    // section headers, so our trailer after it is never read, and it checks
    // its own header and engine compatibility again. `/proc/self/fd/N`
    // reopens that same file, not whatever the path names now. Entries are
    // only ever replaced by rename, never modified in place, so the mapping
    // stays valid while it lives.
    let same_file = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    // SAFETY: the bytes are procbox's own compile output for this engine,
    // checked in a private, owner-only entry (see above).
    match unsafe { Component::deserialize_file(engine, &same_file) } {
        Ok(component) => Ok(component),
        // Without /proc, the bytes are copied and checked again.
        Err(_) if !Path::new("/proc/self/fd").is_dir() => {
            let bytes = read_payload(file, file.metadata()?.len())?;
            if known::hash(&bytes) != *digest {
                return Err(CacheError::Mismatch);
            }
            // SAFETY: the same checked bytes, copied.
            unsafe { Component::deserialize(engine, &bytes) }.map_err(CacheError::Wasmtime)
        }
        Err(e) => Err(CacheError::Wasmtime(e)),
    }
}

fn write_entry(entry: &Path, component: &Component) -> anyhow::Result<()> {
    let payload = component.serialize()?;
    let digest = known::hash(&payload);
    private::replace(entry, &[&payload, digest.as_bytes(), MAGIC])?;
    Ok(())
}

/// Feeds `Hash` output into BLAKE3, for a fingerprint that is stable
/// across runs (unlike `DefaultHasher`'s seed-free but unspecified output).
struct DigestHasher(blake3::Hasher);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        unreachable!("only the digest is used")
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

#[cfg(test)]
mod tests;
