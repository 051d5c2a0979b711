//! Files only this user could have written: the compilation cache (whose
//! entries are machine code procbox runs) and the grant store (whose
//! entries grant authority) keep their files here, and trust a file only
//! when nobody else could have planted or changed it.
//!
//! A directory is private when it is owned by this user and nobody else
//! may write to it; a file, when it is also a regular file (not a link, a
//! FIFO or a device), owned by this user and writable by nobody else.
//! Directories are created with mode 0700 and files with 0600, and files
//! are replaced by rename, so a reader never sees half a file.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Why a file or directory with `meta` could hold something planted by
/// someone else, or `None` if only this user can have written it.
pub(crate) fn not_private(meta: &std::fs::Metadata) -> Option<String> {
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        Some(format!("it belongs to uid {}, not to uid {me}", meta.uid()))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!("others may write to it (mode {:o})", meta.mode() & 0o7777))
    } else {
        None
    }
}

/// Creates `dir` (mode 0700, with its parents) if need be, and checks that
/// it is private; `what` names it in the error ("the cache directory").
///
/// # Errors
/// If it cannot be created, or is not private (the error says why).
pub(crate) fn ensure_dir(dir: &Path, what: &str) -> std::io::Result<()> {
    let meta = match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
            std::fs::symlink_metadata(dir)?
        }
        other => other?,
    };
    let problem = if !meta.is_dir() {
        Some("it is not a directory".to_string())
    } else {
        not_private(&meta)
    };
    match problem {
        None => Ok(()),
        Some(why) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{what} {} is not private: {why}", dir.display()),
        )),
    }
}

/// Opens `path` for reading without following a symbolic link and without
/// blocking on a FIFO planted in its place.
pub(crate) fn open_nofollow(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Why a file procbox keeps (a cache entry, a remembered grant) cannot be
/// trusted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Untrusted {
    /// It is a symbolic link.
    #[error("it is a symbolic link")]
    Symlink,
    /// It is a directory, a FIFO, a device.
    #[error("it is not a regular file")]
    NotAFile,
    /// Someone else owns it or may write to it.
    #[error("{0}")]
    NotPrivate(String),
    /// It could not be opened.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The open file at `path` if it is a private regular file, `None` if
/// there is none, or why it cannot be trusted.
pub(crate) fn open_file(path: &Path) -> Result<Option<(File, std::fs::Metadata)>, Untrusted> {
    let file = match open_nofollow(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(Untrusted::Symlink),
        Err(e) => return Err(e.into()),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Untrusted::NotAFile);
    }
    match not_private(&meta) {
        Some(why) => Err(Untrusted::NotPrivate(why)),
        None => Ok(Some((file, meta))),
    }
}

/// A new file in `dir` with a unique name, mode 0600.
pub(crate) fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, File)> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!(".tmp-{}-{n}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    Ok((path, file))
}

/// Replaces `path` with a private file holding `parts`, written to a
/// temporary file in the same directory and renamed over it.
pub(crate) fn replace(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    let dir = path.parent().expect("a file lives in a directory");
    let (temporary, mut file) = tempfile_in(dir)?;
    let written = parts
        .iter()
        .try_for_each(|part| file.write_all(part))
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}
