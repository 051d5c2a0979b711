//! The descriptors behind a child's standard streams: for each permitted
//! [`Target`], the end the child gets and, for a pipe, the end procbox
//! keeps. Every descriptor here is close-on-exec, so a child inherits only
//! the three the spawn places at 0, 1 and 2.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use crate::redirect::{Redirects, Target};

use super::Pipes;
use crate::launcher::launch::above_stdio;
use crate::sys::beneath::Beneath;

/// The child's ends of its streams, and procbox's ends of its pipes.
pub struct Connected {
    child: [ChildEnd; 3],
    /// procbox's ends, for the streams that were piped.
    pub pipes: Pipes,
}

/// What the child gets for one stream.
enum ChildEnd {
    /// A descriptor of ours, placed at the stream's number.
    Own(OwnedFd),
    /// The shared `/dev/null`.
    Null,
    /// procbox's own stream of that number.
    Inherit(BorrowedFd<'static>),
    /// The same descriptor as the child's stdout (`2>&1`).
    SameAsStdout,
}

impl Connected {
    /// Descriptors for the child's fds 0, 1 and 2.
    ///
    /// # Errors
    /// If `/dev/null` cannot be opened.
    pub fn stdio(&self) -> io::Result<[BorrowedFd<'_>; 3]> {
        let stdout = self.end(1)?;
        let stderr = match &self.child[2] {
            ChildEnd::SameAsStdout => stdout,
            _ => self.end(2)?,
        };
        Ok([self.end(0)?, stdout, stderr])
    }

    fn end(&self, number: usize) -> io::Result<BorrowedFd<'_>> {
        Ok(match &self.child[number] {
            ChildEnd::Own(fd) => fd.as_fd(),
            ChildEnd::Null => dev_null()?,
            ChildEnd::Inherit(fd) => *fd,
            // Only stderr can be merged, and `stdio` resolves it.
            ChildEnd::SameAsStdout => return self.end(1),
        })
    }
}

/// Opens what each of `targets` needs. `upstream` is the pipe a
/// `child-stdout` stdin reads from.
///
/// # Errors
/// The OS error and what was being done when it happened.
pub fn connect(targets: &Redirects<Target>, upstream: Option<OwnedFd>) -> Result<Connected, (&'static str, io::Error)> {
    let mut pipes = Pipes::default();
    let stdin = match &targets.stdin {
        Target::ChildStdout => match upstream {
            Some(fd) => own(fd).map_err(|e| ("placing stdin", e))?,
            None => {
                return Err((
                    "stdin",
                    io::Error::new(io::ErrorKind::InvalidInput, "no child stdout was given"),
                ))
            }
        },
        Target::Piped => {
            let (read, write) = pipe().map_err(|e| ("creating a pipe", e))?;
            pipes.stdin = Some(write);
            own(read).map_err(|e| ("placing stdin", e))?
        }
        other => simple(other, 0, false).map_err(|e| ("opening stdin", e))?,
    };
    let stdout = output(&targets.stdout, 1, &mut pipes.stdout).map_err(|e| ("opening stdout", e))?;
    let stderr = match &targets.stderr {
        Target::SameAsStdout => ChildEnd::SameAsStdout,
        other => output(other, 2, &mut pipes.stderr).map_err(|e| ("opening stderr", e))?,
    };
    Ok(Connected {
        child: [stdin, stdout, stderr],
        pipes,
    })
}

/// A stdout or stderr target; a pipe's read end goes to `ours`.
fn output(target: &Target, number: i32, ours: &mut Option<OwnedFd>) -> io::Result<ChildEnd> {
    match target {
        Target::Piped => {
            let (read, write) = pipe()?;
            *ours = Some(read);
            own(write)
        }
        other => simple(other, number, true),
    }
}

/// Null, inherit or a file.
fn simple(target: &Target, number: i32, write: bool) -> io::Result<ChildEnd> {
    match target {
        Target::Inherit => {
            // SAFETY: procbox's standard streams stay open for its lifetime.
            Ok(ChildEnd::Inherit(unsafe { BorrowedFd::borrow_raw(number) }))
        }
        Target::File { path, root, append } => own(open_file(Beneath { root, path }, write, *append)?.into()),
        _ => Ok(ChildEnd::Null),
    }
}

fn own(fd: OwnedFd) -> io::Result<ChildEnd> {
    above_stdio(fd).map(ChildEnd::Own)
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = std::io::pipe()?;
    Ok((read.into(), write.into()))
}

/// One `/dev/null` for every child of the process, opened once: each
/// spawn places it with `dup2` instead of opening it anew.
fn dev_null() -> io::Result<BorrowedFd<'static>> {
    static DEV_NULL: OnceLock<OwnedFd> = OnceLock::new();
    if let Some(fd) = DEV_NULL.get() {
        return Ok(fd.as_fd());
    }
    let file = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null")?;
    let fd = above_stdio(file.into())?;
    Ok(DEV_NULL.get_or_init(|| fd).as_fd())
}

/// Opens a redirection file beneath the granted directory it was checked
/// in (so a directory swapped for a symlink since cannot lead out of it);
/// its last component must not be a symlink (O_NOFOLLOW). Only a regular
/// file will do: the open never blocks (O_NONBLOCK, so a FIFO with no one
/// at the other end cannot hang procbox), and a FIFO, a device or a socket
/// is refused once opened, before any child sees it.
fn open_file(file: Beneath<'_>, write: bool, append: bool) -> io::Result<std::fs::File> {
    use std::os::unix::fs::FileTypeExt;
    let access = match (write, append) {
        (false, _) => libc::O_RDONLY,
        (true, false) => libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
        (true, true) => libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND,
    };
    let not_regular = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is {what}, not a regular file; redirect only to regular files",
                file.path.display()
            ),
        )
    };
    let fd = file
        .open(access | libc::O_NOFOLLOW | libc::O_NONBLOCK, 0o644)
        .map_err(|e| match e.raw_os_error() {
            // A FIFO (or device) with no reader refuses a non-blocking writer.
            Some(libc::ENXIO) => not_regular("a FIFO or a device"),
            _ => e,
        })?;
    let file = std::fs::File::from(fd);
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        let what = match () {
            _ if kind.is_fifo() => "a FIFO",
            _ if kind.is_socket() => "a socket",
            _ if kind.is_char_device() || kind.is_block_device() => "a device",
            _ => "not a file",
        };
        return Err(not_regular(what));
    }
    set_blocking(&file)?;
    Ok(file)
}

/// Clears O_NONBLOCK: the child gets the file as an ordinary descriptor.
fn set_blocking(file: &std::fs::File) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(file)?;
    rustix::fs::fcntl_setfl(file, flags - rustix::fs::OFlags::NONBLOCK)?;
    Ok(())
}
