//! `procbox:host/process`: the `spawn` function.

use std::time::Duration;

use wasmtime::component::Resource;

use crate::bindings::process::{self, Command, Stdio};
use crate::child::Child;
use crate::ctx::ProcessView;
use crate::error::SpawnError;
use crate::gate::SpawnRequest;
use crate::observe::ExitEvent;
use crate::stdio::OutputBudget;
use crate::supervisor::{self, StdioMode, StdioPlan, Timeout};

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
fn start(view: &ProcessView<'_>, command: Command) -> Result<Child, SpawnError> {
    let stdio = StdioPlan {
        stdin: stdio_mode(command.stdin),
        stdout: stdio_mode(command.stdout),
        stderr: stdio_mode(command.stderr),
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
    };
    let verdict = view.ctx.gate.check(&request);
    let mut permit = view.ctx.decide(&request, verdict)?;
    let timeout = Timeout::capped(requested_timeout, permit.max_runtime());
    let (process, pipes) = supervisor::spawn(&mut permit, stdio, timeout)?;
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

fn stdio_mode(stdio: Stdio) -> StdioMode {
    match stdio {
        Stdio::Piped => StdioMode::Piped,
        Stdio::Null => StdioMode::Null,
    }
}
