//! The compilation cache: a plugin is compiled once, then loaded from disk.
//!
//! An entry's name is the BLAKE3 hash of the plugin's bytes together with a
//! fingerprint of the engine (wasmtime's compatibility hash, which covers
//! its version and every setting that affects code) and procbox's version,
//! so a changed plugin or a different procbox never meets an old entry.
//!
//! An entry is the serialized component exactly as wasmtime wrote it, then
//! the BLAKE3 hash of those bytes, then `MAGIC`. Loading checks the magic
//! and the hash before wasmtime sees the file, and wasmtime checks its own
//! header and engine compatibility too: a corrupt, truncated or foreign
//! entry is detected, reported in the log and rebuilt, never trusted
//! blindly. The check goes at the end so that the artifact starts the file
//! and wasmtime can map it straight from disk (`deserialize_file`) rather
//! than copy it (600 vs 280 µs for the bench plugin). Entries are written to
//! a temporary file and renamed into place, so readers never see half an
//! entry, and a file that is mapped is never changed in place.
//!
//! BLAKE3 rather than SHA-256: both are collision resistant, which the key
//! needs (a collision would run one plugin's code for another), but this
//! machine class has no SHA instructions, and software SHA-256 of a plugin
//! and its entry was 80 % of a cached load (about 6.5 of 8 ms, `perf`).

use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::Engine;

/// The first bytes of every cache entry.
const MAGIC: &[u8; 16] = b"procbox-cache-3\n";
const DIGEST_LEN: usize = 32;

/// Where compiled plugins are kept.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    fingerprint: [u8; 32],
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
        }
    }

    /// The default directory: `$PROCBOX_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/procbox`, else `$HOME/.cache/procbox`.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        var("PROCBOX_CACHE_DIR")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("procbox")))
            .or_else(|| var("HOME").map(|d| d.join(".cache/procbox")))
    }

    /// The entry file for a plugin with these bytes.
    pub fn entry_path(&self, wasm: &[u8]) -> PathBuf {
        let key = blake3::Hasher::new().update(&self.fingerprint).update(wasm).finalize();
        self.dir.join(format!("{}.cwasm", key.to_hex()))
    }

    /// The compiled component for `wasm`: from its entry if that is intact,
    /// else compiled by `compile` and stored.
    ///
    /// # Errors
    /// Whatever `compile` returns. Cache trouble is never an error: it is
    /// logged and the plugin compiled.
    pub fn load_or_compile<E>(
        &self,
        engine: &Engine,
        wasm: &[u8],
        compile: impl FnOnce() -> Result<Component, E>,
    ) -> Result<(Component, Origin), E> {
        let entry = self.entry_path(wasm);
        match read_entry(engine, &entry) {
            Ok(Some(component)) => return Ok((component, Origin::Cached)),
            Ok(None) => {}
            Err(reason) => tracing::warn!("cache entry {} is unusable ({reason}); recompiling", entry.display()),
        }
        let component = compile()?;
        if let Err(e) = write_entry(&entry, &component) {
            tracing::warn!("cannot store {} in the cache: {e:#}", entry.display());
        }
        Ok((component, Origin::Compiled))
    }
}

/// The component in `entry`, `None` if there is no entry, or why the entry
/// cannot be used.
fn read_entry(engine: &Engine, entry: &Path) -> Result<Option<Component>, String> {
    let bytes = match std::fs::read(entry) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let Some(rest) = bytes.strip_suffix(MAGIC.as_slice()) else {
        return Err("not a procbox cache entry".into());
    };
    let Some((payload, digest)) = rest.len().checked_sub(DIGEST_LEN).map(|n| rest.split_at(n)) else {
        return Err("not a procbox cache entry".into());
    };
    if blake3::hash(payload).as_bytes() != digest {
        return Err("its contents do not match their digest".into());
    }
    // SAFETY: the file holds byte for byte what `Component::serialize`
    // produced for this engine fingerprint (digest checked above; wasmtime
    // ignores our trailer after its ELF image and checks its own header and
    // engine compatibility again). Entries are only ever replaced by rename,
    // never modified in place, so the mapping stays valid while it lives.
    unsafe { Component::deserialize_file(engine, entry) }
        .map(Some)
        .map_err(|e| format!("{e:#}"))
}

fn write_entry(entry: &Path, component: &Component) -> anyhow::Result<()> {
    let payload = component.serialize()?;
    let dir = entry.parent().expect("entries live in a directory");
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile_in(dir)?;
    file.1.write_all(&payload)?;
    file.1.write_all(blake3::hash(&payload).as_bytes())?;
    file.1.write_all(MAGIC)?;
    file.1.sync_all()?;
    std::fs::rename(&file.0, entry)?;
    Ok(())
}

/// A new file in `dir` with a unique name.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!(".tmp-{}-{n}", std::process::id()));
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
    Ok((path, file))
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
