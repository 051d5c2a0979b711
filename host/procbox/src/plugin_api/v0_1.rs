//! `procbox:host/process@0.1.0`, served beside 0.2.0: each call converts
//! its arguments to 0.2.0's types, runs the 0.2.0 implementation, and
//! converts the result back. 0.2.0 only added `command.measure-tree` (off
//! here) and `exit-status.tree-usage` (dropped here), so nothing is lost.

use wasmtime::component::Resource;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable};

use crate::plugin_api::bindings::process as new;
use crate::plugin_api::bindings::v0_1::process as old;
use crate::plugin_api::child::Child;
use crate::plugin_api::ctx::ProcessCtxView;

impl old::Host for ProcessCtxView<'_> {
    async fn spawn(&mut self, command: old::Command) -> wasmtime::Result<Result<Resource<Child>, old::Error>> {
        let spawned = <Self as new::Host>::spawn(self, command.into()).await?;
        Ok(spawned.map_err(Into::into))
    }
}

impl old::HostChild for ProcessCtxView<'_> {
    async fn pid(&mut self, child: Resource<Child>) -> wasmtime::Result<u32> {
        <Self as new::HostChild>::pid(self, child).await
    }

    async fn take_stdin(&mut self, child: Resource<Child>) -> wasmtime::Result<Option<Resource<DynOutputStream>>> {
        <Self as new::HostChild>::take_stdin(self, child).await
    }

    async fn take_stdout(&mut self, child: Resource<Child>) -> wasmtime::Result<Option<Resource<DynInputStream>>> {
        <Self as new::HostChild>::take_stdout(self, child).await
    }

    async fn take_stderr(&mut self, child: Resource<Child>) -> wasmtime::Result<Option<Resource<DynInputStream>>> {
        <Self as new::HostChild>::take_stderr(self, child).await
    }

    async fn subscribe(&mut self, child: Resource<Child>) -> wasmtime::Result<Resource<DynPollable>> {
        <Self as new::HostChild>::subscribe(self, child).await
    }

    async fn wait(&mut self, child: Resource<Child>) -> wasmtime::Result<Result<old::ExitStatus, old::Error>> {
        let waited = <Self as new::HostChild>::wait(self, child).await?;
        Ok(waited.map(Into::into).map_err(Into::into))
    }

    async fn try_wait(
        &mut self,
        child: Resource<Child>,
    ) -> wasmtime::Result<Result<Option<old::ExitStatus>, old::Error>> {
        let waited = <Self as new::HostChild>::try_wait(self, child).await?;
        Ok(waited.map(|status| status.map(Into::into)).map_err(Into::into))
    }

    async fn send_signal(
        &mut self,
        child: Resource<Child>,
        signal: old::Signal,
    ) -> wasmtime::Result<Result<(), old::Error>> {
        let sent = <Self as new::HostChild>::send_signal(self, child, signal.into()).await?;
        Ok(sent.map_err(Into::into))
    }

    async fn kill(&mut self, child: Resource<Child>) -> wasmtime::Result<Result<(), old::Error>> {
        let killed = <Self as new::HostChild>::kill(self, child).await?;
        Ok(killed.map_err(Into::into))
    }

    async fn drop(&mut self, child: Resource<Child>) -> wasmtime::Result<()> {
        <Self as new::HostChild>::drop(self, child).await
    }
}

impl From<old::Command> for new::Command {
    fn from(command: old::Command) -> Self {
        new::Command {
            program: command.program,
            args: command.args,
            env: command.env,
            cwd: command.cwd,
            stdin: command.stdin.into(),
            stdout: command.stdout.into(),
            stderr: command.stderr.into(),
            timeout: command.timeout.map(|t| new::Timeout {
                after: t.after,
                signal: t.signal.into(),
                grace: t.grace,
            }),
            measure_tree: false,
        }
    }
}

impl From<old::Stdio> for new::Stdio {
    fn from(stdio: old::Stdio) -> Self {
        match stdio {
            old::Stdio::Piped => new::Stdio::Piped,
            old::Stdio::Null => new::Stdio::Null,
            old::Stdio::Inherit => new::Stdio::Inherit,
            old::Stdio::File(file) => new::Stdio::File(new::FileRedirect {
                path: file.path,
                append: file.append,
            }),
            old::Stdio::Stdout => new::Stdio::Stdout,
            old::Stdio::ChildStdout(child) => new::Stdio::ChildStdout(child),
        }
    }
}

impl From<old::Signal> for new::Signal {
    fn from(signal: old::Signal) -> Self {
        match signal {
            old::Signal::Hangup => new::Signal::Hangup,
            old::Signal::Interrupt => new::Signal::Interrupt,
            old::Signal::Quit => new::Signal::Quit,
            old::Signal::Kill => new::Signal::Kill,
            old::Signal::User1 => new::Signal::User1,
            old::Signal::User2 => new::Signal::User2,
            old::Signal::Terminate => new::Signal::Terminate,
            old::Signal::Stop => new::Signal::Stop,
            old::Signal::Continue => new::Signal::Continue,
        }
    }
}

impl From<new::ExitStatus> for old::ExitStatus {
    fn from(status: new::ExitStatus) -> Self {
        old::ExitStatus {
            termination: match status.termination {
                new::Termination::Exited(code) => old::Termination::Exited(code),
                new::Termination::Signalled(signal) => old::Termination::Signalled(signal),
            },
            duration: status.duration,
            timed_out: status.timed_out,
            output_truncated: status.output_truncated,
            usage: old::Usage {
                user_cpu: status.usage.user_cpu,
                system_cpu: status.usage.system_cpu,
                max_rss_bytes: status.usage.max_rss_bytes,
            },
        }
    }
}

impl From<new::Error> for old::Error {
    fn from(error: new::Error) -> Self {
        match error {
            new::Error::Denied(m) => old::Error::Denied(m),
            new::Error::NotFound(m) => old::Error::NotFound(m),
            new::Error::InvalidInput(m) => old::Error::InvalidInput(m),
            new::Error::LimitExceeded(m) => old::Error::LimitExceeded(m),
            new::Error::Io(m) => old::Error::Io(m),
        }
    }
}
