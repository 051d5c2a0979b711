//! Running a list of commands, one after another or several at once, and
//! getting their results back in the order given.
//!
//! - **Concurrency:** at most `n` commands run at once (1: sequential).
//! - **Fail-fast** (the default): after the first failure no new command
//!   starts and the running ones are killed; they report
//!   [`Error::Cancelled`]. **Keep-going** runs everything.
//! - Each command's stdout and stderr are captured, as by
//!   [`Command::output`], and a non-zero exit is an error unless the
//!   command is [`Command::unchecked`].
//! - Waiting is one `wasi:io/poll` over every running child's streams and
//!   exit: no busy loop.

use crate::bindings::process as wit;
use crate::bindings::wasi::io::poll::{poll, Pollable};
use crate::bindings::wasi::io::streams::InputStream;
use crate::command::{Command, Stdio};
use crate::error::Error;
use crate::pump::Drain;
use crate::status::{ExitStatus, Output};

/// A list of commands to run.
#[derive(Debug, Clone)]
pub struct Queue {
    commands: Vec<Command>,
    concurrency: usize,
    fail_fast: bool,
}

/// One command of the queue while it runs.
struct Running {
    index: usize,
    child: wit::Child,
    stdout: Option<InputStream>,
    stderr: Option<InputStream>,
    out: (bool, Vec<u8>),
    err: (bool, Vec<u8>),
}

impl Queue {
    /// A queue of `commands`, run one at a time, failing fast.
    pub fn new(commands: impl IntoIterator<Item = Command>) -> Queue {
        Queue {
            commands: commands.into_iter().collect(),
            concurrency: 1,
            fail_fast: true,
        }
    }

    /// Runs up to `n` commands at once (at least 1).
    pub fn parallel(mut self, n: usize) -> Queue {
        self.concurrency = n.max(1);
        self
    }

    /// Runs every command even after failures.
    pub fn keep_going(mut self) -> Queue {
        self.fail_fast = false;
        self
    }

    /// Runs the queue. Returns one result per command, in the order given.
    pub fn run(&self) -> Vec<Result<Output, Error>> {
        let mut results: Vec<Option<Result<Output, Error>>> = self.commands.iter().map(|_| None).collect();
        let mut running: Vec<Running> = Vec::new();
        let mut next = 0;
        let mut failed = false;
        loop {
            while running.len() < self.concurrency && next < self.commands.len() && !(failed && self.fail_fast) {
                match start(next, &self.commands[next]) {
                    Ok(run) => running.push(run),
                    Err(err) => {
                        failed = true;
                        results[next] = Some(Err(err));
                    }
                }
                next += 1;
            }
            if running.is_empty() {
                break;
            }
            if failed && self.fail_fast {
                for run in running.drain(..) {
                    let command = &self.commands[run.index];
                    results[run.index] = Some(Err(Error::Cancelled(format!(
                        "`{command}` was killed: an earlier command failed"
                    ))));
                }
                break;
            }
            if let Some(done) = step(&mut running) {
                let run = running.swap_remove(done);
                let index = run.index;
                let result = finish(run).and_then(|output| self.commands[index].check(output));
                failed |= result.is_err();
                results[index] = Some(result);
            }
        }
        results
            .into_iter()
            .zip(&self.commands)
            .map(|(result, command)| {
                result.unwrap_or_else(|| {
                    Err(Error::Cancelled(format!(
                        "`{command}` did not run: an earlier command failed"
                    )))
                })
            })
            .collect()
    }
}

fn start(index: usize, command: &Command) -> Result<Running, Error> {
    let child = wit::spawn(&command.to_wit(wit::Stdio::Null, Stdio::Piped, Stdio::Piped))?;
    let (stdout, stderr) = (child.take_stdout(), child.take_stderr());
    let out = (stdout.is_some(), Vec::new());
    let err = (stderr.is_some(), Vec::new());
    Ok(Running {
        index,
        child,
        stdout,
        stderr,
        out,
        err,
    })
}

/// Polls every running child once; returns one whose output has ended and
/// which has exited, if any.
fn step(running: &mut [Running]) -> Option<usize> {
    // What each pollable stands for: (running index, 0 stdout / 1 stderr / 2 exit).
    let mut targets = Vec::new();
    let mut pollables: Vec<Pollable> = Vec::new();
    for (i, run) in running.iter().enumerate() {
        for (which, (open, stream)) in [(run.out.0, &run.stdout), (run.err.0, &run.stderr)]
            .into_iter()
            .enumerate()
        {
            if let (true, Some(stream)) = (open, stream) {
                targets.push((i, which));
                pollables.push(stream.subscribe());
            }
        }
        if !run.out.0 && !run.err.0 {
            targets.push((i, 2));
            pollables.push(run.child.subscribe());
        }
    }
    let refs: Vec<&Pollable> = pollables.iter().collect();
    let ready = poll(&refs);
    drop(refs);
    drop(pollables);
    let mut exited = None;
    for index in ready {
        let (i, which) = targets[index as usize];
        let run = &mut running[i];
        match which {
            0 => pull(&run.stdout, &mut run.out),
            1 => pull(&run.stderr, &mut run.err),
            _ => exited = Some(i),
        }
    }
    exited
}

fn pull(stream: &Option<InputStream>, (open, bytes): &mut (bool, Vec<u8>)) {
    let mut drain = Drain::new(stream.as_ref());
    // A failed read ends the stream; the status still tells what happened.
    let _ = drain.pull();
    bytes.extend_from_slice(&drain.bytes);
    *open = drain.open;
}

fn finish(run: Running) -> Result<Output, Error> {
    drop((run.stdout, run.stderr));
    let status: ExitStatus = run.child.wait()?.into();
    Ok(Output {
        status,
        stdout: run.out.1,
        stderr: run.err.1,
    })
}
