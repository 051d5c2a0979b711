//! A running child and its standard streams.

use std::io;

use crate::bindings::process as wit;
use crate::bindings::wasi::io::streams::{InputStream, OutputStream, StreamError};
use crate::error::Error;
use crate::pump;
use crate::status::{ExitStatus, Output};
use crate::Signal;

/// A started child process. Dropping it kills the child's process group
/// (if it still runs) and reaps it.
///
/// The stream fields are `Some` for each stream that was [`crate::Stdio::Piped`];
/// take them to read and write while the child runs.
#[derive(Debug)]
pub struct Child {
    /// The child's stdin, if piped. Drop it (or call [`Child::wait`]) to send
    /// end-of-file.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if piped.
    pub stderr: Option<ChildStderr>,
    // Declared last so the streams are dropped before the child.
    handle: wit::Child,
    pid: u32,
}

impl Child {
    pub(crate) fn new(handle: wit::Child) -> Child {
        Child {
            stdin: handle.take_stdin().map(ChildStdin),
            stdout: handle.take_stdout().map(ChildStdout),
            stderr: handle.take_stderr().map(ChildStderr),
            pid: handle.pid(),
            handle,
        }
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Waits for the child to exit. Closes stdin first, so a child that
    /// reads it to the end can finish. Returns the raw status: a non-zero
    /// exit is not an error here.
    ///
    /// # Errors
    /// [`Error::Io`] if the host could not collect the status.
    pub fn wait(&mut self) -> Result<ExitStatus, Error> {
        drop(self.stdin.take());
        self.wait_raw()
    }

    /// Waits without touching stdin.
    pub(crate) fn wait_raw(&mut self) -> Result<ExitStatus, Error> {
        Ok(self.handle.wait()?.into())
    }

    pub(crate) fn handle(&self) -> &wit::Child {
        &self.handle
    }

    /// The exit status if the child has exited, without blocking.
    ///
    /// # Errors
    /// [`Error::Io`] if the host could not collect the status.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, Error> {
        Ok(self.handle.try_wait()?.map(Into::into))
    }

    /// Kills the child's whole process group with SIGKILL. Does nothing if
    /// it has already exited.
    ///
    /// # Errors
    /// [`Error::Io`] if the kernel refused.
    pub fn kill(&mut self) -> Result<(), Error> {
        Ok(self.handle.kill()?)
    }

    /// Sends `signal` to the child process (not its group). Does nothing if
    /// it has already exited.
    ///
    /// # Errors
    /// [`Error::Io`] if the kernel refused.
    pub fn signal(&self, signal: Signal) -> Result<(), Error> {
        Ok(self.handle.send_signal(signal)?)
    }

    /// Sends `signal` to the child's whole process group: the child and
    /// what it started (unless they left the group). Does nothing if it has
    /// already been reaped.
    ///
    /// # Errors
    /// [`Error::Io`] if the kernel refused.
    pub fn signal_group(&self, signal: Signal) -> Result<(), Error> {
        Ok(self.handle.signal_group(signal)?)
    }

    /// Writes `input` to stdin (if piped) and closes it, while reading stdout
    /// and stderr (if piped) to the end, all at once, so that no pipe can
    /// fill up and deadlock; then waits for the exit. Like Python's
    /// `communicate()`.
    ///
    /// # Errors
    /// [`Error::Io`] if a stream fails. A child that closes its stdin early
    /// is not an error: the rest of `input` is dropped.
    pub fn communicate(mut self, input: &[u8]) -> Result<Output, Error> {
        let stdin = self.stdin.take().map(|s| s.0);
        let stdout = self.stdout.take();
        let stderr = self.stderr.take();
        let streams = [stdout.as_ref().map(|s| &s.0), stderr.as_ref().map(|s| &s.0)];
        let mut read = pump::communicate(stdin, input, &streams)?.into_iter();
        let (out, err) = (read.next().unwrap_or_default(), read.next().unwrap_or_default());
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout: out,
            stderr: err,
        })
    }

    /// Reads stdout and stderr to the end concurrently, then waits.
    ///
    /// # Errors
    /// [`Error::Io`] if a stream fails.
    pub fn wait_with_output(self) -> Result<Output, Error> {
        self.communicate(&[])
    }
}

/// The writing end of a child's stdin. Each `write` returns once the bytes
/// are in the pipe, so a slow child slows the writer down and nothing piles
/// up in memory.
#[derive(Debug)]
pub struct ChildStdin(pub(crate) OutputStream);

/// The reading end of a child's stdout.
#[derive(Debug)]
pub struct ChildStdout(pub(crate) InputStream);

/// The reading end of a child's stderr.
#[derive(Debug)]
pub struct ChildStderr(pub(crate) InputStream);

impl io::Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let permitted = loop {
            match self.0.check_write().map_err(stream_error)? {
                0 => self.0.subscribe().block(),
                n => break n,
            }
        };
        let n = buf.len().min(usize::try_from(permitted).unwrap_or(usize::MAX));
        self.0.write(&buf[..n]).map_err(stream_error)?;
        // Wait until the bytes reached the pipe: dropping the stream after
        // `write` returned must not lose them.
        self.0.blocking_flush().map_err(stream_error)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.blocking_flush().map_err(stream_error)
    }
}

impl ChildStdout {
    /// The lines of stdout as they arrive, at most [`crate::DEFAULT_MAX_LINE`]
    /// bytes each (see [`crate::Lines`]).
    pub fn lines(self) -> crate::Lines<ChildStdout> {
        crate::Lines::new(self, crate::DEFAULT_MAX_LINE)
    }

    /// The lines of stdout, at most `max` bytes each.
    pub fn lines_with_max(self, max: usize) -> crate::Lines<ChildStdout> {
        crate::Lines::new(self, max)
    }
}

impl ChildStderr {
    /// The lines of stderr as they arrive (see [`crate::Lines`]).
    pub fn lines(self) -> crate::Lines<ChildStderr> {
        crate::Lines::new(self, crate::DEFAULT_MAX_LINE)
    }
}

impl io::Read for ChildStdout {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_blocking(&self.0, buf)
    }
}

impl io::Read for ChildStderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_blocking(&self.0, buf)
    }
}

/// One blocking read: at least one byte, or 0 at end-of-file.
fn read_blocking(stream: &InputStream, buf: &mut [u8]) -> io::Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    match stream.blocking_read(buf.len() as u64) {
        Ok(bytes) => {
            buf[..bytes.len()].copy_from_slice(&bytes);
            Ok(bytes.len())
        }
        Err(StreamError::Closed) => Ok(0),
        Err(e) => Err(stream_error(e)),
    }
}

pub(crate) fn stream_error(err: StreamError) -> io::Error {
    match err {
        StreamError::Closed => io::Error::new(io::ErrorKind::BrokenPipe, "the stream is closed"),
        StreamError::LastOperationFailed(e) => io::Error::other(e.to_debug_string()),
    }
}
