//! How the command line fails: one line that says what went wrong and why,
//! then, where there is something useful to say, one line with what to do,
//! and an exit status that says who was wrong.
//!
//! ```text
//! procbox: error: core.wasm is a core WebAssembly module, not a component
//!   hint: build for wasm32-wasip2 (cargo build --target wasm32-wasip2) or run `wasm-tools component new`
//! ```
//!
//! Errors are rendered in one place, [`Failure::render`]. A hint is either
//! attached where the error is made ([`Failure::with_hint`]) or found from
//! the library's error types in the chain ([`known_hint`]).

use std::fmt::Write as _;

use procbox::{LoadError, PolicyError, RunError};

/// Exit status for a wrong command line, grant or policy file.
pub const EXIT_USAGE: u8 = 2;
/// The plugin ran out of its time budget (as GNU `timeout` reports it).
pub const EXIT_OUT_OF_TIME: u8 = 124;
/// The permission broker failed (unreachable, a malformed or late answer):
/// the run was stopped.
pub const EXIT_BROKER_FAILED: u8 = 123;
/// procbox's own failures (a bad plugin, a trap) exit with this code, as
/// `env`, `timeout` and `docker run` do; a plugin's exit code passes
/// through unchanged.
pub const EXIT_PROCBOX_FAILED: u8 = 125;

/// A failed command: the error, an optional hint, and the exit status.
#[derive(Debug)]
pub struct Failure {
    status: u8,
    error: anyhow::Error,
    hint: Option<String>,
}

/// Any error is procbox's own failure (exit status 125), except a plugin
/// that ran out of time (124). Usage errors say so with [`Failure::usage`].
impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        let error = error.into();
        let status = match error.downcast_ref::<RunError>() {
            Some(RunError::OutOfTime { .. }) => EXIT_OUT_OF_TIME,
            Some(RunError::Aborted { .. }) => EXIT_BROKER_FAILED,
            _ => EXIT_PROCBOX_FAILED,
        };
        Failure {
            status,
            error,
            hint: None,
        }
    }
}

impl Failure {
    /// procbox was called wrongly (exit status 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            status: EXIT_USAGE,
            ..Failure::from(error)
        }
    }

    /// procbox itself failed (exit status 125).
    pub fn procbox(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            status: EXIT_PROCBOX_FAILED,
            ..Failure::from(error)
        }
    }

    /// A usage failure with a message.
    pub fn usage_msg(message: impl std::fmt::Display) -> Failure {
        Failure::usage(anyhow::anyhow!("{message}"))
    }

    /// The same failure with another exit status.
    pub fn with_status(self, status: u8) -> Failure {
        Failure { status, ..self }
    }

    /// The same failure with `hint` as what to do about it.
    pub fn with_hint(self, hint: impl Into<String>) -> Failure {
        Failure {
            hint: Some(hint.into()),
            ..self
        }
    }

    /// The exit status.
    pub fn status(&self) -> u8 {
        self.status
    }

    /// What went wrong and why, in one line: the error and its causes,
    /// joined by `: `, leaving out a cause its context already ends with
    /// (a context that quotes its cause, as `LoadError::Read` does).
    pub fn message(&self) -> String {
        if let Some(message) = known_message(&self.error) {
            return message;
        }
        let mut text = String::new();
        for cause in self.error.chain() {
            let cause = one_line(&cause.to_string());
            if cause.is_empty() || text.ends_with(&cause) {
                continue;
            }
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
        text
    }

    /// What to do about it, if there is something useful to say.
    pub fn hint(&self) -> Option<String> {
        self.hint.clone().or_else(|| known_hint(&self.error))
    }

    /// `procbox: error: MESSAGE`, and `  hint: HINT` on a second line.
    pub fn render(&self) -> String {
        let mut text = format!("procbox: error: {}\n", self.message());
        if let Some(hint) = self.hint() {
            let _ = writeln!(text, "  hint: {}", one_line(&hint));
        }
        text
    }

    /// A command line clap rejected, in the same form: clap's message on
    /// one line, its tip (or the usage, or where to find it) as the hint.
    /// `command` is the command line that was meant, e.g. `procbox run`.
    pub fn from_clap(error: &clap::Error, command: &str) -> Failure {
        let text = error.render().to_string();
        let mut lines = text.lines();
        let first = lines.next().unwrap_or_default();
        let mut message = first.strip_prefix("error: ").unwrap_or(first).trim().to_string();
        let mut tip = None;
        let mut usage = None;
        for line in lines {
            if let Some(rest) = line.trim_start().strip_prefix("tip: ") {
                tip.get_or_insert_with(|| rest.trim().to_string());
            } else if let Some(rest) = line.strip_prefix("Usage: ") {
                usage = Some(rest.trim().to_string());
            } else if line.starts_with(char::is_whitespace) && tip.is_none() && usage.is_none() {
                // The arguments a "not provided" message lists.
                let item = line.trim();
                if !item.is_empty() {
                    message.push_str(if message.ends_with(':') { " " } else { ", " });
                    message.push_str(item);
                }
            }
        }
        let hint = tip.unwrap_or_else(|| match usage {
            Some(usage) => format!("usage: {usage}; see `{command} --help`"),
            None => format!("see `{command} --help`"),
        });
        Failure::usage_msg(message).with_hint(hint)
    }
}

/// `text` with its line breaks and indentation folded into single spaces.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Errors whose own message carries advice the hint line gives better.
fn known_message(error: &anyhow::Error) -> Option<String> {
    match error.downcast_ref::<LoadError>()? {
        LoadError::CoreModule { name } => Some(format!("{name} is a core WebAssembly module, not a component")),
        _ => None,
    }
}

/// The hint for an error of the library's that has one.
fn known_hint(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        if let Some(error) = cause.downcast_ref::<LoadError>() {
            Some(load_hint(error))
        } else if let Some(error) = cause.downcast_ref::<RunError>() {
            run_hint(error)
        } else {
            cause.downcast_ref::<PolicyError>().map(policy_hint)
        }
    })
}

fn load_hint(error: &LoadError) -> String {
    match error {
        LoadError::Read { name, source } => match source.kind() {
            std::io::ErrorKind::NotFound if name.starts_with("https://") || name.starts_with("http://") => {
                "procbox runs local files; download it first (curl -LO URL), read what it asks for (procbox inspect FILE), and run the file".into()
            }
            std::io::ErrorKind::NotFound => {
                "check the path; a Rust plugin is built into target/wasm32-wasip2/release/NAME.wasm".into()
            }
            std::io::ErrorKind::PermissionDenied => "check the file's permissions".into(),
            _ => "give the path of the plugin's .wasm file".into(),
        },
        LoadError::NotWasm { .. } => {
            "give the .wasm file the plugin's build produced (cargo build --release --target wasm32-wasip2)".into()
        }
        LoadError::CoreModule { .. } => {
            "build for wasm32-wasip2 (cargo build --target wasm32-wasip2) or run `wasm-tools component new`".into()
        }
        LoadError::Invalid { .. } => "the file is damaged or truncated: build the plugin again".into(),
        LoadError::WrongWorld { name, .. } => {
            format!("the plugin must target procbox:host/plugin; see `procbox inspect {name}`")
        }
        _ => "check that the file is the plugin's .wasm".into(),
    }
}

fn run_hint(error: &RunError) -> Option<String> {
    match error {
        RunError::Instantiate { .. } => None,
        RunError::Trap { .. } => Some(
            "a bug in the plugin (its panic message, if any, is printed above); `procbox -v run …` shows the WebAssembly backtrace"
                .into(),
        ),
        RunError::OutOfTime { .. } => Some("raise --max-plugin-time if the plugin needs longer".into()),
        RunError::Aborted { .. } => Some(
            "check the program behind PROCBOX_PERMISSION_BROKER (docs/reference.md, \"The permission broker\"), or unset it".into(),
        ),
        RunError::OutOfMemory { cap, .. } => Some(format!(
            "raise --max-plugin-memory if the plugin needs more (e.g. --max-plugin-memory {}MiB)",
            (cap >> 20).max(1) * 2
        )),
        _ => None,
    }
}

fn policy_hint(error: &PolicyError) -> String {
    match error {
        PolicyError::Unresolved { program, .. } if program.contains('/') => {
            format!("is there an executable file at {program}? a path in a rule is relative to where procbox starts")
        }
        PolicyError::Unresolved { program, .. } => {
            format!("is {program} installed and on PATH? use an absolute path")
        }
        PolicyError::Rule { message, .. } if message.starts_with("env rule") => {
            "an env rule is NAME, NAME=GLOB or a name glob, e.g. --allow-env HOME --allow-env 'LANG=C*' --allow-env 'LC_*=*'"
                .into()
        }
        PolicyError::Rule { message, .. } if message.contains("can only deny") => {
            "deny a flag anywhere with --deny-run 'git log ** --output'; in an allow rule `**` comes last ('git log **')".into()
        }
        PolicyError::Rule { message, .. } if message.contains("`**`") => {
            "put `**` last ('git log **'), or grant the program alone to allow any arguments".into()
        }
        PolicyError::Rule { message, .. } if message.contains("glob") => {
            "quote the rule in single quotes; globs use *, ? and [...], and [[] or [*] match a literal [ or *".into()
        }
        PolicyError::Rule { .. } => {
            "a rule is 'PROGRAM [PATTERN...]' as one word, e.g. --allow-run 'git log **'; see `procbox run --help`".into()
        }
        PolicyError::Dir { .. } => "grant a directory that exists (--dir, --allow-read, --allow-write, `dir`)".into(),
        PolicyError::Document(_) => "see docs/reference.md, section \"The grants file\"".into(),
        _ => "see `procbox run --help`".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_the_context_quotes_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let err = anyhow::Error::new(LoadError::Read {
            name: "x.wasm".into(),
            source: io,
        });
        let failure = Failure::from(err);
        assert_eq!(failure.message(), "cannot read plugin x.wasm: No such file");
        assert!(failure.hint().unwrap().contains("check the path"));
        assert_eq!(failure.status(), EXIT_PROCBOX_FAILED);
    }

    #[test]
    fn context_and_cause_are_joined_on_one_line() {
        let err = anyhow::anyhow!("disk full\nsecond line").context("cannot write x");
        let failure = Failure::usage(err).with_hint("free\nsome space");
        assert_eq!(
            failure.render(),
            "procbox: error: cannot write x: disk full second line\n  hint: free some space\n"
        );
        assert_eq!(failure.status(), EXIT_USAGE);
    }

    #[test]
    fn out_of_time_has_its_own_status() {
        let err = RunError::OutOfTime {
            name: "p".into(),
            budget: std::time::Duration::from_secs(1),
        };
        let failure = Failure::from(err);
        assert_eq!(failure.status(), EXIT_OUT_OF_TIME);
        assert!(failure.hint().unwrap().contains("--max-plugin-time"));
    }
}
