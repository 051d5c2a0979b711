//! `procbox:host/process`: the `spawn` function.

use std::os::fd::OwnedFd;
use std::time::Duration;

use wasmtime::component::Resource;

use crate::bindings::process::{self, Command, Stdio};
use crate::child::Child;
use crate::ctx::ProcessView;
use crate::error::SpawnError;
use crate::gate::SpawnRequest;
use crate::observe::ExitEvent;
use crate::redirect::{Redirect, Redirects};
use crate::stdio::OutputBudget;
use crate::supervisor::{self, Timeout};

use super::child::signal_number;

impl process::Host for ProcessView<'_> {
    async fn spawn(&mut self, command: Command) -> wasmtime::Result<Result<Resource<Child>, process::Error>> {
        let child = match start(self, command) {
            Ok(child) => child,
            Err(err) => return Ok(Err(err.into())),
        };
        match self.table.push(child) {
            Ok(handle) => Ok(Ok(handle)),
            // The child is dropped with the error, which kills it.
            Err(wasmtime::component::ResourceTableError::Full) => Ok(Err(SpawnError::LimitExceeded(format!(
                "the plugin holds {} handles, the most it may (--max-handles)",
                self.table.max_capacity()
            ))
            .into())),
            Err(e) => Err(e.into()),
        }
    }
}

/// Gate, hooks, then supervisor: the only way a plugin starts a process.
fn start(view: &mut ProcessView<'_>, command: Command) -> Result<Child, SpawnError> {
    let upstream_handle = match &command.stdin {
        Stdio::ChildStdout(handle) => Some(Resource::<Child>::new_borrow(handle.rep())),
        _ => None,
    };
    let stdio = Redirects {
        stdin: redirect(command.stdin),
        stdout: redirect(command.stdout),
        stderr: redirect(command.stderr),
    };
    let requested_timeout = command.timeout.map(|t| Timeout {
        after: Duration::from_nanos(t.after),
        signal: signal_number(t.signal),
        grace: Duration::from_nanos(t.grace),
    });
    let request = SpawnRequest {
        program: command.program,
        args: command.args,
        env: command.env,
        cwd: command.cwd,
        stdio,
    };
    let verdict = view.ctx.gate.check(&request);
    let mut permit = view.ctx.decide(&request, verdict)?;
    let timeout = Timeout::capped(requested_timeout, permit.max_runtime());
    // Only now, with the request allowed, take the upstream child's pipe.
    let upstream = match upstream_handle {
        None => None,
        Some(handle) => Some(take_upstream_stdout(view, handle)?),
    };
    let (process, pipes) = supervisor::spawn(&mut permit, upstream, timeout)?;
    let waiter = process.waiter();
    view.ctx.exits.register(waiter.clone());
    if !view.ctx.hooks.is_empty() {
        let hooks = view.ctx.hooks.clone();
        let (pid, program, args) = (process.id(), permit.program().to_path_buf(), permit.args().to_vec());
        tokio::spawn(async move {
            let status = waiter.status().await;
            let event = ExitEvent {
                pid,
                program: &program,
                args: &args,
                status: &status,
            };
            hooks.iter().for_each(|hook| hook.on_exit(&event));
        });
    }
    let budget = permit
        .max_output_bytes()
        .map(|bytes| OutputBudget::new(bytes, process.output_limiter()));
    Ok(Child::new(process, pipes, budget))
}

/// The upstream child's untaken stdout pipe, for `child-stdout`.
fn take_upstream_stdout(view: &mut ProcessView<'_>, handle: Resource<Child>) -> Result<OwnedFd, SpawnError> {
    let upstream = view.table.get_mut(&handle).map_err(|e| {
        SpawnError::InvalidInput(format!(
            "stdin: the child given as stdin is not a valid child handle ({e})"
        ))
    })?;
    upstream.stdout.take().ok_or_else(|| {
        SpawnError::InvalidInput(
            "stdin: the child given as stdin has no stdout pipe to pass on (spawn it with `stdout: piped` and do not take its stdout)".into(),
        )
    })
}

fn redirect(stdio: Stdio) -> Redirect {
    match stdio {
        Stdio::Piped => Redirect::Piped,
        Stdio::Null => Redirect::Null,
        Stdio::Inherit => Redirect::Inherit,
        Stdio::File(file) => Redirect::File {
            path: file.path,
            append: file.append,
        },
        Stdio::Stdout => Redirect::Stdout,
        Stdio::ChildStdout(_) => Redirect::ChildStdout,
    }
}
