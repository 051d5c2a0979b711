//! The host side of the WIT `child` resource: a supervised process plus the
//! pipe ends the plugin has not taken yet.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use wasmtime_wasi::p2::Pollable;

use crate::stdio::OutputBudget;
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
