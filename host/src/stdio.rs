//! Adapters from the child's OS pipes to standard `wasi:io` streams.
//!
//! wasmtime-wasi's own adapters do the work. Both keep memory bounded: the
//! reader holds at most one 64 KiB chunk in flight plus one buffered, so a
//! child that floods stdout blocks on its full pipe instead of growing the
//! host; the writer accepts at most [`STDIN_WRITE_BUDGET`] bytes until the
//! child has consumed them (`check-write` reports 0 meanwhile).

use std::os::fd::OwnedFd;

use tokio::net::unix::pipe;
use wasmtime_wasi::p2::pipe::{AsyncReadStream, AsyncWriteStream};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream};

use crate::error::SpawnError;

/// Bytes a plugin may have in flight towards a child's stdin: one pipe's
/// worth (the Linux default pipe size).
pub const STDIN_WRITE_BUDGET: usize = 64 * 1024;

/// The plugin's end of a child's stdout or stderr.
///
/// # Errors
/// [`SpawnError::Io`] if the pipe cannot be registered with the runtime.
pub fn reader(pipe_end: OwnedFd) -> Result<DynInputStream, SpawnError> {
    let pipe_end =
        pipe::Receiver::from_owned_fd(pipe_end).map_err(|e| SpawnError::io("registering an output pipe", e))?;
    Ok(Box::new(AsyncReadStream::new(pipe_end)))
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
