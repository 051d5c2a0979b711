//! `procbox:host/process`: the `spawn` function. Converts the WIT request,
//! calls the [`crate::Spawner`], converts the result.

use std::os::fd::OwnedFd;
use std::time::Duration;

use wasmtime::component::{Resource, ResourceTable};

use crate::gate::SpawnRequest;
use crate::gate::{Exceeded, Invalid, Limit, SpawnError};
use crate::plugin_api::bindings::process::{self, Command, Stdio};
use crate::plugin_api::child::Child;
use crate::plugin_api::ctx::ProcessCtxView;
use crate::plugin_api::stdio::OutputBudget;
use crate::redirect::{Redirect, Redirects};
use crate::supervisor::Timeout;

use super::child::signal_number;

impl process::Host for ProcessCtxView<'_> {
    async fn spawn(&mut self, command: Command) -> wasmtime::Result<Result<Resource<Child>, process::Error>> {
        let upstream = match &command.stdin {
            Stdio::ChildStdout(handle) => Some(Resource::<Child>::new_borrow(handle.rep())),
            _ => None,
        };
        let timeout = command.timeout.map(|t| Timeout {
            after: Duration::from_nanos(t.after),
            signal: signal_number(t.signal),
            grace: Duration::from_nanos(t.grace),
        });
        let request = request(command);
        let table = &mut *self.table;
        let take_upstream = || upstream.map(|handle| take_upstream_stdout(table, handle)).transpose();
        let spawned = match self.ctx.spawner.spawn(request, timeout, take_upstream).await {
            Ok(spawned) => spawned,
            // The run ends: the plugin must not go on without an answer.
            Err(aborted @ SpawnError::Aborted { .. }) => {
                return Err(wasmtime::Error::new(super::Aborted(aborted.detail())))
            }
            Err(err) => return Ok(Err(wit_error(&err, self.ctx.spawner.fix_style()))),
        };
        let budget = spawned
            .max_output_bytes
            .map(|bytes| OutputBudget::new(bytes, spawned.process.output_limiter()));
        match self.table.push(Child::new(spawned.process, spawned.pipes, budget)) {
            Ok(handle) => Ok(Ok(handle)),
            // The child is dropped with the error, which kills it.
            Err(wasmtime::component::ResourceTableError::Full) => {
                let max = self.table.max_capacity();
                Ok(Err(SpawnError::from(Exceeded::plain(Limit::Handles { max })).into()))
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn request(command: Command) -> SpawnRequest {
    SpawnRequest {
        stdio: Redirects {
            stdin: redirect(command.stdin),
            stdout: redirect(command.stdout),
            stderr: redirect(command.stderr),
        },
        program: command.program,
        args: command.args,
        env: command.env,
        cwd: command.cwd,
        measure_tree: command.measure_tree,
    }
}

/// The upstream child's untaken stdout pipe, for `child-stdout`.
fn take_upstream_stdout(table: &mut ResourceTable, handle: Resource<Child>) -> Result<OwnedFd, SpawnError> {
    let upstream = table
        .get_mut(&handle)
        .map_err(|e| Invalid::UpstreamHandle { reason: e.to_string() })?;
    upstream
        .stdout
        .take()
        .ok_or(SpawnError::InvalidInput(Invalid::UpstreamTaken))
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

impl From<SpawnError> for process::Error {
    fn from(err: SpawnError) -> Self {
        wit_error(&err, &crate::gate::fix::GrantsFile)
    }
}

/// `err` as the plugin gets it, a denial's fix written by `style`.
fn wit_error(err: &SpawnError, style: &dyn crate::gate::fix::FixStyle) -> process::Error {
    match err {
        SpawnError::Denied(denial) => process::Error::Denied(denial.render(style)),
        SpawnError::NotFound(_) => process::Error::NotFound(err.detail()),
        SpawnError::InvalidInput(_) => process::Error::InvalidInput(err.detail()),
        SpawnError::LimitExceeded(_) => process::Error::LimitExceeded(err.detail()),
        SpawnError::Io { .. } | SpawnError::Launcher { .. } | SpawnError::StatusLost(_) => {
            process::Error::Io(err.detail())
        }
        SpawnError::Aborted { .. } => process::Error::Denied(err.detail()),
    }
}
