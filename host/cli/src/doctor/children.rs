//! The doctor's throw-away children: procbox's own program started anew
//! (a fresh process with one thread, not a fork of a threaded procbox),
//! told its role by `argv[0]`. Each does one thing that must not happen
//! in procbox itself (confine itself, join a run's cgroup) and says how it
//! went by its exit code.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitCode, Stdio};

use super::{require, throwaway};

/// Confines itself and tries the gaps ([`throwaway::gaps_child`]).
pub const GAPS: &str = "procbox-doctor-gaps";
/// Joins a cgroup ([`require::join_child`]).
pub const JOIN: &str = "procbox-doctor-join";

/// Serves a role when this process was started as one; `None` otherwise.
/// Runs first in `main` of every procbox process, on its only thread.
pub fn serve_if_asked() -> Option<ExitCode> {
    let mut args = std::env::args_os();
    let role = args.next()?;
    let rest: Vec<OsString> = args.collect();
    let code = match role.as_bytes() {
        role if role == GAPS.as_bytes() => throwaway::gaps_child(&rest),
        role if role == JOIN.as_bytes() => require::join_child(&rest),
        _ => return None,
    };
    Some(ExitCode::from(code))
}

/// How a throw-away child ended.
pub struct Ended {
    /// Its exit code.
    pub code: u8,
    /// What it wrote to stderr.
    pub said: String,
}

/// Starts procbox's program as `role` with `args` and an empty
/// environment, and waits for it.
pub fn run(role: &str, args: &[&OsStr]) -> Result<Ended, String> {
    let out = Command::new("/proc/self/exe")
        .arg0(role)
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot start a throw-away child: {e}"))?;
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    match (out.status.code(), out.status.signal()) {
        (Some(code), _) => Ok(Ended {
            code: u8::try_from(code).unwrap_or(u8::MAX),
            said,
        }),
        (None, Some(signal)) => Err(format!("the throw-away child was ended by signal {signal}")),
        (None, None) => Err(format!("the throw-away child ended with {}", out.status)),
    }
}
