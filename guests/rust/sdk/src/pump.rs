//! Feeding stdin and draining stdout and stderr at the same time.
//!
//! Reading one pipe to the end before the other deadlocks as soon as the
//! child fills the other pipe (the bug of the original asyncio design).
//! Here one loop polls every open stream and serves whichever is ready.

use crate::bindings::wasi::io::poll::{poll, Pollable};
use crate::bindings::wasi::io::streams::{InputStream, OutputStream, StreamError};
use crate::child::stream_error;
use crate::error::Error;

/// How much to take from a ready stream per read.
const READ_CHUNK: u64 = 64 * 1024;

/// Where stdin stands.
enum Feed<'a> {
    /// Still has bytes to write.
    Writing(OutputStream, &'a [u8]),
    /// All written; waiting for the flush to complete before closing.
    Flushing(OutputStream),
    /// Closed (or never piped).
    Done,
}

/// Writes `input` to `stdin` and closes it, while reading every one of
/// `outputs` to end-of-file. Returns what was read from each, in order
/// (empty for a `None`).
pub(crate) fn communicate(
    stdin: Option<OutputStream>,
    input: &[u8],
    outputs: &[Option<&InputStream>],
) -> Result<Vec<Vec<u8>>, Error> {
    let mut feed = match stdin {
        Some(stream) if !input.is_empty() => Feed::Writing(stream, input),
        // Nothing to send: dropping the stream now closes the pipe, so a
        // child that reads stdin sees end-of-file.
        other => {
            drop(other);
            Feed::Done
        }
    };
    let mut drains: Vec<Drain> = outputs.iter().map(|s| Drain::new(*s)).collect();
    while drains.iter().any(|d| d.open) || !matches!(feed, Feed::Done) {
        let ready = {
            let mut pollables: Vec<(Slot, Pollable)> = Vec::with_capacity(drains.len() + 1);
            if let Feed::Writing(s, _) | Feed::Flushing(s) = &feed {
                pollables.push((Slot::Stdin, s.subscribe()));
            }
            for (i, drain) in drains.iter().enumerate() {
                if let Some(s) = drain.stream.filter(|_| drain.open) {
                    pollables.push((Slot::Output(i), s.subscribe()));
                }
            }
            let refs: Vec<&Pollable> = pollables.iter().map(|(_, p)| p).collect();
            let ready = poll(&refs);
            ready.into_iter().map(|i| pollables[i as usize].0).collect::<Vec<_>>()
        };
        for slot in ready {
            match slot {
                Slot::Stdin => feed = feed.advance()?,
                Slot::Output(i) => drains[i].pull()?,
            }
        }
    }
    Ok(drains.into_iter().map(|d| d.bytes).collect())
}

#[derive(Clone, Copy)]
enum Slot {
    Stdin,
    Output(usize),
}

impl<'a> Feed<'a> {
    /// Makes progress on a stdin that polled ready.
    fn advance(self) -> Result<Feed<'a>, Error> {
        match self {
            Feed::Writing(stream, rest) => match stream.check_write() {
                Ok(0) => Ok(Feed::Writing(stream, rest)),
                Ok(n) => {
                    let n = rest.len().min(usize::try_from(n).unwrap_or(usize::MAX));
                    match stream.write(&rest[..n]) {
                        Ok(()) if n == rest.len() => start_flush(stream),
                        Ok(()) => Ok(Feed::Writing(stream, &rest[n..])),
                        Err(e) => closed_or_error(e),
                    }
                }
                Err(e) => closed_or_error(e),
            },
            // Ready again after `flush` means the flush finished.
            Feed::Flushing(_) => Ok(Feed::Done),
            Feed::Done => Ok(Feed::Done),
        }
    }
}

fn start_flush(stream: OutputStream) -> Result<Feed<'static>, Error> {
    match stream.flush() {
        Ok(()) => Ok(Feed::Flushing(stream)),
        Err(e) => closed_or_error(e),
    }
}

/// A child that closed its stdin early (EPIPE: reported once as a failed
/// operation, then as closed) simply does not want the rest; keep draining
/// its output.
fn closed_or_error(_: StreamError) -> Result<Feed<'static>, Error> {
    Ok(Feed::Done)
}

/// One output stream being read to the end.
pub(crate) struct Drain<'a> {
    pub(crate) stream: Option<&'a InputStream>,
    pub(crate) open: bool,
    pub(crate) bytes: Vec<u8>,
}

impl<'a> Drain<'a> {
    pub(crate) fn new(stream: Option<&'a InputStream>) -> Self {
        Drain {
            stream,
            open: stream.is_some(),
            bytes: Vec::new(),
        }
    }

    /// Takes everything available now from a stream that polled ready.
    pub(crate) fn pull(&mut self) -> Result<(), Error> {
        let Some(stream) = self.stream else { return Ok(()) };
        loop {
            match stream.read(READ_CHUNK) {
                Ok(chunk) if chunk.is_empty() => return Ok(()),
                Ok(chunk) => self.bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => {
                    self.open = false;
                    return Ok(());
                }
                Err(e) => return Err(stream_error(e).into()),
            }
        }
    }
}
