//! The worker's contract with workflows: what an activity of type
//! `procbox.run` takes, what it returns, and the application-failure types
//! it fails with. `docs/reference.md` and `docs/fleet.md` describe the same; the
//! tests drive it with the `temporal` CLI and a Python workflow.

use serde::{Deserialize, Serialize};
use serde_json::json;
use temporalio_sdk::activities::ActivityError;
use temporalio_sdk::ApplicationFailure;

/// The activity type and the built-in workflow type.
pub const RUN: &str = "procbox.run";

/// A workflow's request: which plugin, with what. Only `plugin` is required.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// A `[plugins.NAME]` of the worker's worker.toml.
    pub plugin: String,
    /// The plugin's arguments, after its name.
    #[serde(default)]
    pub args: Vec<String>,
    /// The plugin's own stdin (empty when absent).
    #[serde(default)]
    pub stdin: Option<String>,
    /// Seconds the plugin may run (the built-in workflow's start-to-close
    /// timeout is a little longer, so this one ends it as `ProcboxTimeout`).
    #[serde(default)]
    pub timeout_s: Option<f64>,
    /// Whether a non-zero exit fails the activity (`ProcboxExit`).
    #[serde(default = "yes")]
    pub check: bool,
    /// Attempts the built-in workflow allows (its retry policy); 1 by default.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// The BLAKE3 the plugin's bytes must have (hex).
    #[serde(default)]
    pub blake3: Option<String>,
}

fn yes() -> bool {
    true
}

/// What the built-in workflow gives a plugin when its input says nothing.
pub const DEFAULT_TIMEOUT_S: f64 = 600.0;

impl Input {
    /// Reads a workflow's JSON; every mistake is one line for the workflow's
    /// author.
    pub fn parse(value: serde_json::Value) -> Result<Input, Failure> {
        // serde would also fill the struct from an array, by position.
        if !value.is_object() {
            return Err(Failure::InvalidInput(format!(
                "the input is {value:.40}, not a procbox.run request: send one JSON object, {{\"plugin\": \"NAME\", \"args\": [...], \"stdin\": \"...\"}}"
            )));
        }
        let input: Input = serde_json::from_value(value).map_err(|e| {
            Failure::InvalidInput(format!(
                "the input is not a procbox.run request ({e}); send {{\"plugin\": \"NAME\", \"args\": [...], \"stdin\": \"...\"}}"
            ))
        })?;
        if let Some(timeout) = input.timeout_s {
            if !(timeout.is_finite() && timeout > 0.0 && timeout <= 365.0 * 86400.0) {
                return Err(Failure::InvalidInput(format!(
                    "timeout_s is {timeout}: give a number of seconds above 0 (e.g. 600)"
                )));
            }
        }
        if input.max_attempts == Some(0) {
            return Err(Failure::InvalidInput(
                "max_attempts is 0: give 1 for one attempt, or more to retry".into(),
            ));
        }
        if let Some(hash) = &input.blake3 {
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Failure::InvalidInput(format!(
                    "blake3 {hash:?} is not a BLAKE3 hash: give 64 hex digits (`b3sum PLUGIN`)"
                )));
            }
        }
        Ok(input)
    }
}

/// A finished run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Output {
    /// The plugin's exit code.
    pub exit_code: i32,
    /// Its stdout: the first bytes, up to the cap, decoded lossily.
    pub stdout: String,
    /// Its stderr: the last bytes, up to the cap, decoded lossily.
    pub stderr: String,
    /// Whether stdout or stderr was cut to the cap.
    pub truncated: bool,
    /// From the activity's start in this worker to the plugin's end.
    pub duration_ms: u64,
    /// The plugin's name in worker.toml.
    pub plugin: String,
    /// The BLAKE3 of the bytes that ran.
    pub blake3: String,
    /// The identity of the worker that ran it.
    pub worker: String,
}

/// Why an activity failed, each an application-failure type a workflow can
/// match on (and a retry policy can list as non-retryable).
#[derive(Debug)]
pub enum Failure {
    /// No `[plugins.NAME]` of that name on this worker.
    UnknownPlugin(String),
    /// The input cannot be a request.
    InvalidInput(String),
    /// The plugin trapped or ran out of memory.
    Trap(String),
    /// The plugin ran out of time (`timeout_s`, the activity's deadline, or
    /// its `max-plugin-time`).
    Timeout(String),
    /// The plugin exited non-zero and `check` was true.
    Exit(Box<Output>),
    /// The worker stopped the run: it was shutting down and the drain
    /// ended, or the permission broker failed mid-run.
    WorkerStopped(String),
    /// The run could not start here (the file changed since the worker
    /// started, another plugin's bytes were pinned, the kernel cannot
    /// confine as required, the plugin could not be instantiated, e.g. a
    /// granted directory missing on this machine).
    NotStarted(String),
}

impl Failure {
    /// The application-failure type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Failure::UnknownPlugin(_) => "ProcboxUnknownPlugin",
            Failure::InvalidInput(_) => "ProcboxInvalidInput",
            Failure::Trap(_) => "ProcboxTrap",
            Failure::Timeout(_) => "ProcboxTimeout",
            Failure::Exit(_) => "ProcboxExit",
            Failure::WorkerStopped(_) => "ProcboxWorkerStopped",
            Failure::NotStarted(_) => "ProcboxNotStarted",
        }
    }

    /// Whether another attempt can only fail the same way.
    pub fn non_retryable(&self) -> bool {
        matches!(
            self,
            Failure::UnknownPlugin(_) | Failure::InvalidInput(_) | Failure::Trap(_)
        )
    }

    /// The message a workflow's author reads.
    pub fn message(&self) -> String {
        match self {
            Failure::Exit(output) => format!(
                "plugin {} exited with {}{}",
                output.plugin,
                output.exit_code,
                last_line(&output.stderr)
                    .map(|l| format!(
                        ": {}",
                        crate::capture::fit_as_json(l, LAST_LINE_CAP, crate::capture::Keep::Head)
                    ))
                    .unwrap_or_default()
            ),
            Failure::UnknownPlugin(m)
            | Failure::InvalidInput(m)
            | Failure::Trap(m)
            | Failure::Timeout(m)
            | Failure::WorkerStopped(m)
            | Failure::NotStarted(m) => m.clone(),
        }
    }

    /// Details for the workflow: a `ProcboxExit` carries the whole result
    /// (exit code, stdout head, stderr tail).
    fn details(&self) -> Option<serde_json::Value> {
        match self {
            Failure::Exit(output) => serde_json::to_value(output.as_ref()).ok(),
            _ => None,
        }
    }
}

/// How much of stderr's last line a `ProcboxExit` message repeats (the
/// whole stderr tail is in its details).
const LAST_LINE_CAP: usize = 1024;

/// The last non-empty line of `text`.
fn last_line(text: &str) -> Option<&str> {
    text.lines().rev().map(str::trim).find(|l| !l.is_empty())
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Message(String);

impl From<Failure> for ActivityError {
    fn from(failure: Failure) -> ActivityError {
        let failure = ApplicationFailure::builder(Message(failure.message()))
            .type_name(failure.type_name().to_string())
            .non_retryable(failure.non_retryable())
            .maybe_details(failure.details())
            .build();
        ActivityError::application(failure)
    }
}

/// What each heartbeat tells the workflow.
pub fn progress(stdout_bytes: u64, stderr_bytes: u64, children: u64) -> serde_json::Value {
    json!({ "stdout_bytes": stdout_bytes, "stderr_bytes": stderr_bytes, "children": children })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_plugin_is_required_and_check_defaults_to_true() {
        let input = Input::parse(json!({"plugin": "hello"})).unwrap();
        assert_eq!(input.plugin, "hello");
        assert!(input.args.is_empty() && input.stdin.is_none() && input.check);
    }

    #[test]
    fn a_bad_request_is_one_line_that_says_what_to_send() {
        let cases = [
            (json!({"args": []}), "missing field `plugin`"),
            (json!({"plugin": "a", "argv": []}), "unknown field `argv`"),
            (json!("hello"), "not a procbox.run request"),
            (json!(["job", []]), "send one JSON object"),
            (json!({"plugin": "a", "timeout_s": -1}), "timeout_s is -1"),
            (json!({"plugin": "a", "max_attempts": 0}), "max_attempts is 0"),
            (json!({"plugin": "a", "blake3": "abc"}), "64 hex digits"),
        ];
        for (value, expected) in cases {
            let failure = Input::parse(value.clone()).unwrap_err();
            assert_eq!(failure.type_name(), "ProcboxInvalidInput");
            assert!(failure.non_retryable());
            let message = failure.message();
            assert!(message.contains(expected), "{value}: {message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }

    #[test]
    fn an_exit_failure_names_the_code_and_the_last_line_of_stderr() {
        let output = Output {
            exit_code: 3,
            stdout: String::new(),
            stderr: "warming up\nno such branch: main\n\n".into(),
            truncated: false,
            duration_ms: 1,
            plugin: "git-report".into(),
            blake3: "0".repeat(64),
            worker: "w".into(),
        };
        let failure = Failure::Exit(Box::new(output));
        assert_eq!(
            failure.message(),
            "plugin git-report exited with 3: no such branch: main"
        );
        assert!(!failure.non_retryable());
        assert_eq!(failure.details().unwrap()["exit_code"], 3);
    }
}
