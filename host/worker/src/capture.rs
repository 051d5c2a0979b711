//! The plugin's own stdout and stderr in a worker: kept in memory, capped,
//! and returned in the activity's result.
//!
//! wasmtime-wasi's `MemoryOutputPipe` traps the plugin at its capacity; a
//! plugin that prints a lot must not fail because of where its output
//! goes. This stream takes every write and keeps the first bytes (stdout:
//! what a reader looks at first) or the last bytes (stderr: where the
//! error is), counts the rest, and says it cut.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use procbox::wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use procbox::wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use tokio::io::AsyncWrite;

/// Which bytes a capture keeps when output passes its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The first `cap` bytes.
    Head,
    /// The last `cap` bytes.
    Tail,
}

#[derive(Debug, Default)]
struct Buffer {
    bytes: Vec<u8>,
    /// Every byte written, kept or not.
    written: u64,
}

/// One captured stream; clones share it.
#[derive(Debug, Clone)]
pub struct Capture {
    keep: Keep,
    cap: usize,
    buffer: Arc<Mutex<Buffer>>,
}

impl Capture {
    /// A capture that keeps `cap` bytes.
    pub fn new(keep: Keep, cap: usize) -> Capture {
        Capture {
            keep,
            cap,
            buffer: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn append(&self, data: &[u8]) {
        let mut buffer = self.lock();
        buffer.written += data.len() as u64;
        match self.keep {
            Keep::Head => {
                let room = self.cap.saturating_sub(buffer.bytes.len());
                buffer.bytes.extend_from_slice(&data[..data.len().min(room)]);
            }
            Keep::Tail => {
                buffer.bytes.extend_from_slice(data);
                // Trim only when twice the cap: each byte is moved at most
                // once per cap's worth of output.
                if buffer.bytes.len() > 2 * self.cap {
                    let cut = buffer.bytes.len() - self.cap;
                    buffer.bytes.drain(..cut);
                }
            }
        }
    }

    /// Bytes written so far, kept or not.
    pub fn written(&self) -> u64 {
        self.lock().written
    }

    /// What was kept, decoded lossily (a cut can split a character), cut
    /// further so that it is at most `cap` bytes *as a JSON string* (a
    /// control character takes six there, an invalid byte three as U+FFFD:
    /// the result must stay under Temporal's payload limit whatever the
    /// plugin prints), and whether anything was cut.
    pub fn text(&self) -> (String, bool) {
        let buffer = self.lock();
        let kept = match self.keep {
            Keep::Head => &buffer.bytes[..],
            Keep::Tail => &buffer.bytes[buffer.bytes.len().saturating_sub(self.cap)..],
        };
        let decoded = String::from_utf8_lossy(kept);
        let text = fit_as_json(&decoded, self.cap, self.keep);
        let truncated = buffer.written > kept.len() as u64 || text.len() < decoded.len();
        (text, truncated)
    }
}

/// The longest head or tail of `text` whose JSON string encoding (without
/// the quotes) takes at most `cap` bytes.
pub fn fit_as_json(text: &str, cap: usize, keep: Keep) -> String {
    let encoded = |c: char| match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    };
    let mut used = 0;
    let fits = |c: &char| {
        used += encoded(*c);
        used <= cap
    };
    match keep {
        Keep::Head => text.chars().take_while(fits).collect(),
        Keep::Tail => {
            let mut tail: Vec<char> = text.chars().rev().take_while(fits).collect();
            tail.reverse();
            tail.into_iter().collect()
        }
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// Room promised to each `check-write`: writes never wait and never fail.
const PERMIT: usize = 64 * 1024;

#[procbox::wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(PERMIT)
    }
}

impl AsyncWrite for Capture {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.append(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_all(capture: &Capture, chunks: &[&[u8]]) {
        let mut stream = capture.p2_stream();
        for chunk in chunks {
            assert!(stream.check_write().unwrap() > 0);
            stream.write(Bytes::copy_from_slice(chunk)).unwrap();
        }
    }

    #[test]
    fn under_the_cap_everything_is_kept() {
        let capture = Capture::new(Keep::Head, 16);
        write_all(&capture, &[b"hello ", b"world\n"]);
        assert_eq!(capture.text(), ("hello world\n".to_string(), false));
        assert_eq!(capture.written(), 12);
    }

    #[test]
    fn stdout_keeps_its_head_and_stderr_its_tail_past_the_cap() {
        let head = Capture::new(Keep::Head, 4);
        let tail = Capture::new(Keep::Tail, 4);
        for capture in [&head, &tail] {
            for i in 0..1000 {
                write_all(capture, &[format!("{}", i % 10).as_bytes()]);
            }
        }
        assert_eq!(head.text(), ("0123".to_string(), true));
        assert_eq!(tail.text(), ("6789".to_string(), true));
        assert_eq!(tail.written(), 1000);
        assert!(tail.lock().bytes.len() <= 8, "the tail buffer stays bounded");
    }

    #[test]
    fn control_characters_count_as_their_json_escapes() {
        let capture = Capture::new(Keep::Head, 12);
        write_all(&capture, &[b"\x01\x02\x03"]);
        let (text, truncated) = capture.text();
        assert_eq!(text, "\u{1}\u{2}", "two \\u0001 escapes fill 12 bytes");
        assert!(truncated);
        assert!(serde_json::to_string(&text).unwrap().len() <= 12 + 2);
        let tail = Capture::new(Keep::Tail, 7);
        write_all(&tail, &[b"ab\x01\"c"]);
        assert_eq!(tail.text(), ("\"c".to_string(), true));
    }

    #[test]
    fn a_character_cut_in_half_is_replaced_not_an_error() {
        let capture = Capture::new(Keep::Head, 2);
        write_all(&capture, &["é!".as_bytes(), "é".as_bytes()]);
        let (text, truncated) = capture.text();
        assert_eq!(text, "é");
        assert!(truncated);
        let cut = Capture::new(Keep::Head, 1);
        write_all(&cut, &["é".as_bytes()]);
        // Half a character decodes to U+FFFD, three bytes: over a cap of
        // one, so nothing is kept.
        assert_eq!(cut.text(), (String::new(), true));
        let replaced = Capture::new(Keep::Head, 3);
        write_all(&replaced, &[&"é".as_bytes()[..1]]);
        assert_eq!(replaced.text().0, "\u{fffd}");
    }
}
