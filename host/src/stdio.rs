//! Adapters from the child's OS pipes to standard `wasi:io` streams.
//!
//! wasmtime-wasi's own adapters do the work. Both keep memory bounded: the
//! reader holds at most one 64 KiB chunk in flight plus one buffered, so a
//! child that floods stdout blocks on its full pipe instead of growing the
//! host; the writer accepts at most [`STDIN_WRITE_BUDGET`] bytes until the
//! child has consumed them (`check-write` reports 0 meanwhile).
//!
//! With an output cap, stdout and stderr of one child share an
//! [`OutputBudget`]: the plugin may read that many bytes in total; the first
//! byte beyond it kills the child and ends both streams.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::unix::pipe;
use wasmtime_wasi::p2::pipe::{AsyncReadStream, AsyncWriteStream};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, InputStream, Pollable, StreamError, StreamResult};

use crate::error::SpawnError;
use crate::supervisor::OutputLimiter;

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
pub fn reader(pipe_end: OwnedFd, budget: Option<Arc<OutputBudget>>) -> Result<DynInputStream, SpawnError> {
    let pipe_end =
        pipe::Receiver::from_owned_fd(pipe_end).map_err(|e| SpawnError::io("registering an output pipe", e))?;
    let stream = AsyncReadStream::new(pipe_end);
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

/// An input stream that delivers at most its budget, then kills the child.
struct CappedStream {
    inner: AsyncReadStream,
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
