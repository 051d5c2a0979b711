//! `procbox worker`: runs `procbox-worker`, installed beside `procbox`, with
//! the same arguments. The worker is a program of its own so that
//! Temporal's dependency tree is built and shipped only by those who serve
//! plugins on a fleet.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

use crate::failure::Failure;

/// The worker's program name, looked for beside `procbox`.
const WORKER: &str = "procbox-worker";

/// Replaces this process with the worker; returns only if that failed.
/// Runs in `main` before any thread or runtime exists.
pub fn exec(args: &[OsString]) -> Failure {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(WORKER)))
        .filter(|path| path.is_file());
    let Some(program) = beside else {
        return Failure::usage_msg(format!(
            "procbox worker needs {WORKER} installed beside procbox, and it is not there"
        ))
        .with_hint("build it with `cargo build --release -p procbox-worker` (or install both from the same release)")
        .with_status(crate::failure::EXIT_PROCBOX_FAILED);
    };
    let error = std::process::Command::new(&program).args(args).exec();
    Failure::procbox(anyhow::Error::new(error).context(format!("cannot run {}", program.display())))
}
