//! Adapters from the child's OS pipes to standard `wasi:io` streams.
//!
//! Both keep memory bounded. The reader holds at most one chunk of
//! [`READ_CHUNK`] bytes in flight plus one buffered, so a child that floods
//! stdout blocks on its full pipe instead of growing the host. The writer
//! (wasmtime-wasi's) accepts at most [`STDIN_WRITE_BUDGET`] bytes until the
//! child has consumed them (`check-write` reports 0 meanwhile).
//!
//! End-of-file comes when every writer closed the pipe, **or** when the
//! child has been reaped and what it left in the pipe has been read: a
//! grandchild that escaped the process group and still holds the pipe open
//! cannot make a reader hang (the CPython #119710 trap).
//!
//! With an output cap, stdout and stderr of one child share an
//! [`OutputBudget`]: the plugin may read that many bytes in total; the first
//! byte beyond it kills the child and ends both streams.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::sync::mpsc;
use wasmtime_wasi::p2::pipe::AsyncWriteStream;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, InputStream, Pollable, StreamError, StreamResult};

use crate::error::SpawnError;
use crate::supervisor::{ExitWaiter, OutputLimiter};

/// The most bytes one read from a child's pipe returns.
pub const READ_CHUNK: usize = 64 * 1024;

/// Bytes a plugin may have in flight towards a child's stdin: one pipe's
/// worth (the Linux default pipe size).
pub const STDIN_WRITE_BUDGET: usize = 64 * 1024;

/// The output one child may still deliver to the plugin.
#[derive(Debug)]
pub struct OutputBudget {
    remaining: AtomicU64,
    limiter: OutputLimiter,
}

impl OutputBudget {
    /// A budget of `bytes` for the child behind `limiter`.
    pub fn new(bytes: u64, limiter: OutputLimiter) -> Arc<Self> {
        Arc::new(OutputBudget {
            remaining: AtomicU64::new(bytes),
            limiter,
        })
    }

    /// Takes up to `wanted` bytes from the budget; returns how many.
    fn take(&self, wanted: u64) -> u64 {
        let mut taken = 0;
        let _ = self
            .remaining
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                taken = left.min(wanted);
                Some(left - taken)
            });
        taken
    }
}

/// The plugin's end of a child's stdout or stderr, optionally capped.
///
/// # Errors
/// [`SpawnError::Io`] if the pipe cannot be registered with the runtime.
pub fn reader(
    pipe_end: OwnedFd,
    exit: ExitWaiter,
    budget: Option<Arc<OutputBudget>>,
) -> Result<DynInputStream, SpawnError> {
    let pipe_end =
        pipe::Receiver::from_owned_fd(pipe_end).map_err(|e| SpawnError::io("registering an output pipe", e))?;
    let stream = ChildOutput::new(pipe_end, exit);
    Ok(match budget {
        None => Box::new(stream),
        Some(budget) => Box::new(CappedStream {
            inner: stream,
            budget,
            exhausted: false,
        }),
    })
}

/// The plugin's end of a child's stdin.
///
/// # Errors
/// [`SpawnError::Io`] if the pipe cannot be registered with the runtime.
pub fn writer(pipe_end: OwnedFd) -> Result<DynOutputStream, SpawnError> {
    let pipe_end =
        pipe::Sender::from_owned_fd(pipe_end).map_err(|e| SpawnError::io("registering the stdin pipe", e))?;
    Ok(Box::new(AsyncWriteStream::new(STDIN_WRITE_BUDGET, pipe_end)))
}

/// What the reading task hands to the stream: a chunk, or the end.
type Chunk = StreamResult<Bytes>;

/// A child's stdout or stderr as a `wasi:io` input stream. A task reads
/// the pipe ahead, one chunk at a time, and ends the stream at end-of-file
/// or once the child is reaped and the pipe drained.
struct ChildOutput {
    receiver: mpsc::Receiver<Chunk>,
    /// Part of a chunk the plugin did not take yet, or the final error.
    pending: Option<Chunk>,
    closed: bool,
    task: tokio::task::JoinHandle<()>,
}

impl ChildOutput {
    fn new(pipe_end: pipe::Receiver, exit: ExitWaiter) -> ChildOutput {
        let (sender, receiver) = mpsc::channel(1);
        let task = tokio::spawn(pump_pipe(pipe_end, exit, sender));
        ChildOutput {
            receiver,
            pending: None,
            closed: false,
            task,
        }
    }

    /// Takes up to `size` bytes of `chunk`, keeping the rest for later.
    fn split(&mut self, mut chunk: Bytes, size: usize) -> Bytes {
        if chunk.len() > size {
            self.pending = Some(Ok(chunk.split_off(size)));
        }
        chunk
    }
}

impl Drop for ChildOutput {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads the pipe into `sender` until end-of-file, or until the child is
/// reaped and the pipe holds nothing more.
async fn pump_pipe(mut pipe_end: pipe::Receiver, exit: ExitWaiter, sender: mpsc::Sender<Chunk>) {
    let mut reaped = std::pin::pin!(exit.status());
    let mut child_gone = false;
    loop {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let read = if child_gone {
            // Only what is already in the pipe: an escaped grandchild may
            // hold the write end open forever.
            match read_available(&pipe_end, &mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
                other => other,
            }
        } else {
            tokio::select! {
                read = pipe_end.read_buf(&mut buf) => read,
                _ = &mut reaped => {
                    child_gone = true;
                    continue;
                }
            }
        };
        let chunk = match read {
            Ok(0) => Err(StreamError::Closed),
            Ok(_) => Ok(buf.freeze()),
            Err(e) => Err(StreamError::LastOperationFailed(e.into())),
        };
        let last = chunk.is_err();
        if sender.send(chunk).await.is_err() || last {
            return;
        }
    }
}

/// One non-blocking `read(2)` into `buf`'s spare capacity. (tokio's
/// `try_read_buf` trusts its cached readiness, which is still unset for a
/// pipe the reactor has not polled yet, and would report "would block"
/// with data waiting.)
fn read_available(pipe_end: &pipe::Receiver, buf: &mut BytesMut) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    let spare = buf.spare_capacity_mut();
    loop {
        // SAFETY: reads at most `spare.len()` bytes into memory we own; the
        // fd is the pipe's, non-blocking since tokio registered it.
        let n = unsafe { libc::read(pipe_end.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        if n >= 0 {
            // SAFETY: the kernel initialised the first `n` spare bytes.
            unsafe { buf.set_len(buf.len() + n as usize) };
            return Ok(n as usize);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[wasmtime_wasi::async_trait]
impl InputStream for ChildOutput {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let next = match self.pending.take() {
            Some(chunk) => chunk,
            None if self.closed => return Err(StreamError::Closed),
            None => match self.receiver.try_recv() {
                Ok(chunk) => chunk,
                Err(mpsc::error::TryRecvError::Empty) => return Ok(Bytes::new()),
                Err(mpsc::error::TryRecvError::Disconnected) => Err(StreamError::Closed),
            },
        };
        match next {
            Ok(chunk) => Ok(self.split(chunk, size)),
            Err(e) => {
                self.closed = true;
                Err(e)
            }
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for ChildOutput {
    async fn ready(&mut self) {
        if self.pending.is_some() || self.closed {
            return;
        }
        self.pending = Some(self.receiver.recv().await.unwrap_or(Err(StreamError::Closed)));
    }
}

/// An input stream that delivers at most its budget, then kills the child.
struct CappedStream {
    inner: ChildOutput,
    budget: Arc<OutputBudget>,
    exhausted: bool,
}

#[wasmtime_wasi::async_trait]
impl InputStream for CappedStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.exhausted {
            return Err(StreamError::Closed);
        }
        let allowed = self.budget.take(size as u64);
        if allowed > 0 {
            let bytes = self.inner.read(allowed as usize)?;
            // Return what was not used, so the other stream may have it.
            self.budget
                .remaining
                .fetch_add(allowed - bytes.len() as u64, Ordering::AcqRel);
            return Ok(bytes);
        }
        if size == 0 {
            return self.inner.read(0);
        }
        // The budget is spent: one more byte proves the child wrote too much.
        match self.inner.read(1)? {
            bytes if bytes.is_empty() => Ok(bytes),
            _ => {
                self.exhausted = true;
                self.budget.limiter.exceeded();
                Err(StreamError::Closed)
            }
        }
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedStream {
    async fn ready(&mut self) {
        if !self.exhausted {
            self.inner.ready().await
        }
    }
}
