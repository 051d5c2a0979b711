//! The run's private temporary directory: created on the first confined
//! spawn, mode 0700, writable by the run's children (`TMPDIR`), removed
//! with everything in it when the run ends.
//!
//! A SIGKILLed procbox cannot remove its directory, so each run holds an
//! exclusive `flock` on its own directory for its lifetime (on a
//! close-on-exec descriptor: no child inherits it), and a later run
//! removes the directories whose lock it can take ([`sweep_stale`]): a
//! lock is released by the kernel when its holder dies, so this never
//! races with pid reuse, and a live run's directory is never removed.

use std::fs::File;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The prefix of every run's directory: `procbox-run-PID-RANDOM`, RANDOM
/// being 16 hexadecimal digits.
const PREFIX: &str = "procbox-run-";

/// How many stale directories one sweep removes at most: it runs on a
/// run's first confined spawn, and each run leaves at most one behind.
pub const SWEEP_BOUND: usize = 64;

/// A directory removed on drop, locked while it lives.
#[derive(Debug)]
pub struct RunTmp {
    path: PathBuf,
    /// The directory, opened and locked (`LOCK_EX`) until after it is
    /// removed.
    _lock: File,
}

impl RunTmp {
    /// A new directory under the system's temporary directory, after
    /// removing (up to [`SWEEP_BOUND`]) the directories of runs that are
    /// gone.
    ///
    /// # Errors
    /// The OS error of the last attempt.
    pub fn create() -> io::Result<RunTmp> {
        let base = std::env::temp_dir();
        sweep_stale(&base, SWEEP_BOUND);
        let mut last = io::Error::other("no attempt");
        for _ in 0..16 {
            let path = base.join(format!("{PREFIX}{}-{:016x}", std::process::id(), random()));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    last = e;
                    continue;
                }
                Err(e) => return Err(e),
            }
            // Another run's sweep may have taken it between `mkdir` and the
            // lock (it looked stale): then it is gone or going, and we try
            // another name.
            match lock_if_still_there(&path) {
                Ok(Some(lock)) => {
                    return Ok(RunTmp {
                        path: std::fs::canonicalize(&path)?,
                        _lock: lock,
                    })
                }
                Ok(None) => last = io::Error::other("another run's sweep took the new directory"),
                Err(e) if e.kind() == io::ErrorKind::NotFound => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Its path (canonical).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunTmp {
    fn drop(&mut self) {
        // Removed while still locked: no sweep sees it half removed.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Removes up to `bound` stale run directories in `base`: directories (never
/// symbolic links) owned by this user, named as [`RunTmp`] names them,
/// whose lock no live run holds. Returns how many it removed.
pub fn sweep_stale(base: &Path, bound: usize) -> usize {
    let Ok(entries) = std::fs::read_dir(base) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        if removed >= bound {
            break;
        }
        if !entry.file_name().to_str().is_some_and(is_run_name) {
            continue;
        }
        let path = entry.path();
        // Held while removing, so a run cannot take it over meanwhile.
        let Ok(Some(_lock)) = lock_if_still_there(&path) else {
            continue;
        };
        if std::fs::remove_dir_all(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Whether `name` is `procbox-run-DIGITS-16HEX`.
fn is_run_name(name: &str) -> bool {
    let Some((pid, random)) = name.strip_prefix(PREFIX).and_then(|rest| rest.split_once('-')) else {
        return false;
    };
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && random.len() == 16
        && random.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `path` opened (not following a symbolic link) and locked `LOCK_EX`
/// without waiting: `Some` when it is a directory of this user that no one
/// else holds and that is still at `path` once locked; `None` when it is
/// anything else, or held (a live run's).
///
/// # Errors
/// Opening it (`NotFound` once a sweep removed it).
fn lock_if_still_there(path: &Path) -> io::Result<Option<File>> {
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // A symbolic link (O_NOFOLLOW) or not a directory: not a run's.
            Some(libc::ELOOP | libc::ENOTDIR) => io::Error::new(io::ErrorKind::InvalidInput, e),
            _ => e,
        });
    let dir = match dir {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = dir.metadata()?;
    if !meta.is_dir() || meta.uid() != rustix::process::geteuid().as_raw() {
        return Ok(None);
    }
    // Fails with EWOULDBLOCK when another open file (a live run) holds the
    // lock.
    if rustix::fs::flock(&dir, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        return Ok(None);
    }
    // Locked; still the directory at `path` (not removed by a sweep that
    // held the lock first, nor replaced)?
    let now = std::fs::symlink_metadata(path)?;
    Ok((now.dev() == meta.dev() && now.ino() == meta.ino()).then_some(dir))
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

    #[test]
    fn only_names_procbox_makes_are_runs() {
        assert!(is_run_name("procbox-run-12-00000000deadbeef"));
        for name in [
            "procbox-run-12-deadbeef",
            "procbox-run--00000000deadbeef",
            "procbox-run-1x-00000000deadbeef",
            "procbox-run-12-00000000deadbeefX",
            "procbox-12-1",
            "other",
        ] {
            assert!(!is_run_name(name), "{name}");
        }
    }

    #[test]
    fn the_sweep_takes_stale_directories_and_nothing_else() {
        let base = tempfile::tempdir().unwrap();
        let at = |name: &str| base.path().join(name);
        // Stale: no one holds its lock (its pid is alive: ours).
        let stale = at(&format!("procbox-run-{}-000000000000000a", std::process::id()));
        std::fs::create_dir_all(stale.join("deep/er")).unwrap();
        // Live: a run holds it.
        let live = lock_if_still_there(&{
            let p = at("procbox-run-1-000000000000000b");
            std::fs::create_dir(&p).unwrap();
            p
        })
        .unwrap()
        .unwrap();
        // A symbolic link with a run's name, to a directory of ours.
        let target = at("target");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), "x").unwrap();
        std::os::unix::fs::symlink(&target, at("procbox-run-2-000000000000000c")).unwrap();
        // A file with a run's name; a name that is not a run's.
        std::fs::write(at("procbox-run-3-000000000000000d"), "x").unwrap();
        std::fs::create_dir(at("procbox-run-x")).unwrap();
        // Another user's (only root can make one).
        let root = rustix::process::geteuid().is_root();
        let foreign = at("procbox-run-4-000000000000000e");
        if root {
            std::fs::create_dir(&foreign).unwrap();
            std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
        }
        assert_eq!(sweep_stale(base.path(), SWEEP_BOUND), 1);
        assert!(!stale.exists());
        assert!(at("procbox-run-1-000000000000000b").is_dir());
        assert!(target.join("keep").exists() && at("procbox-run-2-000000000000000c").symlink_metadata().is_ok());
        assert!(at("procbox-run-3-000000000000000d").is_file());
        assert!(at("procbox-run-x").is_dir());
        assert_eq!(foreign.is_dir(), root);
        // That a released lock makes a run stale is tested end to end
        // (tests/suite/tests/leftovers.rs): here another test's launcher, a fork
        // of this test process that never execs, may inherit `live`'s
        // descriptor and hold the lock past `drop` (issue 22: a launcher
        // started by exec ends that).
        drop(live);
    }

    #[test]
    fn the_sweep_is_bounded() {
        let base = tempfile::tempdir().unwrap();
        for n in 0..5 {
            std::fs::create_dir(base.path().join(format!("procbox-run-1-{n:016x}"))).unwrap();
        }
        assert_eq!(sweep_stale(base.path(), 3), 3);
        assert_eq!(sweep_stale(base.path(), 3), 2);
    }
}
