//! `procbox:host/process`: the `spawn` function.

use wasmtime::component::Resource;

use crate::bindings::process::{self, Command, Stdio};
use crate::child::Child;
use crate::ctx::ProcessView;
use crate::error::SpawnError;
use crate::gate::SpawnRequest;
use crate::supervisor::{self, StdioMode, StdioPlan, Timeout};

use super::child::signal_number;

impl process::Host for ProcessView<'_> {
    async fn spawn(&mut self, command: Command) -> wasmtime::Result<Result<Resource<Child>, process::Error>> {
        let child = match start(self, command) {
            Ok(child) => child,
            Err(err) => return Ok(Err(err.into())),
        };
        Ok(Ok(self.table.push(child)?))
    }
}

/// Gate, then supervisor: the only way a plugin starts a process.
fn start(view: &ProcessView<'_>, command: Command) -> Result<Child, SpawnError> {
    let stdio = StdioPlan {
        stdin: stdio_mode(command.stdin),
        stdout: stdio_mode(command.stdout),
        stderr: stdio_mode(command.stderr),
    };
    let timeout = command.timeout.map(|t| Timeout {
        after: std::time::Duration::from_nanos(t.after),
        signal: signal_number(t.signal),
        grace: std::time::Duration::from_nanos(t.grace),
    });
    let request = SpawnRequest {
        program: command.program,
        args: command.args,
        env: command.env,
        cwd: command.cwd,
    };
    let permit = view.ctx.gate.check(&request)?;
    let (process, pipes) = supervisor::spawn(&permit, stdio, timeout)?;
    view.ctx.exits.register(process.waiter());
    Ok(Child::new(process, pipes))
}

fn stdio_mode(stdio: Stdio) -> StdioMode {
    match stdio {
        Stdio::Piped => StdioMode::Piped,
        Stdio::Null => StdioMode::Null,
    }
}
