//! Opening a path that the gate checked, so that what is opened is still
//! beneath the granted directory it was checked against.
//!
//! The gate judges canonical paths; a child (or another plugin) can swap a
//! directory for a symlink between that check and the spawn. So the spawn
//! never opens a checked path by name from `/`: it opens the granted root,
//! then the rest **beneath** it with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)` (Linux 5.6+). The gate judged a canonical path,
//! which has no symlink in it, so a symlink found now was swapped in since:
//! it is refused even when it stays inside the root, because inside a
//! write grant it could still lead to a protected path (`a/x -> ../.git`,
//! see `policy::protected`). Where `openat2` is missing, each
//! component is opened with `O_NOFOLLOW`, which refuses every symlink on
//! the way too.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path};

use rustix::fs::{Mode, OFlags, ResolveFlags};

/// A path the gate allowed: `path`, canonical, which lies beneath `root`,
/// a granted directory (or is it).
#[derive(Debug, Clone, Copy)]
pub struct Beneath<'a> {
    /// The granted directory.
    pub root: &'a Path,
    /// The canonical path inside it.
    pub path: &'a Path,
}

impl Beneath<'_> {
    /// Opens the path with `flags` (plus `O_CLOEXEC`), refusing anything
    /// that resolves outside the root now.
    ///
    /// # Errors
    /// `EXDEV` (as `PermissionDenied`) when the path now leads outside the
    /// root; any other OS error of the open.
    pub fn open(&self, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
        let root = open_path(self.root, libc::O_PATH | libc::O_DIRECTORY)?;
        let relative = self.path.strip_prefix(self.root).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not beneath {}", self.path.display(), self.root.display()),
            )
        })?;
        if relative.as_os_str().is_empty() {
            return if flags & libc::O_PATH != 0 {
                Ok(root)
            } else {
                openat(root.as_fd(), Path::new("."), flags, mode)
            };
        }
        match openat2(root.as_fd(), relative, flags, mode) {
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => walk(root, relative, flags, mode),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EXDEV | libc::ELOOP)) => Err(left_root(self)),
            other => other,
        }
    }
}

fn left_root(path: &Beneath<'_>) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{}: a symlink appeared on its way since the check, and is not followed whether it stays in or leads outside the granted directory {}",
            path.path.display(),
            path.root.display()
        ),
    )
}

/// `flags` as rustix's, with `O_CLOEXEC`.
fn oflags(flags: libc::c_int) -> OFlags {
    OFlags::from_bits_retain(flags as libc::c_uint) | OFlags::CLOEXEC
}

/// `open(path)` with `O_CLOEXEC`.
pub fn open_path(path: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(path, oflags(flags), Mode::empty())?)
}

fn openat(dir: BorrowedFd<'_>, path: &Path, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(dir, path, oflags(flags), Mode::from_raw_mode(mode))?)
}

/// `path` (absolute) as an `O_PATH` descriptor, refusing any symlink on
/// the way (`openat2` with `RESOLVE_NO_SYMLINKS`): for a canonical path
/// procbox resolved earlier, a symlink now means it was swapped since.
///
/// # Errors
/// `ELOOP` for a symlink on the way; any other error of the open.
pub fn open_canonical(path: &Path) -> io::Result<OwnedFd> {
    let flags = OFlags::PATH | OFlags::CLOEXEC;
    Ok(rustix::fs::openat2(
        rustix::fs::CWD,
        path,
        flags,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS,
    )?)
}

fn openat2(dir: BorrowedFd<'_>, path: &Path, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    // A mode only with O_CREAT: openat2 refuses one otherwise.
    let mode = if flags & libc::O_CREAT != 0 { mode } else { 0 };
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS;
    Ok(rustix::fs::openat2(
        dir,
        path,
        oflags(flags),
        Mode::from_raw_mode(mode),
        resolve,
    )?)
}

/// Without `openat2`: one component at a time, no symlink followed.
fn walk(root: OwnedFd, relative: &Path, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    let components: Vec<&std::ffi::OsStr> = relative
        .components()
        .map(|c| match c {
            Component::Normal(name) => Ok(name),
            _ => Err(io::Error::new(io::ErrorKind::InvalidInput, "not a plain relative path")),
        })
        .collect::<io::Result<_>>()?;
    let mut dir = root;
    for (i, name) in components.iter().enumerate() {
        let last = i + 1 == components.len();
        let step = match last {
            true => flags | libc::O_NOFOLLOW,
            false => libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        };
        dir = openat(dir.as_fd(), Path::new(name), step, mode)?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_swapped_in_is_refused_wherever_it_leads() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().canonicalize().unwrap();
        let root = top.join("root");
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::fs::create_dir(top.join("outside")).unwrap();
        std::os::unix::fs::symlink(top.join("outside"), root.join("out")).unwrap();
        std::os::unix::fs::symlink("real", root.join("in")).unwrap();
        let open = |rel: &str| {
            let path = root.join(rel);
            Beneath {
                root: &root,
                path: &path,
            }
            .open(libc::O_PATH | libc::O_DIRECTORY, 0)
        };
        assert!(open("").is_ok(), "the root itself");
        assert!(open("real").is_ok());
        for swapped in ["out", "in"] {
            let err = open(swapped).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{swapped}: {err}");
            assert!(err.to_string().contains("outside the granted directory"), "{err}");
        }
    }
}
