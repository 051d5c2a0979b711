//! `procbox:host/process.child`: one running or finished child, as the
//! plugin sees it: a supervised process plus the pipe ends the plugin has
//! not taken yet, and the host functions of the resource.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Resource;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, Pollable};

use super::stdio::{self, OutputBudget};
use crate::exit::{ExitStatus, Termination};
use crate::gate::SpawnError;
use crate::plugin_api::bindings::process::{self, Signal};
use crate::plugin_api::ctx::ProcessCtxView;
use crate::supervisor::{Pipes, Process};

/// A child process as the plugin sees it.
///
/// Its stdio streams, once taken, are independent resources: dropping the
/// child kills its process group, after which those streams read to
/// end-of-file and writes fail, as with `std::process`.
#[derive(Debug)]
pub struct Child {
    pub(crate) process: Process,
    pub(crate) stdin: Option<OwnedFd>,
    pub(crate) stdout: Option<OwnedFd>,
    pub(crate) stderr: Option<OwnedFd>,
    /// The output cap shared by stdout and stderr, if the policy sets one.
    pub(crate) output_budget: Option<Arc<OutputBudget>>,
}

impl Child {
    /// Wraps a freshly spawned process, its pipes and its output cap.
    pub fn new(process: Process, pipes: Pipes, output_budget: Option<Arc<OutputBudget>>) -> Child {
        Child {
            process,
            stdin: pipes.stdin,
            stdout: pipes.stdout,
            stderr: pipes.stderr,
            output_budget,
        }
    }

    /// The supervised process.
    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Child {
    async fn ready(&mut self) {
        // An error still means the child is gone; `wait` reports it.
        let _ = self.process.wait().await;
    }
}

/// How long dropping a child waits for the kernel to finish a SIGKILLed
/// process before leaving the reap to the background watcher.
const DROP_REAP_BOUND: Duration = Duration::from_secs(2);

impl process::HostChild for ProcessCtxView<'_> {
    async fn pid(&mut self, child: Resource<Child>) -> wasmtime::Result<u32> {
        Ok(self.table.get_mut(&child)?.process().id())
    }

    async fn take_stdin(&mut self, child: Resource<Child>) -> wasmtime::Result<Option<Resource<DynOutputStream>>> {
        let Some(pipe) = self.table.get_mut(&child)?.stdin.take() else {
            return Ok(None);
        };
        Ok(Some(self.table.push(stdio::writer(pipe)?)?))
    }

    async fn take_stdout(&mut self, child: Resource<Child>) -> wasmtime::Result<Option<Resource<DynInputStream>>> {
        self.take_reader(child, |c| &mut c.stdout)
    }

    async fn take_stderr(&mut self, child: Resource<Child>) -> wasmtime::Result<Option<Resource<DynInputStream>>> {
        self.take_reader(child, |c| &mut c.stderr)
    }

    async fn subscribe(&mut self, child: Resource<Child>) -> wasmtime::Result<Resource<DynPollable>> {
        wasmtime_wasi::p2::subscribe(self.table, child)
    }

    async fn wait(&mut self, child: Resource<Child>) -> wasmtime::Result<Result<process::ExitStatus, process::Error>> {
        let child = self.table.get_mut(&child)?;
        // Like std: close an untaken stdin so a child reading it can finish.
        child.stdin = None;
        Ok(child.process().wait().await.map(Into::into).map_err(Into::into))
    }

    async fn try_wait(
        &mut self,
        child: Resource<Child>,
    ) -> wasmtime::Result<Result<Option<process::ExitStatus>, process::Error>> {
        let status = self.table.get_mut(&child)?.process().try_wait().transpose();
        Ok(status.map(|s| s.map(Into::into)).map_err(Into::into))
    }

    async fn send_signal(
        &mut self,
        child: Resource<Child>,
        signal: Signal,
    ) -> wasmtime::Result<Result<(), process::Error>> {
        let result = self.table.get_mut(&child)?.process().signal(signal_number(signal));
        Ok(result.map_err(SpawnError::into))
    }

    async fn signal_group(
        &mut self,
        child: Resource<Child>,
        signal: Signal,
    ) -> wasmtime::Result<Result<(), process::Error>> {
        let result = self
            .table
            .get_mut(&child)?
            .process()
            .signal_group(signal_number(signal));
        Ok(result.map_err(SpawnError::into))
    }

    async fn kill(&mut self, child: Resource<Child>) -> wasmtime::Result<Result<(), process::Error>> {
        Ok(self.table.get_mut(&child)?.process().kill().map_err(SpawnError::into))
    }

    async fn drop(&mut self, child: Resource<Child>) -> wasmtime::Result<()> {
        let mut child = self.table.delete(child)?;
        // Reap before returning, so that once `drop` returns the plugin can
        // rely on the child being gone.
        child.process().kill_and_reap(DROP_REAP_BOUND).await;
        Ok(())
    }
}

impl ProcessCtxView<'_> {
    /// Wraps the untaken pipe that `pick` selects as a capped `wasi:io`
    /// input stream, or `None` if it is not there.
    fn take_reader(
        &mut self,
        child: Resource<Child>,
        pick: impl FnOnce(&mut Child) -> &mut Option<std::os::fd::OwnedFd>,
    ) -> wasmtime::Result<Option<Resource<DynInputStream>>> {
        let child = self.table.get_mut(&child)?;
        let Some(pipe) = pick(child).take() else {
            return Ok(None);
        };
        let stream = stdio::reader(pipe, child.process().waiter(), child.output_budget.clone())?;
        Ok(Some(self.table.push(stream)?))
    }
}

/// The OS signal number for a WIT signal.
pub(crate) fn signal_number(signal: Signal) -> i32 {
    match signal {
        Signal::Hangup => libc::SIGHUP,
        Signal::Interrupt => libc::SIGINT,
        Signal::Quit => libc::SIGQUIT,
        Signal::Kill => libc::SIGKILL,
        Signal::User1 => libc::SIGUSR1,
        Signal::User2 => libc::SIGUSR2,
        Signal::Terminate => libc::SIGTERM,
        Signal::Stop => libc::SIGSTOP,
        Signal::Continue => libc::SIGCONT,
    }
}

impl From<ExitStatus> for process::ExitStatus {
    fn from(status: ExitStatus) -> Self {
        process::ExitStatus {
            termination: match status.termination {
                Termination::Exited(code) => process::Termination::Exited(code),
                Termination::Signalled(signal) => process::Termination::Signalled(signal),
            },
            duration: nanos(status.duration),
            timed_out: status.timed_out,
            output_truncated: status.output_truncated,
            usage: process::Usage {
                user_cpu: nanos(status.usage.user_cpu),
                system_cpu: nanos(status.usage.system_cpu),
                max_rss_bytes: status.usage.max_rss_bytes,
            },
            tree_usage: status.tree_usage.map(|tree| process::TreeUsage {
                user_cpu: nanos(tree.user_cpu),
                system_cpu: nanos(tree.system_cpu),
                peak_memory_bytes: tree.peak_memory_bytes,
            }),
        }
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
