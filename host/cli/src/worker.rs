//! `procbox worker`: runs `procbox-worker`, installed beside `procbox`, with
//! the same arguments. The worker is a program of its own so that
//! Temporal's dependency tree is built and shipped only by those who serve
//! plugins on a fleet.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use crate::failure::Failure;

/// The worker's program name, looked for beside `procbox`.
const WORKER: &str = "procbox-worker";

/// Replaces this process with the worker; returns only if that failed.
/// Runs in `main` before any thread or runtime exists.
pub fn exec(args: &[OsString]) -> Failure {
    let Some(program) = beside() else {
        return Failure::usage_msg(format!(
            "procbox worker needs {WORKER} installed beside procbox, and it is not there"
        ))
        .with_hint("build it with `cargo build --release -p procbox-worker` (or install both from the same release)")
        .with_status(crate::failure::EXIT_PROCBOX_FAILED);
    };
    let error = std::process::Command::new(&program).args(args).exec();
    Failure::procbox(anyhow::Error::new(error).context(format!("cannot run {}", program.display())))
}

/// The worker's man page, from `procbox-worker --man-page` (its flags are
/// defined there, not here); `None` when it is not installed or fails.
pub fn man_page() -> Option<Vec<u8>> {
    let output = std::process::Command::new(beside()?)
        .arg("--man-page")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    output.status.success().then_some(output.stdout)
}

/// `procbox-worker` in procbox's own directory, if it is there.
fn beside() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join(WORKER)).filter(|path| path.is_file())
}
