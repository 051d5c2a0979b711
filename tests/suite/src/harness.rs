//! Running a guest in process, on the library, as an embedder would: no
//! `procbox` binary, the plugin's own stdout and stderr captured.
//!
//! ```no_run
//! # use procbox_tests::{bounded, guests, run_guest};
//! # async fn echo_output_is_captured() {
//! let run = bounded!(run_guest(guests::ECHO, |p| p.allow_run("echo"), &[]));
//! run.assert_passed();
//! # }
//! ```
//!
//! Use it for everything the library decides: spawning, streams, the
//! policy's verdicts and limits, the plugin's budgets. Tests of what only
//! the command line does (flags, its exit codes and messages, signals to
//! procbox, the subreaper sweep of escaped grandchildren, `--audit`, the
//! cache) run the binary instead ([`crate::procbox`]).

use std::sync::{Arc, LazyLock};

use procbox::wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use procbox::{Limits, Outcome as RunOutcome, PolicyBuilder, RunError, RunOptions, Runtime};

use crate::{test_cache_dir, RUN_DEADLINE};

/// The most of each of the plugin's stdout and stderr that is kept.
const CAPTURE_BYTES: usize = 16 << 20;

/// One runtime for every test in a test binary, with the tests' compile
/// cache: each guest is compiled once per machine, and loaded from the
/// cache in a millisecond after that.
static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    Runtime::new()
        .expect("a wasmtime engine for this machine")
        .with_cache(test_cache_dir())
});

/// How an in-process run of a guest ended, and what it printed.
#[derive(Debug)]
pub struct Outcome {
    /// The plugin's exit code, or why the run failed: a trap (a failed
    /// check in a guest is a panic, which traps), its time or memory budget.
    pub code: Result<i32, RunError>,
    /// The plugin's own stdout.
    pub stdout: String,
    /// The plugin's own stderr (a failed check's panic message is here).
    pub stderr: String,
}

impl Outcome {
    /// Fails the test unless the guest exited 0: every check it makes
    /// passed.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(
            matches!(self.code, Ok(0)),
            "the guest failed: {:?}\n--- its stdout:\n{}--- its stderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
    }

    /// The message of the error the run failed with; fails the test if it
    /// did not fail.
    #[track_caller]
    pub fn failure(&self) -> String {
        match &self.code {
            Err(err) => err.to_string(),
            Ok(code) => panic!(
                "the run ended with exit code {code}, not an error\n--- stdout:\n{}--- stderr:\n{}",
                self.stdout, self.stderr
            ),
        }
    }
}

/// Runs the guest at `guest` (a [`crate::guests`] path) with `args` under
/// the policy that `policy` makes of an empty [`PolicyBuilder`] (which
/// grants nothing), and returns how it ended with what it printed. Every
/// child it started is reaped before this returns.
///
/// # Panics
/// If the policy does not build, the guest does not load, or the run takes
/// longer than [`RUN_DEADLINE`].
pub async fn run_guest(guest: &str, policy: impl FnOnce(PolicyBuilder) -> PolicyBuilder, args: &[&str]) -> Outcome {
    run_guest_until(guest, policy, args, std::future::pending()).await
}

/// [`run_guest`], stopped (as by a signal to the command line) when `stop`
/// completes with an exit code; its children are killed and reaped all the
/// same before this returns.
///
/// # Panics
/// As [`run_guest`].
pub async fn run_guest_until(
    guest: &str,
    policy: impl FnOnce(PolicyBuilder) -> PolicyBuilder,
    args: &[&str],
    stop: impl std::future::Future<Output = i32>,
) -> Outcome {
    let policy = policy(PolicyBuilder::new())
        .build()
        .unwrap_or_else(|e| panic!("the test's policy: {e}"));
    let plugin = RUNTIME
        .load_file(guest.as_ref())
        .unwrap_or_else(|e| panic!("loading {guest}: {e}"));
    let (stdout, stderr) = (
        MemoryOutputPipe::new(CAPTURE_BYTES),
        MemoryOutputPipe::new(CAPTURE_BYTES),
    );
    let (out, err) = (stdout.clone(), stderr.clone());
    let options = RunOptions::new(Arc::new(policy))
        .args(args.iter().copied())
        .wasi(move |wasi| {
            wasi.stdout(out.clone());
            wasi.stderr(err.clone());
        });
    let ended = tokio::time::timeout(RUN_DEADLINE, RUNTIME.run_until(&plugin, options, stop))
        .await
        .unwrap_or_else(|_| panic!("{guest} {args:?} did not finish within {RUN_DEADLINE:?}"));
    Outcome {
        code: ended.map(|outcome| match outcome {
            RunOutcome::Exited(code) | RunOutcome::Stopped(code) => code,
        }),
        stdout: String::from_utf8_lossy(&stdout.contents()).into_owned(),
        stderr: String::from_utf8_lossy(&stderr.contents()).into_owned(),
    }
}

/// The default [`Limits`] with what `set` changes, for
/// [`PolicyBuilder::limits`]: `limits(|l| l.max_children = Some(3))`.
pub fn limits(set: impl FnOnce(&mut Limits)) -> Limits {
    let mut limits = Limits::default();
    set(&mut limits);
    limits
}
