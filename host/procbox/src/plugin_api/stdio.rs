//! Adapters from the child's OS pipes to standard `wasi:io` streams.
//!
//! Both keep memory bounded. The reader holds at most one chunk in flight,
//! one queued, and the untaken rest of one the plugin read in part, so a
//! child that floods stdout blocks on its full pipe instead of growing the
//! host. Chunks start at [`MIN_CHUNK`] (the default
//! pipe size) and double, with the pipe, up to [`MAX_CHUNK`] only while the
//! plugin keeps up with a child that fills them: a bulk reader pays one
//! wakeup and one component call per MiB instead of per 64 KiB (2 GiB read
//! at 1.81 instead of 1.45 GB/s), and a plugin that does not read keeps the
//! small chunks. The writer
//! (wasmtime-wasi's) accepts at most [`STDIN_WRITE_BUDGET`] bytes until the
//! child has consumed them (`check-write` reports 0 meanwhile). An empty
//! write never reaches it (see [`ChildInput`]): wasmtime-wasi 48.0.8 queues
//! every write, empty ones too, without charging the budget, so a plugin
//! could grow the host by 32 bytes per empty write while the child does not
//! read (GHSA-5m8g-xhq4-4h93).
//!
//! End-of-file comes when every writer closed the pipe, **or** when the
//! child has been reaped and what the pipe held at that moment has been
//! read: a grandchild that escaped the process group and still holds the
//! pipe open, or keeps writing to it, cannot make a reader hang (the
//! CPython #119710 trap).
//!
//! With an output cap, stdout and stderr of one child share an
//! [`OutputBudget`]: the plugin may read that many bytes in total; the first
//! byte beyond it kills the child and ends both streams.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::sync::mpsc;
use wasmtime_wasi::p2::pipe::AsyncWriteStream;
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, InputStream, OutputStream, Pollable, StreamError, StreamResult,
};

use crate::gate::SpawnError;
use crate::supervisor::{ExitWaiter, OutputLimiter};

/// The first and smallest chunk read from a child's pipe: Linux's default
/// pipe size.
pub const MIN_CHUNK: usize = 64 * 1024;

/// The largest chunk, and the largest the pipe grows to (the default
/// `/proc/sys/fs/pipe-max-size` that an unprivileged process may set).
pub const MAX_CHUNK: usize = 1024 * 1024;

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
    Ok(Box::new(ChildInput {
        inner: AsyncWriteStream::new(STDIN_WRITE_BUDGET, pipe_end),
    }))
}

/// A child's stdin as a `wasi:io` output stream: wasmtime-wasi's
/// [`AsyncWriteStream`], except that an empty write is not queued.
///
/// `AsyncWriteStream::write` (wasmtime-wasi 48.0.8, `p2/write_stream.rs`)
/// pushes every buffer onto its queue and charges its length to the budget;
/// an empty one costs nothing, so it is accepted even when `check-write`
/// says 0, and while the writer task waits on a full pipe the queue grows
/// by one `Bytes` (32 bytes) per call, without bound. The advisory's fix is
/// in a later wasmtime-wasi than this build can use; this stays correct
/// after the upgrade.
///
/// An empty write is answered here instead, as `wasi:io` says: `Ok` on an
/// open stream (0 bytes never exceed the permit), and the same error the
/// inner stream would report (the last operation's failure once, then
/// `closed`), which `check_write` takes from it. (While a flush is pending
/// the inner stream would trap on an empty write; 0 bytes are within the
/// permit of 0 that `check-write` reports then, so here it is `Ok`.)
/// Every other call goes through; `write-zeroes` and
/// `blocking-write-and-flush` are the trait's defaults, through `write`.
struct ChildInput {
    inner: AsyncWriteStream,
}

#[wasmtime_wasi::async_trait]
impl OutputStream for ChildInput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if bytes.is_empty() {
            return self.inner.check_write().map(|_| ());
        }
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for ChildInput {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
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
/// reaped and what it left in the pipe has been read.
async fn pump_pipe(mut pipe_end: pipe::Receiver, exit: ExitWaiter, sender: mpsc::Sender<Chunk>) {
    let mut reaped = std::pin::pin!(exit.status());
    // Once the child is reaped: the bytes still to deliver, which is what
    // the pipe held then. An escaped grandchild may hold the write end open
    // and keep writing; that is not the child's output and must not keep
    // the stream open.
    let mut left_after_reap: Option<usize> = None;
    let mut chunk_size = ChunkSize::new();
    let mut growth = PipeGrowth::default();
    loop {
        // Once reaped, at most what is left: `with_capacity` gives exactly
        // the capacity asked for, and a read fills no more.
        let capacity = left_after_reap.map_or(chunk_size.current, |left| left.min(chunk_size.current));
        let mut buf = Vec::with_capacity(capacity);
        let read = match left_after_reap {
            Some(0) => Ok(0),
            Some(left) => match read_available(&pipe_end, &mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
                Ok(n) => {
                    left_after_reap = Some(left.saturating_sub(n));
                    Ok(n)
                }
                other => other,
            },
            None => tokio::select! {
                read = pipe_end.read_buf(&mut buf) => read,
                _ = &mut reaped => {
                    left_after_reap = Some(pipe_backlog(&pipe_end));
                    continue;
                }
            },
        };
        let filled = matches!(read, Ok(n) if n == chunk_size.current);
        let chunk = match read {
            Ok(0) => Err(StreamError::Closed),
            Ok(_) => Ok(Bytes::from(buf)),
            Err(e) => Err(StreamError::LastOperationFailed(e.into())),
        };
        let last = chunk.is_err();
        // The plugin keeps up if the previous chunk is already taken.
        let kept_up = match sender.try_send(chunk) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(chunk)) => {
                if sender.send(chunk).await.is_err() {
                    return;
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        };
        if last {
            return;
        }
        let before = chunk_size.current;
        if chunk_size.next(filled, kept_up) && !growth.grow(&pipe_end, chunk_size.current) {
            chunk_size.current = before; // the pipe could not grow: neither do reads
        }
    }
}

/// How much the next read of a pipe asks for.
struct ChunkSize {
    current: usize,
}

impl ChunkSize {
    fn new() -> ChunkSize {
        ChunkSize { current: MIN_CHUNK }
    }

    /// Adapts to the last read: double while reads fill their buffer and
    /// the plugin keeps up, back to the minimum as soon as it falls behind.
    /// A short read keeps the size: a bulk stream has them now and then, and
    /// a big buffer that holds a few bytes costs address space, not memory
    /// (only the pages the kernel wrote are resident).
    /// Returns whether the size grew.
    fn next(&mut self, filled: bool, kept_up: bool) -> bool {
        let before = self.current;
        self.current = match (filled, kept_up) {
            (true, true) => (before * 2).min(MAX_CHUNK),
            (_, false) => MIN_CHUNK,
            (false, true) => before,
        };
        self.current > before
    }
}

/// How far all of procbox's pipes together may grow beyond their default
/// size. Pipe buffers count against the user's quota
/// (`/proc/sys/fs/pipe-user-pages-soft`, 64 MiB by default), past which
/// every new pipe of this user, in any program, is cut to a page or two.
const GROWN_PIPES_BUDGET: usize = 16 * 1024 * 1024;

/// Bytes of [`GROWN_PIPES_BUDGET`] in use.
static GROWN_PIPE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// One pipe's share of [`GROWN_PIPES_BUDGET`], given back when dropped.
#[derive(Default)]
struct PipeGrowth {
    extra: usize,
}

impl PipeGrowth {
    /// Grows the pipe to hold `size` bytes, if the budget and the kernel
    /// allow it; returns whether it did.
    fn grow(&mut self, pipe_end: &pipe::Receiver, size: usize) -> bool {
        let more = size.saturating_sub(MIN_CHUNK).saturating_sub(self.extra);
        let reserved = GROWN_PIPE_BYTES.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            (used + more <= GROWN_PIPES_BUDGET).then_some(used + more)
        });
        if reserved.is_err() {
            return false;
        }
        let wanted = size.min(libc::c_int::MAX as usize);
        // Returns the new capacity.
        let capacity = rustix::pipe::fcntl_setpipe_size(pipe_end, wanted);
        if !capacity.is_ok_and(|capacity| capacity >= wanted) {
            GROWN_PIPE_BYTES.fetch_sub(more, Ordering::AcqRel);
            return false;
        }
        self.extra += more;
        true
    }
}

impl Drop for PipeGrowth {
    fn drop(&mut self) {
        GROWN_PIPE_BYTES.fetch_sub(self.extra, Ordering::AcqRel);
    }
}

/// How many bytes the pipe holds now (`FIONREAD`); if the kernel will not
/// say, "all there is", and the drain stops at the first empty read.
fn pipe_backlog(pipe_end: &pipe::Receiver) -> usize {
    match rustix::io::ioctl_fionread(pipe_end) {
        Ok(bytes) => usize::try_from(bytes).unwrap_or(usize::MAX),
        Err(_) => usize::MAX,
    }
}

/// One non-blocking `read(2)` into `buf`'s spare capacity. (tokio's
/// `try_read_buf` trusts its cached readiness, which is still unset for a
/// pipe the reactor has not polled yet, and would report "would block" with
/// data waiting.)
fn read_available(pipe_end: &pipe::Receiver, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    loop {
        // The fd is the pipe's, non-blocking since tokio registered it.
        match rustix::io::read(pipe_end, rustix::buffer::spare_capacity(buf)) {
            Ok(n) => return Ok(n),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_grow_only_while_reads_fill_them_and_the_plugin_keeps_up() {
        let mut size = ChunkSize::new();
        assert_eq!(size.current, MIN_CHUNK);
        let mut seen = vec![size.current];
        while size.next(true, true) {
            seen.push(size.current);
        }
        assert_eq!(seen, [64, 128, 256, 512, 1024].map(|k| k * 1024));
        assert!(!size.next(true, true), "capped at MAX_CHUNK");
        assert_eq!(size.current, MAX_CHUNK);
        assert!(!size.next(false, true), "a short read keeps the size");
        assert_eq!(size.current, MAX_CHUNK);
        assert!(!size.next(true, false), "a plugin that falls behind shrinks it");
        assert_eq!(size.current, MIN_CHUNK);
        assert!(!size.next(false, false));
        assert_eq!(size.current, MIN_CHUNK);
    }
}
