//! The run's private temporary directory: created on the first confined
//! spawn, mode 0700, writable by the run's children (`TMPDIR`), removed
//! with everything in it when the run ends.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// A directory removed on drop.
#[derive(Debug)]
pub struct RunTmp(PathBuf);

impl RunTmp {
    /// A new directory under the system's temporary directory.
    ///
    /// # Errors
    /// The OS error of the last attempt.
    pub fn create() -> io::Result<RunTmp> {
        let base = std::env::temp_dir();
        let mut last = io::Error::other("no attempt");
        for _ in 0..16 {
            let path = base.join(format!("procbox-run-{}-{:016x}", std::process::id(), random()));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(RunTmp(std::fs::canonicalize(&path)?)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Its path (canonical).
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for RunTmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_and_removed_with_its_contents() {
        let tmp = RunTmp::create().unwrap();
        let path = tmp.path().to_path_buf();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
        std::fs::create_dir(path.join("left")).unwrap();
        std::fs::write(path.join("left/behind"), "x").unwrap();
        drop(tmp);
        assert!(!path.exists());
    }
}
