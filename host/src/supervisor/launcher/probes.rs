//! The kernel probes (Landlock, seccomp, a PID namespace), made for real in
//! a helper process exec'd from procbox's image ([`super::image`]), never
//! in a fork of a threaded procbox: making a namespace needs a process with
//! one thread, and the probe's set-up allocates.

use std::io::Read;
use std::os::fd::AsFd;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::{entry, image};

/// What the probe process found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probed {
    /// The Landlock ABI that really restricts a process (0: none).
    pub landlock_abi: u32,
    /// Whether a seccomp filter really loads.
    pub seccomp: bool,
    /// Whether children can get a PID namespace: `Ok(true)` when it needs a
    /// user namespace (procbox is not root); `Err` says why not.
    pub namespace: Result<bool, String>,
}

/// The probe's findings, once per process; `Err` when the probe process
/// could not run (said in one line).
pub fn probed() -> &'static Result<Probed, String> {
    static PROBED: OnceLock<Result<Probed, String>> = OnceLock::new();
    PROBED.get_or_init(|| {
        let found = run_probe().map_err(|e| e.to_string());
        if let Err(e) = &found {
            tracing::warn!("{e}: procbox counts this kernel as enforcing nothing");
        }
        found
    })
}

/// Runs in the probe process (one thread, clean image), which exits right
/// after: tries each mechanism on itself, with no child but the
/// namespace's init. The namespace first: Landlock and seccomp stay on the
/// process once tried.
pub fn probe_here() -> Probed {
    let namespace = crate::containment::namespace::probe_here();
    let (landlock_abi, seccomp) = crate::confine::probe::probe_here();
    Probed {
        landlock_abi,
        seccomp,
        namespace,
    }
}

/// Starts the probe process and reads its answer.
fn run_probe() -> std::io::Result<Probed> {
    let (mut answer, write_end) = std::io::pipe()?;
    // The sweep of adopted orphans decides under this lock: it must not
    // reap the probe (and lose its answer).
    let _owned = crate::supervisor::owned::Owned::lock();
    let streams = image::Streams {
        stdout: Some(write_end.as_fd()),
        fd3: None,
    };
    let pid = image::start(entry::PROBE, &streams, true)?;
    drop(write_end);
    let mut json = Vec::new();
    let read = answer.read_to_end(&mut json);
    let pid = rustix::process::Pid::from_raw(pid);
    let status = loop {
        match rustix::process::waitpid(pid, rustix::process::WaitOptions::empty()) {
            Ok(Some((_, status))) => break status.as_raw(),
            Err(rustix::io::Errno::INTR) => {}
            _ => break 0,
        }
    };
    read?;
    let not_a_probe = |why: String| {
        std::io::Error::other(format!(
            "{} did not answer as procbox's probe ({why}); if it is not a program linked with this version \
             of procbox, name one with procbox::set_launcher_program",
            image::program().display()
        ))
    };
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(not_a_probe(format!("it ended with status {status:#x}")));
    }
    serde_json::from_slice(&json).map_err(|e| not_a_probe(e.to_string()))
}
