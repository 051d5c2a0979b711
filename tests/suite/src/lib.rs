//! Helpers for the end-to-end tests: where the plugins are, running a
//! guest in process ([`run_guest`]) or through the `procbox` binary with a
//! deadline ([`procbox`], [`procbox_run`]), and checking for leftover
//! processes.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

pub mod harness;
pub mod help;
pub mod language;
pub mod readme;
pub mod terminal;

pub use harness::{limits, run_guest, run_guest_until, Outcome};
pub use processes::*;
pub use users::*;

mod processes;
mod users;

/// Paths of the test plugins, built by `build.rs`.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// No single procbox run in the tests may take longer than this.
pub const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// No test may take longer than this.
pub const TEST_DEADLINE: Duration = Duration::from_secs(120);

/// Awaits `$body`, failing the test after [`TEST_DEADLINE`].
#[macro_export]
macro_rules! bounded {
    ($body:expr) => {
        tokio::time::timeout($crate::TEST_DEADLINE, $body)
            .await
            .expect("test deadline")
    };
}

/// The `procbox` binary that `cargo test` built next to the test binaries.
pub fn procbox_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let bin = dir.join("procbox");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build --bin procbox` (package procbox-cli), or run `cargo test --workspace`",
        bin.display()
    );
    bin
}

/// What a finished procbox run printed.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The value of the first `key=value` word for `key` in stdout (values
    /// without spaces).
    pub fn value(&self, key: &str) -> Option<String> {
        let prefix = format!("{key}=");
        self.stdout
            .split_whitespace()
            .find_map(|word| word.strip_prefix(&prefix).map(str::to_string))
    }

    /// The rest of the first stdout line that starts with `key=` (values
    /// with spaces, such as messages).
    pub fn line(&self, key: &str) -> Option<String> {
        let prefix = format!("{key}=");
        self.stdout
            .lines()
            .find_map(|line| line.strip_prefix(&prefix).map(str::to_string))
    }
}

/// `target/` (or `$CARGO_TARGET_DIR`): where this test binary, and the
/// procbox binary next to it, were built.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<test binary>")
        .to_path_buf()
}

/// The compilation cache every test's procbox uses: inside the target
/// directory, so a plugin is compiled once per machine, never into the
/// user's cache.
pub fn test_cache_dir() -> PathBuf {
    target_dir().join("procbox-test-cache")
}

/// The config directory every test's procbox uses unless the test gives
/// its own: one no test writes, so that grants remembered by the user (or
/// by another test) never reach a test.
pub fn test_config_dir() -> PathBuf {
    target_dir().join("procbox-test-config-unwritten")
}

/// `procbox ARGS` as every test runs it: no stdin, stdout and stderr piped,
/// killed if the test drops it, a compilation cache inside the target
/// directory rather than the user's, and no progress line for a slow
/// compile (a plugin's first compile on a busy machine can take over the
/// default second, and tests compare stderr exactly; the progress tests set
/// their own threshold).
fn procbox_command(args: &[&str]) -> tokio::process::Command {
    wrapped_procbox_command(&[], args)
}

/// `WRAPPER... procbox ARGS` (`setpriv ...`, `subreaper`), set up as
/// [`procbox_command`].
fn wrapped_procbox_command(wrapper: &[&str], args: &[&str]) -> tokio::process::Command {
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut command = tokio::process::Command::new(program);
            command.args(rest).arg(procbox_bin());
            command
        }
        None => tokio::process::Command::new(procbox_bin()),
    };
    command.env("PROCBOX_CACHE_DIR", test_cache_dir());
    command.env("PROCBOX_CONFIG_DIR", test_config_dir());
    command.env("PROCBOX_PROGRESS_AFTER_MS", "3600000");
    // Warnings must show without it; it would add log lines to stderr.
    command.env_remove("PROCBOX_LOG");
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `procbox ARGS` with extra environment variables (see [`procbox`]).
pub async fn procbox_with_env(vars: &[(&str, &std::path::Path)], args: &[&str]) -> Run {
    let mut command = procbox_command(args);
    command.envs(vars.iter().map(|(k, v)| (*k, *v)));
    finish(command, args, RUN_DEADLINE).await
}

/// Runs `procbox ARGS` in `dir` to completion (see [`procbox`]).
pub async fn procbox_in(dir: &std::path::Path, args: &[&str]) -> Run {
    let mut command = procbox_command(args);
    command.current_dir(dir);
    finish(command, args, RUN_DEADLINE).await
}

/// Runs `procbox ARGS` to completion, failing the test if it takes longer
/// than [`RUN_DEADLINE`] (the process is killed then).
pub async fn procbox(args: &[&str]) -> Run {
    finish(procbox_command(args), args, RUN_DEADLINE).await
}

/// Runs `procbox ARGS` as [`procbox`] does, with a longer bound than
/// [`RUN_DEADLINE`] for a run whose work is long by design (say why at the
/// call: a bound wider than the work needs hides nothing but a hang).
pub async fn procbox_long(args: &[&str], deadline: Duration) -> Run {
    finish(procbox_command(args), args, deadline).await
}

async fn finish(mut command: tokio::process::Command, args: &[&str], deadline: Duration) -> Run {
    let child = command.spawn().expect("start procbox");
    let output = tokio::time::timeout(deadline, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("procbox {args:?} did not finish within {deadline:?}"))
        .expect("wait for procbox");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a guest through the binary with any procbox flags:
/// `procbox run GUEST FLAGS -- ARGS` (see [`procbox`]).
pub async fn procbox_run(guest: &str, flags: &[&str], args: &[&str]) -> Run {
    let mut argv = vec!["run", guest];
    argv.extend(flags);
    argv.push("--");
    argv.extend(args);
    procbox(&argv).await
}

/// A git repository in `dir/repo` with `commits` commits ("change 1", ...),
/// for the `recent` examples; returns its path.
pub fn git_repository(dir: &std::path::Path, commits: usize) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir(&repo).expect("create the repository's directory");
    let git = |args: &[&str]| git_in(&repo, args);
    git(&["init", "-q"]);
    for n in 1..=commits {
        std::fs::write(repo.join("f"), n.to_string()).expect("write f");
        git(&["add", "f"]);
        git(&["commit", "-q", "-m", &format!("change {n}")]);
    }
    repo
}

/// `git ARGS` in `repo`, natively; its stdout.
pub fn git_in(repo: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-C"])
        .arg(repo)
        .args(args)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}
