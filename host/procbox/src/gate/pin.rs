//! The sha256 pin of a rule: the program file must have the digest the rule
//! names. Digests are cached while a file's inode, size and mtime stay the
//! same, so a pinned program is hashed once per change, not per spawn.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Identity of a file's current contents.
type FileStamp = (PathBuf, u64, u64, i64, i64);

/// Digests of program files, shared by clones of one gate.
#[derive(Debug, Clone, Default)]
pub(super) struct DigestCache(Arc<Mutex<HashMap<FileStamp, [u8; 32]>>>);

impl DigestCache {
    /// The file's SHA-256.
    pub(super) fn digest(&self, path: &Path) -> std::io::Result<[u8; 32]> {
        use sha2::Digest;
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        let stamp = (
            path.to_path_buf(),
            meta.ino(),
            meta.size(),
            meta.mtime(),
            meta.mtime_nsec(),
        );
        if let Some(digest) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&stamp) {
            return Ok(*digest);
        }
        let mut hasher = sha2::Sha256::new();
        let mut file = std::fs::File::open(path)?;
        let mut buf = vec![0; 64 * 1024];
        loop {
            match file.read(&mut buf)? {
                0 => break,
                n => hasher.update(&buf[..n]),
            }
        }
        let digest: [u8; 32] = hasher.finalize().into();
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(stamp, digest);
        Ok(digest)
    }
}
