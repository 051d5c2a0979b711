//! A request's reply, on the socket made for that request alone: read by
//! the spawn that asked ([`Awaiting`]), or, once that spawn is gone,
//! settled by the link as an orphan ([`Orphan`]), which kills and reaps
//! the child no one waits for. Either way each request is settled exactly
//! once ([`launched`]).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustix::event::{poll, PollFd, PollFlags};
use tokio::io::unix::AsyncFd;

use super::{gone, owned, wire, Link, Replied, Reply, Unanswered};

/// The reply socket of a spawn that was cancelled: its child, if the
/// launcher makes one, is no one's. One dropped before it was settled
/// settles as a request that made no child (its launch no longer counts
/// as in flight).
pub(super) struct Orphan {
    id: u64,
    pub(super) socket: OwnedFd,
    frames: wire::Frames,
    in_flight: Arc<AtomicUsize>,
    settled: bool,
}

/// A spawn's wait for its reply, on the socket made for it.
pub(super) struct Awaiting<'a> {
    link: &'a Link,
    id: u64,
    /// Taken once the reply (or the end) has been read; a spawn dropped
    /// before, or one that could not read its reply, leaves it to the
    /// link as an orphan.
    socket: Option<AsyncFd<OwnedFd>>,
    frames: wire::Frames,
}

impl<'a> Awaiting<'a> {
    /// Waits on `socket` for the reply to request `id` of `link`.
    pub(super) fn new(link: &'a Link, id: u64, socket: AsyncFd<OwnedFd>) -> Self {
        Awaiting {
            link,
            id,
            socket: Some(socket),
            frames: wire::Frames::default(),
        }
    }

    /// The reply, its child registered as owned; `Lost` (and the link
    /// closed) if the launcher went away without one, or its reply could
    /// not be read (the socket then goes to the link, which settles it).
    pub(super) async fn reply(&mut self) -> Result<Reply, Unanswered> {
        let read = self.read().await;
        let lost = |e: io::Error| {
            tracing::debug!("launcher {}: no reply: {e}", self.link.pid);
            self.link.close();
            Unanswered::Lost
        };
        match read {
            Ok(reply) => {
                self.socket = None;
                launched(&self.link.in_flight, child_of(&reply));
                Ok(reply)
            }
            Err(e) if is_end(&e) => {
                self.socket = None;
                launched(&self.link.in_flight, None);
                Err(lost(e))
            }
            // The launcher may yet make a child: the orphan's to kill.
            Err(e) => Err(lost(e)),
        }
    }

    async fn read(&mut self) -> io::Result<Reply> {
        let Some(socket) = &self.socket else {
            return Err(gone());
        };
        loop {
            if let Some(replied) = self.frames.next::<Replied>()? {
                return matching(self.id, replied);
            }
            let mut ready = socket.readable().await?;
            match self.frames.fill(socket.get_ref().as_fd()) {
                Ok(true) => {}
                Ok(false) => return Err(gone()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => ready.clear_ready(),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Awaiting<'_> {
    /// Runs where the spawn is dropped (or gave up on its reply): the
    /// reply still to come is the link's to settle.
    fn drop(&mut self) {
        if let Some(socket) = self.socket.take() {
            let orphan = Orphan {
                id: self.id,
                socket: socket.into_inner(),
                frames: std::mem::take(&mut self.frames),
                in_flight: self.link.in_flight.clone(),
                settled: false,
            };
            self.link.adopt(orphan);
        }
    }
}

impl Orphan {
    /// Reads what arrived; once the reply is whole (or the socket ended),
    /// kills and reaps its child (the namespace's init it names is
    /// recorded with `link`, when given) and returns `true`.
    pub(super) fn settle(&mut self, link: Option<&Link>) -> bool {
        let ended = loop {
            match self.frames.fill(self.socket.as_fd()) {
                Ok(true) => {}
                Ok(false) => break true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(_) => break true,
            }
        };
        let reply = match self.frames.next::<Replied>() {
            Ok(Some(replied)) => matching(self.id, replied).ok(),
            Ok(None) if !ended => return false,
            _ => None,
        };
        if let (Some(link), Some(Reply::Started { init: Some(init), .. })) = (link, &reply) {
            link.learn_init(*init);
        }
        let child = reply.as_ref().and_then(child_of);
        self.settled = true;
        launched(&self.in_flight, child);
        if let Some(pid) = child {
            owned::kill_and_forget(pid);
        }
        true
    }

    /// Waits, for at most [`ORPHAN_BOUND`], for the reply or the end.
    fn settle_waiting(&mut self) {
        let deadline = std::time::Instant::now() + ORPHAN_BOUND;
        while !self.settle(None) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                tracing::warn!("a launcher sent no reply within {} s", ORPHAN_BOUND.as_secs());
                return;
            }
            let left = rustix::event::Timespec {
                tv_sec: left.as_secs() as _,
                tv_nsec: left.subsec_nanos() as _,
            };
            let _ = poll(&mut [PollFd::new(&self.socket, PollFlags::IN)], Some(&left));
        }
    }
}

impl Drop for Orphan {
    fn drop(&mut self) {
        if !self.settled {
            launched(&self.in_flight, None);
        }
    }
}

/// How long an orphan settled off the link's thread waits for its reply:
/// the launcher answers every request it read, or dies (its end of the
/// socket then closes).
const ORPHAN_BOUND: Duration = Duration::from_secs(30);

/// Settles an orphan where the link's thread cannot (it has ended, or
/// cannot poll): on a thread of its own, which waits for the reply or the
/// end. Rare (a spawn cancelled on a link already closed), so a thread
/// each; without one, the orphan settles as having made no child.
pub(super) fn settle_later(orphan: Orphan) {
    let _ = std::thread::Builder::new()
        .name("procbox-orphan".into())
        .spawn(move || {
            let mut orphan = orphan;
            orphan.settle_waiting();
        });
}

/// A request is settled: it no longer counts as in flight, and `child`,
/// the child its reply names, is owned from now on.
pub(super) fn launched(in_flight: &AtomicUsize, child: Option<libc::pid_t>) {
    in_flight.fetch_sub(1, Ordering::SeqCst);
    owned::Owned::lock().launched(child);
}

/// Whether a reply socket's error says the launcher is gone (its end
/// closed), as opposed to a reply that could not be read.
fn is_end(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::BrokenPipe
}

/// The reply, if it answers request `id`.
fn matching(id: u64, replied: Replied) -> io::Result<Reply> {
    match replied.id == id {
        true => Ok(replied.reply),
        false => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the launcher answered request {} on request {id}'s socket", replied.id),
        )),
    }
}

/// The child a reply says the launcher made (and procbox must reap).
fn child_of(reply: &Reply) -> Option<libc::pid_t> {
    match reply {
        Reply::Started { pid, .. } => Some(*pid),
        Reply::Failed(wire::Failure::Child { pid, .. }) => *pid,
        Reply::Failed(_) | Reply::UnknownPlan => None,
    }
}

/// A request's reply socket pair: procbox's end (non-blocking, for the
/// spawn's runtime) and the launcher's.
pub(super) fn reply_sockets() -> io::Result<(OwnedFd, OwnedFd)> {
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    let (ours, theirs) = socketpair(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    rustix::io::ioctl_fionbio(&ours, true)?;
    Ok((ours, theirs))
}
