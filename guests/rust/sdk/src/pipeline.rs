//! Pipelines: `a | b | c` as a value, run under the host's policy.
//!
//! Each stage is checked by the policy like any command. Stage *k*'s stdout
//! is connected to stage *k+1*'s stdin by an OS pipe in the host: the bytes
//! never pass through the plugin. The last stage's stdout, and every
//! stage's stderr (unless a stage says otherwise), are read by the plugin
//! concurrently.
//!
//! Whether a pipeline failed is decided by one rule, documented on
//! [`Pipeline`] and implemented by [`reported_stage`].

use std::fmt;

use crate::bindings::process as wit;
use crate::command::{Command, Stdio};
use crate::error::Error;
use crate::pump;
use crate::status::{ExitStatus, SIGPIPE};

/// Commands whose stdout feeds the next one's stdin.
///
/// Build one with [`Command::pipe`]. Its [`Display`](fmt::Display) is the
/// stages' command lines (as [`Command`] displays them) joined by ` | `.
///
/// # When a pipeline fails
///
/// One rule, the pipeline rule of `wit/process.wit`, decided once every
/// stage has exited:
///
/// - **A stage fails** when it did not succeed by [`ExitStatus::success`]
///   (exit code 0, no timeout, no truncated output), **except** that a
///   stage killed by SIGPIPE after a later stage exited is not a failure:
///   the stage reading its output went away, which is how
///   `du | sort -rn | head` ends, and what the shell without `pipefail`
///   reports. Only the next stage reads a stage's stdout, so every stage
///   but the last has a later stage to blame; the last stage's stdout is
///   read by the plugin to the end, so a SIGPIPE there is a failure.
/// - **pipefail:** when several stages fail, the error reports the
///   *rightmost* failing stage, with its command line and the tail of its
///   stderr.
/// - **Unchecked stages** ([`Command::unchecked`]) never fail the pipeline,
///   and never hide a checked stage's failure: the reported stage is the
///   rightmost failing *checked* stage (duct's rule).
///   [`Pipeline::unchecked`] makes every stage unchecked and returns every
///   status; [`PipelineOutput::failed_stage`] applies the rule to them.
///
/// ```no_run
/// # use procbox_sdk::Command;
/// # fn main() -> Result<(), procbox_sdk::Error> {
/// // Succeeds although `sort` is killed by SIGPIPE when `head` stops reading.
/// let top = Command::new("du").args(["-a", "."])
///     .pipe(Command::new("sort").arg("-rn"))
///     .pipe(Command::new("head").args(["-n", "3"]))
///     .output()?;
/// // `grep` finding nothing (exit 1) is expected; a failing `git log` is
/// // still reported.
/// let fixes = Command::new("git").args(["log", "--oneline"])
///     .pipe(Command::new("grep").arg("fix").unchecked())
///     .output()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Pipeline {
    stages: Vec<Command>,
    /// False after [`Pipeline::unchecked`]: no stage is checked.
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

    /// The index of the stage the pipeline rule reports, counting every
    /// stage as checked: the rightmost stage that failed, where a stage
    /// before the last killed by SIGPIPE is not a failure (see
    /// [`Pipeline`]). `None` if the pipeline succeeded. Useful after
    /// [`Pipeline::unchecked`].
    pub fn failed_stage(&self) -> Option<usize> {
        reported_stage(&self.statuses, &vec![true; self.statuses.len()])
    }
}

impl Pipeline {
    /// A pipeline of one stage.
    pub fn new(first: Command) -> Pipeline {
        Pipeline {
            stages: vec![first],
            checked: true,
        }
    }

    /// Adds a stage. A stage made [`Command::unchecked`] stays unchecked in
    /// the pipeline: its failure is ignored, the other stages' is not.
    pub fn pipe(mut self, next: &Command) -> Pipeline {
        self.stages.push(next.clone());
        self
    }

    /// Makes every stage unchecked: [`output`](Self::output) returns every
    /// status instead of an error ([`PipelineOutput::failed_stage`] still
    /// tells which stage the rule would report).
    pub fn unchecked(mut self) -> Pipeline {
        self.checked = false;
        self
    }

    /// Runs every stage to the end; returns the last stdout and each stderr.
    ///
    /// # Errors
    /// The first stage the policy refuses (earlier stages are then killed);
    /// [`Error::Io`] if a stream fails; and [`Error::Failed`] naming the
    /// stage that the pipeline rule reports (the rightmost failing checked
    /// stage; see [`Pipeline`]).
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
        let checked: Vec<bool> = self.stages.iter().map(|s| self.checked && s.is_checked()).collect();
        match reported_stage(&output.statuses, &checked) {
            Some(i) => Err(self.stages[i].failure(output.statuses[i], &output.stderr[i])),
            None => Ok(output),
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

/// The pipeline rule, over the statuses of stages that have all exited and
/// whether each is checked: the index of the stage to report, or `None`
/// when the pipeline succeeded.
pub(crate) fn reported_stage(statuses: &[ExitStatus], checked: &[bool]) -> Option<usize> {
    debug_assert_eq!(statuses.len(), checked.len());
    (0..statuses.len()).rev().find(|&i| checked[i] && failed(statuses, i))
}

/// Whether stage `i` failed, under the pipeline rule.
///
/// SIGPIPE is excused for every stage but the last, without comparing exit
/// times: a stage's stdout goes only to the next stage, so only that
/// stage's end can close the pipe, and by the time the rule is applied
/// every later stage has exited. (The durations in the statuses are each
/// measured from the stage's own spawn, and two exits microseconds apart
/// may be reaped in either order, so a clock comparison would only add
/// noise.)
fn failed(statuses: &[ExitStatus], i: usize) -> bool {
    let status = &statuses[i];
    let has_later_stage = i + 1 < statuses.len();
    let broken_pipe = status.signal() == Some(SIGPIPE) && !status.timed_out && !status.output_truncated;
    let excused = broken_pipe && has_later_stage;
    !(status.success() || excused)
}

#[cfg(test)]
mod tests {
    use super::reported_stage;
    use crate::status::{ExitStatus, SIGPIPE};

    fn exit(code: i32) -> ExitStatus {
        ExitStatus::exited(code)
    }
    fn killed(signal: i32) -> ExitStatus {
        ExitStatus::signalled(signal)
    }
    fn timed_out(mut status: ExitStatus) -> ExitStatus {
        status.timed_out = true;
        status
    }
    fn truncated(mut status: ExitStatus) -> ExitStatus {
        status.output_truncated = true;
        status
    }

    /// A checked stage (`C`) or an unchecked one (`U`).
    const C: bool = true;
    const U: bool = false;

    /// A row: what it shows, each stage's status and whether it is checked,
    /// and the stage the rule reports.
    type Case = (&'static str, Vec<(ExitStatus, bool)>, Option<usize>);

    /// The pipeline rule as a table: each row is the stages' statuses and
    /// whether each is checked, and the stage the rule reports.
    #[test]
    fn the_pipeline_rule() {
        let pipe = killed(SIGPIPE);
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("every stage succeeded",
                vec![(exit(0), C), (exit(0), C), (exit(0), C)], None),
            ("one stage",
                vec![(exit(0), C)], None),
            ("one failing stage",
                vec![(exit(2), C)], Some(0)),
            ("pipefail: a failing first stage is reported although the last succeeded",
                vec![(exit(3), C), (exit(0), C)], Some(0)),
            ("pipefail: the rightmost of several failures",
                vec![(exit(3), C), (exit(4), C), (exit(0), C)], Some(1)),
            ("a failing checked middle stage",
                vec![(exit(0), C), (exit(5), C), (exit(0), C)], Some(1)),
            ("du | sort -rn | head: sort killed by SIGPIPE after head exited",
                vec![(exit(0), C), (pipe, C), (exit(0), C)], None),
            ("yes | head: SIGPIPE in the first stage",
                vec![(pipe, C), (exit(0), C)], None),
            ("SIGPIPE in two stages before the last",
                vec![(pipe, C), (pipe, C), (exit(0), C)], None),
            ("SIGPIPE in the last stage is a failure: no later stage closed its pipe",
                vec![(exit(0), C), (pipe, C)], Some(1)),
            ("a SIGPIPE stage does not hide an earlier failure",
                vec![(exit(1), C), (pipe, C), (exit(0), C)], Some(0)),
            ("the later stage's own failure is reported, not the SIGPIPE it caused",
                vec![(pipe, C), (exit(2), C)], Some(1)),
            ("another signal before the last stage is a failure",
                vec![(killed(9), C), (exit(0), C)], Some(0)),
            ("SIGPIPE with a timeout is a failure",
                vec![(timed_out(pipe), C), (exit(0), C)], Some(0)),
            ("SIGPIPE with truncated output is a failure",
                vec![(truncated(pipe), C), (exit(0), C)], Some(0)),
            ("exit 0 after a timeout is a failure",
                vec![(timed_out(exit(0)), C), (exit(0), C)], Some(0)),
            ("exit 0 with truncated output is a failure",
                vec![(exit(0), C), (truncated(exit(0)), C)], Some(1)),
            ("an unchecked failing stage is ignored",
                vec![(exit(0), C), (exit(1), U)], None),
            ("duct: a checked failure is reported though the last stage is unchecked",
                vec![(exit(0), C), (exit(5), C), (exit(1), U)], Some(1)),
            ("duct: a checked failure is reported though the first stage is unchecked",
                vec![(exit(1), U), (exit(6), C)], Some(1)),
            ("duct: the rightmost failing checked stage, skipping an unchecked one to its right",
                vec![(exit(3), C), (exit(4), U), (exit(0), C)], Some(0)),
            ("every stage unchecked",
                vec![(exit(3), U), (killed(9), U)], None),
        ];
        for (case, stages, expected) in cases {
            let (statuses, checked): (Vec<ExitStatus>, Vec<bool>) = stages.into_iter().unzip();
            assert_eq!(reported_stage(&statuses, &checked), expected, "{case}");
        }
    }
}
