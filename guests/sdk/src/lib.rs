//! Write procbox plugins: start operating-system processes from a
//! WebAssembly component, with an API shaped like `std::process`.
//!
//! A plugin is an ordinary Rust binary built for `wasm32-wasip2`. Every
//! command it runs is checked by the host against the grants of the person
//! running it; a refusal is an [`Error::Denied`] value that names the rule.
//!
//! ```no_run
//! use procbox_sdk::Command;
//!
//! fn main() -> Result<(), procbox_sdk::Error> {
//!     let out = Command::new("git").args(["log", "--oneline", "-5"]).output()?;
//!     print!("{}", out.stdout_lossy());
//!     Ok(())
//! }
//! ```
//!
//! Differences from `std::process` worth knowing:
//! - **The environment starts empty.** Nothing is inherited; set what the
//!   child needs with [`Command::env`].
//! - **A non-zero exit is an error** for [`Command::output`] and
//!   [`Command::status`], as in duct and execa; opt out with
//!   [`Command::unchecked`]. [`Child::wait`] returns the raw status.
//! - **Exit codes:** end the plugin with [`exit`] to report an exact code.
//! - **A child never outlives its handle.** Dropping a [`Child`] kills the
//!   child's whole process group and reaps it.

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "procbox:host/imports",
        generate_all,
    });
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
pub use status::{ExitStatus, Output, Usage};
pub use wait::wait_any;

/// A signal that a plugin may send to its own children.
pub use bindings::procbox::host::process::Signal;

/// Ends the plugin with exit code `code`, which becomes procbox's exit
/// code. Children still running are killed and reaped by the host.
///
/// Use this instead of `std::process::exit`: Rust's `wasm32-wasip2` standard
/// library reports every non-zero code as 1.
pub fn exit(code: u8) -> ! {
    bindings::wasi::cli::exit::exit_with_code(code);
    unreachable!("wasi:cli/exit.exit-with-code returned")
}
