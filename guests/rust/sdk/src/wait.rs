//! Waiting on several things at once, through `wasi:io/poll`: any of
//! several children, or a child against a deadline. No busy loops: the
//! plugin sleeps in `poll` until the host has something.

use std::time::Duration;

use crate::bindings::wasi::clocks::monotonic_clock;
use crate::bindings::wasi::io::poll::poll;
use crate::child::Child;
use crate::error::Error;
use crate::status::ExitStatus;

/// Waits until one of `children` exits; returns its index and status.
/// Closes none of their stdins. The others keep running.
///
/// # Errors
/// [`Error::InvalidInput`] for an empty list; [`Error::Io`] if the host
/// cannot collect the status.
pub fn wait_any(children: &mut [&mut Child]) -> Result<(usize, ExitStatus), Error> {
    if children.is_empty() {
        return Err(Error::InvalidInput("wait_any needs at least one child".into()));
    }
    let ready = {
        let pollables: Vec<_> = children.iter().map(|c| c.handle().subscribe()).collect();
        let refs: Vec<_> = pollables.iter().collect();
        poll(&refs)[0] as usize
    };
    Ok((ready, children[ready].wait_raw()?))
}

impl Child {
    /// Waits at most `timeout` for the child to exit: `Some(status)` if it
    /// did, `None` if it still runs (it is left running).
    ///
    /// # Errors
    /// [`Error::Io`] if the host cannot collect the status.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, Error> {
        let exited = {
            let child = self.handle().subscribe();
            let timer = monotonic_clock::subscribe_duration(u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX));
            poll(&[&child, &timer]).contains(&0)
        };
        if exited {
            Ok(Some(self.wait_raw()?))
        } else {
            Ok(None)
        }
    }
}
