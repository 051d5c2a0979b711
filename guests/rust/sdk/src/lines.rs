//! Reading a child's output line by line while it runs, with a maximum
//! line length that is a recoverable error rather than a trap (asyncio's
//! `readline` raises on a 64 KiB line and loses the stream's position).

use std::io::{BufRead, BufReader, Read};

use crate::error::Error;

/// The default longest line [`Lines`] accepts: 1 MiB.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// An iterator over the lines of a reader (a child's stdout, say). Each
/// item is a line without its `\n` (or `\r\n`), or an error:
/// [`Error::LineTooLong`] for a line over the maximum, after which the
/// iterator continues with the next line; [`Error::Decode`] for invalid
/// UTF-8 (unless [`lossy`](Lines::lossy)), after which it also continues.
pub struct Lines<R> {
    reader: BufReader<R>,
    max: usize,
    lossy: bool,
    done: bool,
}

impl<R: Read> Lines<R> {
    /// Lines of `reader`, at most `max` bytes each.
    pub fn new(reader: R, max: usize) -> Lines<R> {
        Lines {
            reader: BufReader::with_capacity(64 * 1024, reader),
            max,
            lossy: false,
            done: false,
        }
    }

    /// Replaces invalid UTF-8 with U+FFFD instead of reporting it.
    pub fn lossy(mut self) -> Lines<R> {
        self.lossy = true;
        self
    }

    /// Reads one line into `line` (without the newline). Returns whether
    /// the line was cut at the maximum, or `None` at end of input.
    fn read_raw(&mut self, line: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
        let mut too_long = false;
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                return Ok(if line.is_empty() && !too_long {
                    None
                } else {
                    Some(too_long)
                });
            }
            let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
            let room = self.max.saturating_sub(line.len());
            if chunk.len() > room {
                too_long = true;
                line.extend_from_slice(&chunk[..room]);
            } else if !too_long {
                line.extend_from_slice(chunk);
            }
            let consumed = found.unwrap_or(available.len());
            self.reader.consume(consumed);
            if found.is_some() {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(too_long));
            }
        }
    }
}

impl<R: Read> Iterator for Lines<R> {
    type Item = Result<String, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut raw = Vec::new();
        match self.read_raw(&mut raw) {
            Err(e) => {
                self.done = true;
                Some(Err(e.into()))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Ok(Some(true)) => Some(Err(Error::LineTooLong { max: self.max })),
            Ok(Some(false)) if self.lossy => Some(Ok(String::from_utf8_lossy(&raw).into_owned())),
            Ok(Some(false)) => {
                Some(String::from_utf8(raw).map_err(|e| Error::Decode(format!("a line is not UTF-8: {e}"))))
            }
        }
    }
}
