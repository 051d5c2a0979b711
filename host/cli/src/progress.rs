//! Progress for slow compiles. Compiling a large plugin (CPython is 18 MB)
//! takes seconds to minutes the first time; loads from the cache take
//! milliseconds and print nothing.
//!
//! Once a compile has taken longer than a threshold (1 s), stderr shows:
//! - on a terminal, one line that updates every second and is erased when
//!   compiling ends: `procbox: compiling topn.wasm (18.4 MB), first run only… 12s`;
//! - otherwise (a log, a pipe), that line once, without the time and
//!   without carriage returns.
//!
//! `PROCBOX_PROGRESS_AFTER_MS` sets the threshold in milliseconds. It is
//! meant for tests (`0` makes every compile report), not for users, and the
//! docs do not mention it.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a compile may take before it is reported.
const DEFAULT_THRESHOLD: Duration = Duration::from_secs(1);
/// How often the terminal line's time is checked (it is redrawn when its
/// seconds change).
const REDRAW: Duration = Duration::from_millis(250);

/// A hook for [`procbox::Runtime::with_compile_hook`]: reports every compile
/// that takes longer than the threshold. `note` follows the size, e.g.
/// "first run only".
pub fn compile_hook(note: Option<&'static str>) -> impl Fn(&str, usize) -> Box<dyn std::any::Any> + Send + Sync {
    let threshold = std::env::var("PROCBOX_PROGRESS_AFTER_MS")
        .ok()
        .and_then(|ms| ms.trim().parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_THRESHOLD);
    let terminal = std::io::stderr().is_terminal();
    move |name, size| {
        let file = Path::new(name).file_name().map_or(name.into(), |f| f.to_string_lossy());
        let mut label = format!("compiling {file} ({})", megabytes(size));
        if let Some(note) = note {
            label.push_str(", ");
            label.push_str(note);
        }
        label.push('…');
        Box::new(Compiling::start(label, threshold, terminal))
    }
}

/// `18.4 MB`, `0.3 MB`.
fn megabytes(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// A compile in progress; dropping it ends the report (and erases the
/// terminal line) before anything else is printed.
struct Compiling {
    done: Option<mpsc::Sender<()>>,
    reporter: Option<JoinHandle<()>>,
}

impl Compiling {
    fn start(label: String, threshold: Duration, terminal: bool) -> Compiling {
        let started = Instant::now();
        let (done, finished) = mpsc::channel::<()>();
        let reporter = std::thread::Builder::new()
            .name("procbox-progress".into())
            .spawn(move || {
                // Ends early when `done` is dropped: the compile was fast.
                if finished.recv_timeout(threshold) != Err(RecvTimeoutError::Timeout) {
                    return;
                }
                // stderr is locked for each write only: the compiling thread
                // may log meanwhile.
                if !terminal {
                    let _ = writeln!(std::io::stderr(), "procbox: {label}");
                    return;
                }
                let mut shown = None;
                loop {
                    let seconds = started.elapsed().as_secs();
                    if shown != Some(seconds) {
                        let line = format!("\r\x1b[2Kprocbox: {label} {seconds}s");
                        let _ = std::io::stderr().write_all(line.as_bytes());
                        shown = Some(seconds);
                    }
                    if finished.recv_timeout(REDRAW) != Err(RecvTimeoutError::Timeout) {
                        break;
                    }
                }
                let _ = std::io::stderr().write_all(b"\r\x1b[2K");
            })
            .ok();
        Compiling {
            done: Some(done),
            reporter,
        }
    }
}

impl Drop for Compiling {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(reporter) = self.reporter.take() {
            let _ = reporter.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_megabytes() {
        assert_eq!(megabytes(18_400_000), "18.4 MB");
        assert_eq!(megabytes(312_000), "0.3 MB");
    }
}
