//! Pipelines: `a | b | c` as a value, run under the host's policy.
//!
//! Each stage is checked by the policy like any command. Stage *k*'s stdout
//! is connected to stage *k+1*'s stdin by an OS pipe in the host: the bytes
//! never pass through the plugin. The last stage's stdout, and every
//! stage's stderr (unless a stage says otherwise), are read by the plugin
//! concurrently.
//!
//! **Status rule (pipefail):** the pipeline succeeds only if every stage
//! succeeds; when several fail, the error reports the *rightmost* failing
//! stage, as `set -o pipefail` does. [`Pipeline::unchecked`] returns every
//! status instead.

use std::fmt;

use crate::bindings::procbox::host::process as wit;
use crate::command::{Command, Stdio};
use crate::error::Error;
use crate::pump;
use crate::status::{ExitStatus, Output};

/// Commands whose stdout feeds the next one's stdin.
///
/// Build one with [`Command::pipe`]. Its [`Display`](fmt::Display) is the
/// stages' command lines (as [`Command`] displays them) joined by ` | `.
#[derive(Debug, Clone)]
pub struct Pipeline {
    stages: Vec<Command>,
    checked: bool,
}

/// What a finished pipeline produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineOutput {
    /// Every stage's status, in order.
    pub statuses: Vec<ExitStatus>,
    /// The last stage's stdout.
    pub stdout: Vec<u8>,
    /// Every stage's stderr, in order (empty where it was not piped).
    pub stderr: Vec<Vec<u8>>,
}

impl PipelineOutput {
    /// The last stage's stdout as text (invalid UTF-8 replaced).
    pub fn stdout_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl Pipeline {
    /// A pipeline of one stage.
    pub fn new(first: Command) -> Pipeline {
        let checked = first.is_checked();
        Pipeline {
            stages: vec![first],
            checked,
        }
    }

    /// Adds a stage.
    pub fn pipe(mut self, next: &Command) -> Pipeline {
        self.checked &= next.is_checked();
        self.stages.push(next.clone());
        self
    }

    /// Returns failures as statuses instead of an error.
    pub fn unchecked(mut self) -> Pipeline {
        self.checked = false;
        self
    }

    /// Runs every stage to the end; returns the last stdout and each stderr.
    ///
    /// # Errors
    /// The first stage the policy refuses (earlier stages are then killed);
    /// [`Error::Io`] if a stream fails; and [`Error::Failed`] naming the
    /// rightmost failing stage, unless [`unchecked`](Self::unchecked).
    pub fn output(&self) -> Result<PipelineOutput, Error> {
        let mut handles: Vec<wit::Child> = Vec::with_capacity(self.stages.len());
        for stage in &self.stages {
            let stdin = match handles.last() {
                Some(upstream) => wit::Stdio::ChildStdout(upstream),
                None => wit::Stdio::Null,
            };
            let command = stage.to_wit(stdin, Stdio::Piped, Stdio::Piped);
            handles.push(wit::spawn(&command)?);
        }
        // Take the streams the plugin reads: the last stdout, every stderr.
        let last = handles.last().expect("a pipeline has a stage");
        let stdout = last.take_stdout();
        let stderrs: Vec<_> = handles.iter().map(|h| h.take_stderr()).collect();
        let mut streams = vec![stdout.as_ref()];
        streams.extend(stderrs.iter().map(Option::as_ref));
        let mut read = pump::communicate(None, &[], &streams)?;
        drop(streams);
        drop((stdout, stderrs));
        let stdout = read.remove(0);
        let statuses = handles
            .into_iter()
            .map(|h| h.wait().map(ExitStatus::from).map_err(Error::from))
            .collect::<Result<Vec<_>, _>>()?;
        let output = PipelineOutput {
            statuses,
            stdout,
            stderr: read,
        };
        self.check(output)
    }

    fn check(&self, output: PipelineOutput) -> Result<PipelineOutput, Error> {
        let rightmost_failure = output.statuses.iter().rposition(|s| !s.success());
        match rightmost_failure {
            Some(i) if self.checked => {
                let stage = Output {
                    status: output.statuses[i],
                    stdout: Vec::new(),
                    stderr: output.stderr[i].clone(),
                };
                // A checked pipeline has only checked stages: the stage's own
                // check builds the error with its command line and stderr tail.
                self.stages[i].check(stage).map(|_| output)
            }
            _ => Ok(output),
        }
    }
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, stage) in self.stages.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{stage}")?;
        }
        Ok(())
    }
}
