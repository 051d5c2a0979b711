//! A plugin file, opened once, and the BLAKE3 digest of its bytes: the
//! plugin's identity (the grant store's and the broker's key) and, through
//! it, its compile cache entry.
//!
//! When the file is unchanged since a run recorded its digest (same stat
//! key, see `known.rs`), the digest is taken from that record and the file
//! is not read: its embedded manifest is found through its section headers,
//! and its bytes are read only if they must be compiled, and then checked
//! against the digest. Otherwise it is read and hashed once, and the
//! digest recorded for next time.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::runtime::known::{self, StatKey};
use crate::runtime::private;

/// A plugin file and the digest of its bytes.
#[derive(Debug)]
pub struct PluginFile {
    name: String,
    file: File,
    key: StatKey,
    digest: blake3::Hash,
    /// Its bytes, once read (always, unless the digest came from a record).
    bytes: Option<Vec<u8>>,
}

impl PluginFile {
    /// Opens the plugin at `path`, with its digest from a record in
    /// `records` (the private cache directory) if the file is unchanged
    /// since, else by reading and hashing it (and recording the digest
    /// there). Without `records` it is always read.
    ///
    /// # Errors
    /// The file cannot be opened or read.
    pub fn open(path: &Path, records: Option<&Path>) -> std::io::Result<PluginFile> {
        // Taken before the file is looked at: see `known::record`.
        Self::open_at(path, records, SystemTime::now())
    }

    /// [`open`](Self::open), with hashing taken to start at `started`.
    pub(crate) fn open_at(path: &Path, records: Option<&Path>, started: SystemTime) -> std::io::Result<PluginFile> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let key = StatKey::of(&meta);
        let name = path.display().to_string();
        // Only a regular file's stat key says anything about its bytes.
        let record = records
            .filter(|_| meta.is_file())
            .and_then(|dir| record_path(dir, path));
        if let Some(digest) = record.as_deref().and_then(|r| known::lookup(r, &key)) {
            return Ok(PluginFile {
                name,
                file,
                key,
                digest,
                bytes: None,
            });
        }
        let bytes = read_all(&file)?;
        let digest = known::hash(&bytes);
        // A file that changed while it was read may have mixed bytes.
        if let Some(record) = record.filter(|_| unchanged(&file, &key)) {
            let _ = known::record(&record, &key, &digest, started);
        }
        Ok(PluginFile {
            name,
            file,
            key,
            digest,
            bytes: Some(bytes),
        })
    }

    /// Its path, as given: the name messages use.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The BLAKE3 digest of its bytes.
    pub fn digest(&self) -> &blake3::Hash {
        &self.digest
    }

    /// The digest in lowercase hex, as the grant store and broker name it.
    pub fn blake3_hex(&self) -> String {
        self.digest.to_hex().to_string()
    }

    /// Whether its bytes were read (they are not when its digest came from
    /// a record and it has not been compiled).
    pub fn was_read(&self) -> bool {
        self.bytes.is_some()
    }

    /// The manifest it embeds, if any (see [`crate::policy::embedded`]).
    ///
    /// # Errors
    /// As [`crate::policy::embedded::read`].
    pub fn embedded_manifest(&self) -> Result<Option<String>, crate::policy::embedded::EmbeddedError> {
        match &self.bytes {
            Some(bytes) => crate::policy::embedded::read(bytes),
            None => crate::policy::embedded::read_file(&self.file),
        }
    }

    /// Its bytes, read now if they were not, and then checked against its
    /// digest: what is compiled is what the digest names.
    ///
    /// # Errors
    /// The file cannot be read, or its bytes are no longer those of its
    /// digest (it changed since it was opened).
    pub fn bytes(&mut self) -> std::io::Result<&[u8]> {
        if self.bytes.is_none() {
            let bytes = read_all(&self.file)?;
            if known::hash(&bytes) != self.digest {
                return Err(changed());
            }
            self.bytes = Some(bytes);
        }
        Ok(self.bytes.as_deref().unwrap_or_default())
    }

    /// Fails if the file changed since it was opened while its digest came
    /// from a record, so that its manifest and its digest (hence the code
    /// that runs) are of the same bytes.
    ///
    /// # Errors
    /// It changed, or cannot be examined.
    pub fn check_unchanged(&self) -> std::io::Result<()> {
        match self.bytes.is_some() || unchanged(&self.file, &self.key) {
            true => Ok(()),
            false => Err(changed()),
        }
    }

    /// Lets go of the file's bytes once they are compiled (a plugin kept
    /// open by a long-lived server need not hold 20 MB it will not read
    /// again); [`PluginFile::bytes`] reads them anew if asked.
    pub fn release_bytes(&mut self) {
        self.bytes = None;
    }

    /// Whether `path` still names this file with the bytes it had when it
    /// was opened (same device, inode, size and times: see `known`). A
    /// long-lived server (the worker) uses it to refuse a plugin whose file
    /// was replaced or edited after it was loaded.
    pub fn still_at(&self, path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|meta| StatKey::of(&meta) == self.key)
    }
}

fn changed() -> std::io::Error {
    std::io::Error::other("it changed while procbox was loading it; run it again")
}

/// Whether `file` still has the stat key `key`.
fn unchanged(file: &File, key: &StatKey) -> bool {
    file.metadata().is_ok_and(|meta| StatKey::of(&meta) == *key)
}

/// All of `file`, from its start, without moving its offset.
fn read_all(file: &File) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut bytes = Vec::with_capacity(file.metadata().map_or(0, |m| m.len() as usize));
    let mut chunk = vec![0; 1 << 20];
    loop {
        match file.read_at(&mut chunk, bytes.len() as u64) {
            Ok(0) => return Ok(bytes),
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // Not seekable (a pipe): read it as a stream.
            Err(e) if e.raw_os_error() == Some(libc::ESPIPE) => {
                (&*file).read_to_end(&mut bytes)?;
                return Ok(bytes);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Where the record for the plugin at `path` is kept in `dir`: one per
/// path (so a rebuilt plugin replaces its record), named by the path's
/// hash. `None` if `dir` is not a private directory.
fn record_path(dir: &Path, path: &Path) -> Option<PathBuf> {
    private::ensure_dir(dir, "the cache directory").ok()?;
    let absolute = std::path::absolute(path).ok()?;
    let slot = blake3::hash(absolute.as_os_str().as_encoded_bytes()).to_hex();
    Some(dir.join(format!("{}.plugin", &slot[..32])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A time at which a file written now has long settled.
    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(60)
    }

    /// Opens `path` with records in `dir`, and says how many bytes that
    /// hashed.
    fn open(path: &Path, dir: &Path, started: SystemTime) -> (PluginFile, u64) {
        let before = known::hashed_bytes();
        let plugin = PluginFile::open_at(path, Some(dir), started).unwrap();
        (plugin, known::hashed_bytes() - before)
    }

    fn setup(bytes: &[u8]) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("p.wasm");
        std::fs::write(&plugin, bytes).unwrap();
        let cache = dir.path().join("cache");
        (dir, plugin, cache)
    }

    #[test]
    fn an_unchanged_plugin_is_not_read_again() {
        let (_dir, path, cache) = setup(b"0123456789");
        let (first, hashed) = open(&path, &cache, later());
        assert_eq!((first.was_read(), hashed), (true, 10));
        let (second, hashed) = open(&path, &cache, later());
        assert_eq!((second.was_read(), hashed), (false, 0), "taken from the record");
        assert_eq!(second.digest(), &blake3::hash(b"0123456789"));
    }

    /// Same size, new bytes, mtime set back: the ctime still moved.
    #[test]
    fn a_change_in_place_with_the_mtime_restored_is_rehashed() {
        let (_dir, path, cache) = setup(b"0123456789");
        open(&path, &cache, later());
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, b"9876543210").unwrap();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let (plugin, hashed) = open(&path, &cache, later());
        assert_eq!(hashed, 10);
        assert_eq!(plugin.digest(), &blake3::hash(b"9876543210"));
    }

    #[test]
    fn a_plugin_replaced_by_rename_is_rehashed() {
        let (dir, path, cache) = setup(b"0123456789");
        open(&path, &cache, later());
        let meta = std::fs::metadata(&path).unwrap();
        let new = dir.path().join("new.wasm");
        std::fs::write(&new, b"9876543210").unwrap();
        let f = File::options().write(true).open(&new).unwrap();
        f.set_modified(meta.modified().unwrap()).unwrap();
        std::fs::rename(&new, &path).unwrap();
        let (plugin, hashed) = open(&path, &cache, later());
        assert_eq!(hashed, 10);
        assert_eq!(plugin.digest(), &blake3::hash(b"9876543210"));
    }

    /// A file written in the tick its digest was taken in is hashed again.
    #[test]
    fn a_plugin_not_settled_when_hashed_is_hashed_again() {
        let (_dir, path, cache) = setup(b"0123456789");
        open(&path, &cache, SystemTime::now());
        let (plugin, hashed) = open(&path, &cache, later());
        assert_eq!(
            (plugin.was_read(), hashed),
            (true, 10),
            "nothing recorded the first time"
        );
        let (_, hashed) = open(&path, &cache, later());
        assert_eq!(hashed, 0, "recorded once settled");
    }

    #[test]
    fn bytes_read_late_must_match_the_digest() {
        let (_dir, path, cache) = setup(b"0123456789");
        open(&path, &cache, later());
        let (mut plugin, _) = open(&path, &cache, later());
        assert_eq!(plugin.bytes().unwrap(), b"0123456789");
        plugin.check_unchanged().unwrap();

        let (mut plugin, _) = open(&path, &cache, later());
        std::fs::write(&path, b"9876543210").unwrap();
        assert!(plugin.check_unchanged().is_err(), "changed since it was opened");
        let err = plugin.bytes().unwrap_err();
        assert!(
            err.to_string().contains("changed while procbox was loading it"),
            "{err}"
        );
    }

    #[test]
    fn without_a_private_directory_nothing_is_recorded() {
        let (_dir, path, cache) = setup(b"0123456789");
        std::fs::create_dir(&cache).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
        open(&path, &cache, later());
        let (_, hashed) = open(&path, &cache, later());
        assert_eq!(hashed, 10);
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
    }
}
