//! Write procbox plugins: start operating-system processes from a
//! WebAssembly component, with an API shaped like `std::process` plus the
//! conveniences of execa, duct and asyncio.
//!
//! A plugin is an ordinary Rust binary built for `wasm32-wasip2`. Every
//! command it runs is checked by the host against the grants of the person
//! running it; a refusal is an [`Error::Denied`] value that names the rule.
//! The example plugins in `guests/plugins/` each show one part of this
//! crate in a small real tool.
//!
//! # Capture
//!
//! ```no_run
//! use procbox_sdk::Command;
//! # fn main() -> Result<(), procbox_sdk::Error> {
//! let out = Command::new("git").args(["log", "--oneline", "-5"]).output()?;
//! print!("{}", out.stdout_lossy());
//! let branch = Command::new("git").args(["branch", "--show-current"]).read()?; // trimmed text
//! # Ok(()) }
//! ```
//!
//! A command that does not succeed is an [`Error::Failed`] that shows the
//! command line, the status, its duration and the end of stderr, unless
//! the command is [`Command::unchecked`]. Success has one definition,
//! written in `wit/process.wit` and shared with the host
//! ([`ExitStatus::success`]): exit code 0, no timeout, and no output cut
//! at the policy's cap. A command line in a message is written
//! as the host writes it in its own (see [`Command`]'s `Display`): words
//! with spaces, quotes or control characters are quoted.
//!
//! # Stream, with a line limit that is not a trap
//!
//! ```no_run
//! use procbox_sdk::{Command, Error, Stdio};
//! # fn main() -> Result<(), Error> {
//! let mut tail = Command::new("journalctl").arg("-f").stdout(Stdio::piped()).spawn()?;
//! for line in tail.stdout.take().unwrap().lines_with_max(64 * 1024) {
//!     match line {
//!         Ok(line) if line.contains("ERROR") => break,
//!         Ok(_) => {}
//!         Err(Error::LineTooLong { .. }) => continue, // skipped; the stream goes on
//!         Err(err) => return Err(err),
//!     }
//! }
//! # Ok(()) } // dropping `tail` kills journalctl's whole process group
//! ```
//!
//! # Feed stdin while reading output
//!
//! ```no_run
//! # use procbox_sdk::Command;
//! # fn main() -> Result<(), procbox_sdk::Error> {
//! let sorted = Command::new("sort").input("b\na\n").read()?;
//! # Ok(()) }
//! ```
//!
//! By hand, [`ChildStdin`] implements `std::io::Write`: each write returns
//! once the pipe took the bytes, so a slow child throttles the writer.
//!
//! # Redirect, pipe, queue, wait
//!
//! ```no_run
//! use std::time::Duration;
//! use procbox_sdk::{wait_any, Command, Queue, Stdio};
//! # fn main() -> Result<(), procbox_sdk::Error> {
//! // Files in a directory the host grants; 2>&1.
//! Command::new("make").stdout(Stdio::append("build.log")).stderr_to_stdout().status()?;
//! // a | b | c, child to child through OS pipes. The rightmost failing
//! // stage is reported (pipefail), but a stage killed by SIGPIPE because a
//! // later one stopped reading (`… | head`) is not a failure.
//! let top = Command::new("git").args(["log", "--format=%an"])
//!     .pipe(&Command::new("sort"))
//!     .pipe(Command::new("uniq").arg("-c"))
//!     .output()?;
//! // Up to 4 at once, results in input order, fail-fast unless keep_going().
//! let results = Queue::new(["a.txt", "b.txt"].map(|f| { let mut c = Command::new("wc"); c.args(["-l", f]); c })).parallel(4).run();
//! // The first of several children, or a child against a deadline.
//! let mut a = Command::new("sleep").arg("1").spawn()?;
//! let mut b = Command::new("sleep").arg("2").spawn()?;
//! let (first, status) = wait_any(&mut [&mut a, &mut b])?;
//! let done = b.wait_timeout(Duration::from_millis(100))?;
//! # Ok(()) }
//! ```
//!
//! # Decode
//!
//! [`Output::stdout_text`] (strict UTF-8), [`Output::stdout_lossy`],
//! [`Output::stdout_trimmed`] and, with the default `json` feature,
//! [`Output::json`] into any `serde` type.
//!
//! # Differences from `std::process` worth knowing
//!
//! - **The environment starts empty.** Nothing is inherited; set what the
//!   child needs with [`Command::env`] (the host must grant it).
//! - **A non-zero exit is an error** for [`Command::output`],
//!   [`Command::status`] and [`Command::read`], as in duct and execa, and
//!   so are a signal, a timeout and truncated output; opt out with
//!   [`Command::unchecked`]. [`Child::wait`] returns the raw status.
//! - **Pipelines** report the rightmost failing stage, excuse SIGPIPE in a
//!   stage whose reader has ended, and let an unchecked stage hide only its
//!   own failure: the rule is on [`Pipeline`].
//! - **`2>&1`** is [`Command::stderr_to_stdout`].
//! - **A child never outlives its handle.** Dropping a [`Child`] kills the
//!   child's whole process group and reaps it.
//! - **Exit codes:** end the plugin with [`exit`] to report an exact code.

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "procbox:host/imports@0.2.1",
        generate_all,
    });

    /// The interface this SDK speaks (`procbox:host/process@0.2.1`).
    pub use self::procbox::host0_2_1::process;
}

mod child;
mod command;
mod error;
mod lines;
mod pipeline;
mod pump;
mod queue;
mod status;
mod wait;

pub use child::{Child, ChildStderr, ChildStdin, ChildStdout};
pub use command::{Command, Stdio};
pub use error::{Error, Failure};
pub use lines::{Lines, DEFAULT_MAX_LINE};
pub use pipeline::{Pipeline, PipelineOutput};
pub use queue::Queue;
pub use status::{ExitStatus, Output, TreeUsage, Usage};
pub use wait::wait_any;

/// A signal that a plugin may send to its own children.
pub use bindings::process::Signal;

/// Ends the plugin with exit code `code`, which becomes procbox's exit
/// code. Children still running are killed and reaped by the host.
///
/// Use this instead of `std::process::exit`: Rust's `wasm32-wasip2` standard
/// library reports every non-zero code as 1.
pub fn exit(code: u8) -> ! {
    bindings::wasi::cli::exit::exit_with_code(code);
    unreachable!("wasi:cli/exit.exit-with-code returned")
}
