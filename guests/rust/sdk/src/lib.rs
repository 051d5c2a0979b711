//! Write procbox plugins: start operating-system processes from a
//! WebAssembly component, with an API shaped like `std::process` plus the
//! conveniences of execa, duct and asyncio.
//!
//! A plugin is an ordinary Rust binary built for `wasm32-wasip2`. Every
//! command it runs is checked by the host against the grants of the person
//! running it; a refusal is an [`Error::Denied`] value that names the rule.
//! The example plugins in `guests/rust/examples/` each show one part of this
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
//! # Errors
//!
//! Every fallible call returns [`Error`]; `Debug` and `Display` write the
//! same one line. Which variant, and when:
//!
//! | variant | when |
//! |---|---|
//! | [`Error::Denied`] | starting a child (any call that starts one: [`Command::spawn`], `output`, `status`, `read`, a [`Pipeline`] stage, a [`Queue`] entry) that the grants or the plugin's manifest refuse (its program and arguments, a variable it sets, its working directory, a file it is redirected to), or that procbox cannot confine as the grants require; the message names the rule and the grant that would allow it |
//! | [`Error::NotFound`] | starting a child whose program is not on the host's `PATH` (or not at the path given) |
//! | [`Error::InvalidInput`] | a malformed request: an empty program, a NUL byte, arguments or variables over the size limits, a variable name with `=`, a working directory that does not exist or is not a directory, a child given as stdin whose stdout was taken; [`wait_any`] with no children |
//! | [`Error::LimitExceeded`] | starting a child past a limit of the grants: children running at once (`max-children`), children in total (`max-spawns`), processes in the tree (`max-processes`), handles the plugin holds |
//! | [`Error::Io`] | the operating system refused (starting the child, for a reason other than a missing file; a signal; collecting an exit status), or a stream to a child failed: a read, or a write to a child that closed its stdin (the `std::io::Error` of [`ChildStdin`]'s `Write` is `BrokenPipe` then) |
//! | [`Error::Failed`] | a checked call ([`Command::output`], `status`, `read`, [`Pipeline::output`], a [`Queue`] entry) whose child ran and did not succeed by [`ExitStatus::success`]: a non-zero exit, a signal, a timeout, output cut at the grants' cap; never from [`Command::unchecked`] or [`Child::wait`] |
//! | [`Error::LineTooLong`] | a [`Lines`] iterator met a line over its maximum ([`DEFAULT_MAX_LINE`], or `lines_with_max`); the line is skipped and the iterator goes on |
//! | [`Error::Decode`] | [`Command::read`], [`Output::stdout_text`] or a [`Lines`] iterator met bytes that are not UTF-8; [`Output::json`] output that is not the JSON expected |
//! | [`Error::Cancelled`] | a fail-fast [`Queue`] entry that was not started, or was killed, after an earlier one failed |
//!
//! The first five are the host's own (`procbox:host`'s `error` variant), so
//! they come from every call that reaches the host. A plugin that returns
//! an `Error` from `main` prints `Error: denied: ...` and exits 1.
//!
//! # Concurrency
//!
//! Every call blocks the plugin's one thread until it has done what was
//! asked ([`Command::output`] until the child ended, a read until bytes
//! came). The children themselves always run in parallel with the plugin
//! and with each other; what is serial is only the plugin's waiting. To
//! run several at once:
//!
//! - spawn them all, then wait: [`Command::spawn`] returns at once, and
//!   [`wait_any`] (or [`Child::wait_timeout`]) waits on several in one
//!   `wasi:io/poll`;
//! - a [`Queue`] with [`Queue::parallel`]`(n)` runs up to `n` commands at
//!   once, draining every running child's stdout and stderr in one poll,
//!   and returns the results in order;
//! - a [`Pipeline`] connects children through OS pipes: they run together,
//!   and no byte passes through the plugin.
//!
//! There are no threads and no async runtime (`wasm32-wasip2` has
//! neither); one [`Command::output`] reads its child's stdout and stderr
//! together, so no single call can deadlock on a full pipe.
//!
//! # Memory
//!
//! A hello world needs about 1.1 MiB of plugin memory
//! (`--max-plugin-memory`, the cap on the plugin's linear memories): the
//! `echo` scenario guest, which captures `echo hello world`, runs in 1152
//! KiB and not in 1088 KiB (bisected 2026-12-05 in 64 KiB pages), so
//! `2MiB` is plenty. What it captures comes on top: [`Command::output`]
//! holds the whole stdout and stderr, a [`Lines`] iterator one line (at
//! most its maximum), a [`Pipeline`] its last stage's stdout and every
//! stage's stderr (what flows between stages stays in OS pipes).
//!
//! # The manifest
//!
//! [`embed_manifest!`] compiles the plugin's manifest (what it asks to
//! run) into the plugin, so `procbox run PLUGIN --grant-requested` finds it
//! right after `cargo build`:
//!
//! ```ignore
//! procbox_sdk::embed_manifest!("my-tool.manifest.toml"); // beside Cargo.toml
//! ```
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
        path: "../../../wit",
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
mod manifest;
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
